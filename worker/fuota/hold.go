package fuota

import (
	"fmt"
	"time"

	"go.uber.org/cadence/client"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// Hold is OTA_DEVICE_HOLD: it runs under the device's update id for as long as its
// deployment runs and ends when the deployment closes (the deployment's close cancels
// it). Its state query points at the deployment, which knows the device's state.
func Hold(ctx workflow.Context, in otaflow.DeviceHoldInput) error {
	state := otaflow.DeviceRunState{DeviceID: in.DeviceID, CampaignID: in.CampaignID, State: model.StatePending,
		HeldBy: in.DeploymentWorkflowID}
	if err := workflow.SetQueryHandler(ctx, otaflow.QueryState, func() (otaflow.DeviceRunState, error) {
		return state, nil
	}); err != nil {
		return fmt.Errorf("register query: %w", err)
	}
	ctx.Done().Receive(ctx, nil)
	return nil
}

// holdDevices starts a hold for each device of a campaign deployment. A device whose
// update id is taken — a single update or another campaign's run — is left out with
// the reason; held[i] is false for it.
func (r *run) holdDevices(ctx workflow.Context) (held []bool) {
	held = make([]bool, len(r.in.Devices))
	futures := make([]workflow.ChildWorkflowFuture, len(r.in.Devices))
	for i, d := range r.in.Devices {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: otaflow.DeviceWorkflowID(d.DeviceID),
			// The deployment ends first: it started earlier under the same bound.
			ExecutionStartToCloseTimeout: r.in.Params.RunBound(),
			TaskStartToCloseTimeout:      20 * time.Second,
			WorkflowIDReusePolicy:        client.WorkflowIDReusePolicyAllowDuplicate,
			ParentClosePolicy:            client.ParentClosePolicyRequestCancel,
			Memo:                         map[string]interface{}{otaflow.MemoCampaignID: r.in.CampaignID},
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, otaflow.DeviceHoldWorkflow, otaflow.DeviceHoldInput{
			DeviceID: d.DeviceID, CampaignID: r.in.CampaignID, DeploymentWorkflowID: r.wfID})
	}
	for i, f := range futures {
		// A start failure means Cadence refused the id: another update runs on the device.
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			r.set(ctx, i, model.StateRejected, otaflow.ReasonUpdateInProgress)
			continue
		}
		held[i] = true
	}
	return held
}
