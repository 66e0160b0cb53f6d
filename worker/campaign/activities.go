package campaign

import (
	"context"

	"go.uber.org/cadence/activity"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/otaflow"
)

// CampaignStore is the part of the store the campaign activities use.
type CampaignStore interface {
	CampaignDispatchPage(ctx context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error)
	SetCampaignState(ctx context.Context, r otaflow.SetCampaignStateRequest) error
	MarkCampaignDevices(ctx context.Context, r otaflow.MarkCampaignDevicesRequest) error
	ResolveCampaignTargets(ctx context.Context, tenantID, campaignID string) (int, error)
	AssignWave(ctx context.Context, r otaflow.AssignWaveRequest) error
	RetryCampaignDevice(ctx context.Context, r otaflow.RetryDeviceRequest) error
}

// Activities holds the campaign activities' dependencies.
type Activities struct {
	Store CampaignStore
}

// ListCampaignDevices is list_campaign_devices: the next page in dispatch order.
func (a *Activities) ListCampaignDevices(ctx context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error) {
	return a.Store.CampaignDispatchPage(ctx, r)
}

// SetCampaignState is set_campaign_state.
func (a *Activities) SetCampaignState(ctx context.Context, r otaflow.SetCampaignStateRequest) error {
	return a.Store.SetCampaignState(ctx, r)
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

// RetryDevice is retry_campaign_device.
func (a *Activities) RetryDevice(ctx context.Context, r otaflow.RetryDeviceRequest) error {
	return a.Store.RetryCampaignDevice(ctx, r)
}

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
	} {
		r.RegisterActivityWithOptions(act.fn, activity.RegisterOptions{Name: act.name})
	}
}
