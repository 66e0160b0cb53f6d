package campaign

import (
	"context"
	"time"

	"go.uber.org/cadence/activity"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

// CampaignStore is the part of the store the campaign activities use.
type CampaignStore interface {
	CampaignDispatchPage(ctx context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error)
	SetCampaignState(ctx context.Context, r otaflow.SetCampaignStateRequest, actor store.AuditEntry) error
	MarkCampaignDevices(ctx context.Context, r otaflow.MarkCampaignDevicesRequest) error
	ResolveCampaignTargets(ctx context.Context, tenantID, campaignID string) (int, error)
	AssignWave(ctx context.Context, r otaflow.AssignWaveRequest) error
	RetryCampaignDevice(ctx context.Context, r otaflow.RetryDeviceRequest) error

	CampaignDispatchRows(ctx context.Context, tenantID, campaignID string, retry []int, afterSeq, toSeq, limit int) ([]store.DispatchRow, error)
	RecordDispatch(ctx context.Context, tenantID, campaignID string, started []store.StartedRun, refused []string,
		refusedState model.DeviceState, reason string) error
	RecordGroupDispatch(ctx context.Context, tenantID, campaignID string, deviceIDs []string, workflowID string) error
	CollectOutcomes(ctx context.Context, tenantID, campaignID, ackID string, limit int) ([]otaflow.DeviceOutcome, error)
	RunsInFlight(ctx context.Context, tenantID, campaignID string, idleFor time.Duration, limit int) ([]store.RunRef, error)
	EndRuns(ctx context.Context, tenantID, campaignID string, runs []store.RunRef, state model.DeviceState, reason string) error
	RetryCampaignDevices(ctx context.Context, tenantID, campaignID string, deviceIDs []string) error
	RecordWaveFinished(ctx context.Context, tenantID, campaignID string, wave otaflow.WaveStats) error
}

// RunStarter starts, cancels and looks at runs in Cadence (pkg/cadenceclient.Conn).
type RunStarter interface {
	StartDeviceRun(ctx context.Context, r cadenceclient.DeviceRun) (string, error)
	CancelRun(ctx context.Context, domain, workflowID, runID string) error
	RunClosed(ctx context.Context, domain, workflowID, runID string) (bool, error)
}

// WebhookNotifier wakes the webhook deliveries of a campaign's events.
type WebhookNotifier interface {
	Notify(ctx context.Context, tenantID, domain, stream string) error
}

// Activities holds the campaign activities' dependencies.
type Activities struct {
	Store CampaignStore
	// Webhooks is told after every state write (nil: no webhooks).
	Webhooks WebhookNotifier
	// Runs starts the device runs a campaign dispatches, on TaskList.
	Runs     RunStarter
	TaskList string
	// DevicesPerRun is how many IP devices one workflow run updates (ota.devices_per_run):
	// above 1, a dispatch starts OTA_UPDATE_GROUP runs of up to that many devices.
	DevicesPerRun int
}

// ListCampaignDevices is list_campaign_devices: the next page in dispatch order.
func (a *Activities) ListCampaignDevices(ctx context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error) {
	return a.Store.CampaignDispatchPage(ctx, r)
}

// SetCampaignState is set_campaign_state; the audit log names the workflow run that made
// the change.
func (a *Activities) SetCampaignState(ctx context.Context, r otaflow.SetCampaignStateRequest) error {
	run := activity.GetInfo(ctx).WorkflowExecution
	actor := store.AuditEntry{ActorName: "workflow " + run.ID, WorkflowID: run.ID, RunID: run.RunID}
	if err := a.Store.SetCampaignState(ctx, r, actor); err != nil {
		return err
	}
	// Every time, not only after a change: a retry after a crash between the write and
	// this call still wakes the deliveries.
	if a.Webhooks != nil {
		return a.Webhooks.Notify(ctx, r.TenantID, domain(ctx), r.CampaignID)
	}
	return nil
}

// MarkCampaignDevices is mark_campaign_devices.
func (a *Activities) MarkCampaignDevices(ctx context.Context, r otaflow.MarkCampaignDevicesRequest) error {
	return a.Store.MarkCampaignDevices(ctx, r)
}

// ResolveTargets is resolve_campaign_targets: for a dynamic target it adds the devices
// that match now; it returns how many devices the campaign has.
func (a *Activities) ResolveTargets(ctx context.Context, r otaflow.ResolveTargetsRequest) (int, error) {
	return a.Store.ResolveCampaignTargets(ctx, r.TenantID, r.CampaignID)
}

// AssignWave is assign_wave.
func (a *Activities) AssignWave(ctx context.Context, r otaflow.AssignWaveRequest) error {
	return a.Store.AssignWave(ctx, r)
}

// RetryDevice is retry_campaign_device (campaigns of the child-workflow kind).
func (a *Activities) RetryDevice(ctx context.Context, r otaflow.RetryDeviceRequest) error {
	return a.Store.RetryCampaignDevice(ctx, r)
}

// RetryDevices is retry_campaign_devices.
func (a *Activities) RetryDevices(ctx context.Context, r otaflow.RetryDevicesRequest) error {
	return a.Store.RetryCampaignDevices(ctx, r.TenantID, r.CampaignID, r.DeviceIDs)
}

// RecordDispatch is record_campaign_dispatch.
func (a *Activities) RecordDispatch(ctx context.Context, r otaflow.RecordDispatchRequest) error {
	return a.Store.RecordGroupDispatch(ctx, r.TenantID, r.CampaignID, r.DeviceIDs, r.WorkflowID)
}

// RecordWaveFinished is record_wave_finished: the wave.finished event, once per wave,
// and a wake-up for its deliveries (every time, as in SetCampaignState).
func (a *Activities) RecordWaveFinished(ctx context.Context, r otaflow.WaveFinishedRequest) error {
	if err := a.Store.RecordWaveFinished(ctx, r.TenantID, r.CampaignID, r.Wave); err != nil {
		return err
	}
	if a.Webhooks != nil {
		return a.Webhooks.Notify(ctx, r.TenantID, domain(ctx), r.CampaignID)
	}
	return nil
}

// domain is the Cadence domain of the calling workflow: device runs go beside it.
func domain(ctx context.Context) string { return activity.GetInfo(ctx).WorkflowDomain }

// Registry is what a Cadence worker (or test environment) registers on.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}

// Register registers OTA_CAMPAIGN and its activities under their contract names.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(NewFlow(a).Run, workflow.RegisterOptions{Name: otaflow.CampaignWorkflow})
	for _, act := range []struct {
		name string
		fn   interface{}
	}{
		{otaflow.ActivityListCampaignDevices, a.ListCampaignDevices},
		{otaflow.ActivitySetCampaignState, a.SetCampaignState},
		{otaflow.ActivityMarkCampaignDevices, a.MarkCampaignDevices},
		{otaflow.ActivityResolveTargets, a.ResolveTargets},
		{otaflow.ActivityAssignWave, a.AssignWave},
		{otaflow.ActivityRetryDevice, a.RetryDevice},
		{otaflow.ActivityDispatchDeviceRuns, a.DispatchDeviceRuns},
		{otaflow.ActivityCollectOutcomes, a.CollectOutcomes},
		{otaflow.ActivityCancelDeviceRuns, a.CancelDeviceRuns},
		{otaflow.ActivityRecordDispatch, a.RecordDispatch},
		{otaflow.ActivityRetryDevices, a.RetryDevices},
		{otaflow.ActivityRecordWaveFinished, a.RecordWaveFinished},
	} {
		r.RegisterActivityWithOptions(act.fn, activity.RegisterOptions{Name: act.name})
	}
}
