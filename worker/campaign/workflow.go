// Package campaign holds OTA_CAMPAIGN: it dispatches one OTA_UPDATE_DEVICE child run per
// device with bounded concurrency, and keeps its own history bounded.
package campaign

import (
	"fmt"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/client"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

const (
	activityTimeout = 5 * time.Minute
	// pageSize is how many device ids one list activity returns.
	pageSize = 500
	// childrenPerRun bounds one execution's history (about 8 events per child); after that
	// many children the run drains and continues as new.
	childrenPerRun = 1000
)

func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToStartTimeout: activityTimeout,
		StartToCloseTimeout:    activityTimeout,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			ExpirationInterval: 24 * time.Hour,
		},
	}
}

type tracker struct {
	in       otaflow.CampaignInput
	state    model.CampaignState
	inFlight int
}

func (t *tracker) snapshot() (otaflow.CampaignRunState, error) {
	return otaflow.CampaignRunState{CampaignID: t.in.CampaignID, State: t.state,
		Dispatched: t.in.Dispatched, Finished: t.in.Finished, InFlight: t.inFlight}, nil
}

// Workflow is OTA_CAMPAIGN.
func Workflow(ctx workflow.Context, in otaflow.CampaignInput) (otaflow.CampaignRunState, error) {
	t := &tracker{in: in, state: model.CampaignRunning}
	if err := workflow.SetQueryHandler(ctx, otaflow.QueryState, t.snapshot); err != nil {
		return otaflow.CampaignRunState{}, fmt.Errorf("register query: %w", err)
	}
	actx := workflow.WithActivityOptions(ctx, activityOptions())
	if in.Dispatched == 0 {
		if err := setState(actx, in, model.CampaignRunning, ""); err != nil {
			return otaflow.CampaignRunState{}, err
		}
	}
	done := workflow.NewChannel(ctx)
	var refused []string
	startedThisRun := 0
	for {
		var page []otaflow.CampaignDeviceRef
		req := otaflow.ListCampaignDevicesRequest{TenantID: in.TenantID, CampaignID: in.CampaignID,
			AfterSeq: t.in.AfterSeq, Limit: pageSize}
		if err := workflow.ExecuteActivity(actx, otaflow.ActivityListCampaignDevices, req).Get(ctx, &page); err != nil {
			return otaflow.CampaignRunState{}, fmt.Errorf("list campaign devices: %w", err)
		}
		for _, dev := range page {
			for t.inFlight >= in.MaxInFlight {
				refused = t.collect(ctx, done, refused)
			}
			t.dispatch(ctx, done, dev)
			t.in.AfterSeq = dev.Seq
			startedThisRun++
		}
		if len(page) < pageSize {
			break
		}
		if startedThisRun >= childrenPerRun {
			for t.inFlight > 0 {
				refused = t.collect(ctx, done, refused)
			}
			if err := markRefused(actx, in, refused); err != nil {
				return otaflow.CampaignRunState{}, err
			}
			return otaflow.CampaignRunState{}, workflow.NewContinueAsNewError(ctx, otaflow.CampaignWorkflow, t.in)
		}
	}
	for t.inFlight > 0 {
		refused = t.collect(ctx, done, refused)
	}
	if err := markRefused(actx, in, refused); err != nil {
		return otaflow.CampaignRunState{}, err
	}
	t.state = model.CampaignCompleted
	if err := setState(actx, in, model.CampaignCompleted, ""); err != nil {
		return otaflow.CampaignRunState{}, err
	}
	return t.snapshot()
}

type childDone struct {
	DeviceID string
	Refused  bool
}

// dispatch starts one device's child run; its completion is reported on done.
func (t *tracker) dispatch(ctx workflow.Context, done workflow.Channel, dev otaflow.CampaignDeviceRef) {
	in := t.in
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:                   otaflow.DeviceWorkflowID(dev.DeviceID),
		ExecutionStartToCloseTimeout: in.Policy.RunTimeout(),
		TaskStartToCloseTimeout:      time.Minute,
		WorkflowIDReusePolicy:        client.WorkflowIDReusePolicyAllowDuplicate,
		Memo:                         map[string]interface{}{otaflow.MemoCampaignID: in.CampaignID},
	})
	input := otaflow.UpdateDeviceInput{TenantID: in.TenantID, DeviceID: dev.DeviceID, CampaignID: in.CampaignID,
		Firmware: in.Firmware, Policy: in.Policy}
	fut := workflow.ExecuteChildWorkflow(cctx, otaflow.UpdateDeviceWorkflow, input)
	t.inFlight++
	t.in.Dispatched++
	workflow.Go(ctx, func(gctx workflow.Context) {
		err := fut.GetChildWorkflowExecution().Get(gctx, nil)
		// A start failure means Cadence refused the id: another update runs on the device.
		refused := err != nil
		if !refused {
			_ = fut.Get(gctx, nil) // the child records its own outcome
		}
		done.Send(gctx, childDone{DeviceID: dev.DeviceID, Refused: refused})
	})
}

func (t *tracker) collect(ctx workflow.Context, done workflow.Channel, refused []string) []string {
	var d childDone
	done.Receive(ctx, &d)
	t.inFlight--
	t.in.Finished++
	if d.Refused {
		refused = append(refused, d.DeviceID)
	}
	return refused
}

func markRefused(ctx workflow.Context, in otaflow.CampaignInput, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	req := otaflow.MarkCampaignDevicesRequest{TenantID: in.TenantID, CampaignID: in.CampaignID, DeviceIDs: ids,
		State: model.StateRejected, Reason: otaflow.ReasonUpdateInProgress}
	if err := workflow.ExecuteActivity(ctx, otaflow.ActivityMarkCampaignDevices, req).Get(ctx, nil); err != nil {
		return fmt.Errorf("mark refused devices: %w", err)
	}
	return nil
}

func setState(ctx workflow.Context, in otaflow.CampaignInput, s model.CampaignState, reason string) error {
	req := otaflow.SetCampaignStateRequest{TenantID: in.TenantID, CampaignID: in.CampaignID, State: s, Reason: reason}
	if err := workflow.ExecuteActivity(ctx, otaflow.ActivitySetCampaignState, req).Get(ctx, nil); err != nil {
		return fmt.Errorf("set campaign state %s: %w", s, err)
	}
	return nil
}
