package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

// maxCampaignDevices bounds one request body; larger fleets are targeted by group.
const maxCampaignDevices = 100_000

func (s *service) CreateCampaign(ctx context.Context, t model.Tenant, c NewCampaign) (model.Campaign, error) {
	if err := model.ValidateName("name", c.Name); err != nil {
		return model.Campaign{}, err
	}
	if _, err := uuid.Parse(c.FirmwareID); err != nil {
		return model.Campaign{}, model.Fieldf("firmware_id", "must be a firmware id (UUID)")
	}
	if len(c.DeviceIDs) == 0 {
		return model.Campaign{}, model.Fieldf("device_ids", "must list at least one device")
	}
	if len(c.DeviceIDs) > maxCampaignDevices {
		return model.Campaign{}, model.Fieldf("device_ids", "at most %d devices per campaign", maxCampaignDevices)
	}
	seen := make(map[string]int, len(c.DeviceIDs))
	for i, id := range c.DeviceIDs {
		field := fmt.Sprintf("device_ids[%d]", i)
		if err := model.ValidateIdent(field, id); err != nil {
			return model.Campaign{}, err
		}
		if j, dup := seen[id]; dup {
			return model.Campaign{}, model.Fieldf(field, "duplicate of device_ids[%d] (%s)", j, id)
		}
		seen[id] = i
	}
	if _, err := s.store.GetFirmware(ctx, t.ID, c.FirmwareID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return model.Campaign{}, model.Fieldf("firmware_id", "no firmware %s in this tenant", c.FirmwareID)
		}
		return model.Campaign{}, err
	}
	camp, err := s.store.CreateCampaign(ctx, model.Campaign{ID: uuid.NewString(), TenantID: t.ID, Name: c.Name,
		FirmwareID: c.FirmwareID}, c.DeviceIDs)
	var missing *store.MissingDevicesError
	if errors.As(err, &missing) {
		return model.Campaign{}, model.Fieldf(fmt.Sprintf("device_ids[%d]", seen[missing.IDs[0]]),
			"unknown device %q (%d unknown in all listed: %v)", missing.IDs[0], len(missing.IDs), missing.IDs)
	}
	return camp, err
}

func (s *service) GetCampaign(ctx context.Context, t model.Tenant, id string) (model.Campaign, error) {
	if _, err := uuid.Parse(id); err != nil {
		return model.Campaign{}, fmt.Errorf("campaign %q: %w", id, store.ErrNotFound)
	}
	return s.store.GetCampaign(ctx, t.ID, id)
}

func (s *service) ListCampaigns(ctx context.Context, t model.Tenant, p store.Page) ([]model.Campaign, error) {
	return s.store.ListCampaigns(ctx, t.ID, p)
}

// ExecuteCampaign starts the campaign's workflow, which fans out the device runs. The
// answer does not wait for the fan-out, so its latency does not grow with the fleet.
func (s *service) ExecuteCampaign(ctx context.Context, t model.Tenant, id string) (CampaignExecution, error) {
	c, err := s.GetCampaign(ctx, t, id)
	if err != nil {
		return CampaignExecution{}, err
	}
	fw, err := s.store.GetFirmware(ctx, t.ID, c.FirmwareID)
	if err != nil {
		return CampaignExecution{}, err
	}
	in := otaflow.CampaignInput{TenantID: t.ID, CampaignID: c.ID, Firmware: firmwareRef(fw), Policy: s.policy(false),
		MaxInFlight: s.cfg.OTA.CampaignInFlight}
	runID, err := s.workflows.StartCampaign(ctx, t.CadenceDomain, in)
	if err != nil {
		return CampaignExecution{}, err
	}
	wfID := otaflow.CampaignWorkflowID(c.ID)
	if err := s.store.MarkCampaignStarted(ctx, t.ID, c.ID, wfID, runID); err != nil {
		return CampaignExecution{}, err
	}
	return CampaignExecution{CampaignID: c.ID, WorkflowsSubmitted: c.DeviceCount, WorkflowID: wfID, RunID: runID}, nil
}

func (s *service) CampaignStatus(ctx context.Context, t model.Tenant, id string) (CampaignStatus, error) {
	c, err := s.GetCampaign(ctx, t, id)
	if err != nil {
		return CampaignStatus{}, err
	}
	st, err := s.store.CampaignStatus(ctx, t.ID, c.ID)
	if err != nil {
		return CampaignStatus{}, err
	}
	return CampaignStatus{
		CampaignID: c.ID, State: c.State, StateReason: c.StateReason, ProgressPercent: st.ProgressPct,
		StatusCounts: st.Counts, Total: st.Total, Finished: st.Finished,
		Succeeded: st.Counts[model.StateSucceeded],
		Failed: st.Counts[model.StateFailed] + st.Counts[model.StateRolledBack] + st.Counts[model.StateTimedOut] +
			st.Counts[model.StateRejected],
	}, nil
}

func (s *service) CampaignDevices(ctx context.Context, t model.Tenant, id string, afterSeq, limit int) ([]model.CampaignDevice, error) {
	c, err := s.GetCampaign(ctx, t, id)
	if err != nil {
		return nil, err
	}
	return s.store.ListCampaignDevices(ctx, t.ID, c.ID, afterSeq, limit)
}
