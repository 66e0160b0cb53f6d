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

// Registry is what a Cadence worker (or test environment) registers on.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}

// Register registers OTA_CAMPAIGN and its activities under their contract names.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: otaflow.CampaignWorkflow})
	r.RegisterActivityWithOptions(a.ListCampaignDevices, activity.RegisterOptions{Name: otaflow.ActivityListCampaignDevices})
	r.RegisterActivityWithOptions(a.SetCampaignState, activity.RegisterOptions{Name: otaflow.ActivitySetCampaignState})
	r.RegisterActivityWithOptions(a.MarkCampaignDevices, activity.RegisterOptions{Name: otaflow.ActivityMarkCampaignDevices})
}
