package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
	"github.com/otaplane/ota/pkg/store"
)

// maxCampaignDevices bounds one campaign; larger fleets are split into several.
const maxCampaignDevices = 100_000

// maxReasonLen bounds the reason an operator gives with a pause, cancel or approve.
const maxReasonLen = 500

func (s *service) CreateCampaign(ctx context.Context, t model.Tenant, c NewCampaign) (model.Campaign, error) {
	if err := model.ValidateName("name", c.Name); err != nil {
		return model.Campaign{}, err
	}
	if !model.IsUUID(c.FirmwareID) {
		return model.Campaign{}, model.Fieldf("firmware_id", "must be a firmware id (UUID)")
	}
	if err := rollout.Validate(c.Rollout, "rollout."); err != nil {
		return model.Campaign{}, err
	}
	camp := model.Campaign{ID: uuid.NewString(), TenantID: t.ID, Name: c.Name, FirmwareID: c.FirmwareID,
		Continuous: c.Continuous, CreatedByKey: c.CreatedByKey}
	ids, err := s.campaignTargets(ctx, t, c, &camp)
	if err != nil {
		return model.Campaign{}, err
	}
	if _, err := s.store.GetFirmware(ctx, t.ID, c.FirmwareID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return model.Campaign{}, model.Fieldf("firmware_id", "no firmware %s in this tenant", c.FirmwareID)
		}
		return model.Campaign{}, err
	}
	c.Rollout.Continuous = c.Continuous
	encoded, err := json.Marshal(c.Rollout)
	if err != nil {
		return model.Campaign{}, fmt.Errorf("encode rollout: %w", err)
	}
	camp.Rollout = encoded
	out, err := s.store.CreateCampaign(ctx, camp, ids)
	var missing *store.MissingDevicesError
	if errors.As(err, &missing) {
		field := "device_ids"
		for i, id := range c.DeviceIDs {
			if id == missing.IDs[0] {
				field = fmt.Sprintf("device_ids[%d]", i)
				break
			}
		}
		return model.Campaign{}, model.Fieldf(field, "unknown device %q (%d unknown in all listed: %v)",
			missing.IDs[0], len(missing.IDs), missing.IDs)
	}
	return out, err
}

// campaignTargets validates the one target a campaign names and returns the device ids
// fixed now (a list or a static group); a selector or dynamic group is resolved when
// dispatch starts.
func (s *service) campaignTargets(ctx context.Context, t model.Tenant, c NewCampaign, camp *model.Campaign) ([]string, error) {
	set := 0
	for _, given := range []bool{len(c.DeviceIDs) > 0, c.GroupID != "", c.Selector != ""} {
		if given {
			set++
		}
	}
	if set != 1 {
		return nil, model.Fieldf("device_ids", "name exactly one target: device_ids, group_id or selector")
	}
	switch {
	case len(c.DeviceIDs) > 0:
		if c.Continuous {
			return nil, model.Fieldf("continuous", "only a dynamic group or a selector can be continuous")
		}
		camp.Target = model.TargetDevices
		return c.DeviceIDs, validateDeviceList(c.DeviceIDs)
	case c.GroupID != "":
		if !model.IsUUID(c.GroupID) {
			return nil, model.Fieldf("group_id", "must be a group id (UUID)")
		}
		g, err := s.store.GetGroup(ctx, t.ID, c.GroupID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, model.Fieldf("group_id", "no group %s in this tenant", c.GroupID)
		}
		if err != nil {
			return nil, err
		}
		camp.Target, camp.GroupID = model.TargetGroup, g.ID
		if g.Kind == model.GroupDynamic {
			return nil, nil
		}
		if c.Continuous {
			return nil, model.Fieldf("continuous", "a static group is frozen when the campaign is created; use a dynamic group")
		}
		ids, err := s.store.ResolveGroup(ctx, t.ID, g.ID)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, model.Fieldf("group_id", "group %q has no members", g.Name)
		}
		if len(ids) > maxCampaignDevices {
			return nil, model.Fieldf("group_id", "group has %d members; at most %d per campaign", len(ids), maxCampaignDevices)
		}
		return ids, nil
	default:
		sel, err := model.ParseSelector("selector", c.Selector)
		if err != nil {
			return nil, err
		}
		camp.Target, camp.Selector = model.TargetSelector, sel.String()
		return nil, nil
	}
}

func validateDeviceList(ids []string) error {
	if len(ids) > maxCampaignDevices {
		return model.Fieldf("device_ids", "at most %d devices per campaign", maxCampaignDevices)
	}
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		field := fmt.Sprintf("device_ids[%d]", i)
		if err := model.ValidateIdent(field, id); err != nil {
			return err
		}
		if j, dup := seen[id]; dup {
			return model.Fieldf(field, "duplicate of device_ids[%d] (%s)", j, id)
		}
		seen[id] = i
	}
	return nil
}

func (s *service) GetCampaign(ctx context.Context, t model.Tenant, id string) (model.Campaign, error) {
	if !model.IsUUID(id) {
		return model.Campaign{}, fmt.Errorf("campaign %q: %w", id, store.ErrNotFound)
	}
	return s.store.GetCampaign(ctx, t.ID, id)
}

func (s *service) ListCampaigns(ctx context.Context, t model.Tenant, p store.Page) ([]model.Campaign, error) {
	if err := checkUUIDCursor(p, "campaign"); err != nil {
		return nil, err
	}
	return s.store.ListCampaigns(ctx, t.ID, p)
}

func rolloutOf(c model.Campaign) (otaflow.CampaignPolicy, error) {
	var p otaflow.CampaignPolicy
	if len(c.Rollout) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(c.Rollout, &p); err != nil {
		return p, fmt.Errorf("campaign %s rollout: %w", c.ID, err)
	}
	return p, nil
}

// ExecuteCampaign starts the campaign's workflow, which fans out the device runs. The
// answer does not wait for the fan-out, so its latency does not grow with the fleet.
func (s *service) ExecuteCampaign(ctx context.Context, t model.Tenant, id string, by model.APIKey) (CampaignExecution, error) {
	c, err := s.GetCampaign(ctx, t, id)
	if err != nil {
		return CampaignExecution{}, err
	}
	if err := fourEyes(t, c, by.ID); err != nil {
		return CampaignExecution{}, err
	}
	if c.State != model.CampaignCreated {
		return CampaignExecution{}, fmt.Errorf("campaign %s was already executed (state %s): %w", c.ID, c.State, ErrConflict)
	}
	fw, err := s.store.GetFirmware(ctx, t.ID, c.FirmwareID)
	if err != nil {
		return CampaignExecution{}, err
	}
	policy, err := rolloutOf(c)
	if err != nil {
		return CampaignExecution{}, err
	}
	submitted := c.DeviceCount
	if c.Target != model.TargetDevices && c.DeviceCount == 0 {
		ids, err := s.resolveDynamic(ctx, t, c)
		if err != nil {
			return CampaignExecution{}, err
		}
		submitted = len(ids)
	}
	in := otaflow.CampaignInput{TenantID: t.ID, CampaignID: c.ID, Firmware: firmwareRef(fw), Policy: s.policy(false),
		Rollout: policy, MaxInFlight: policy.MaxInFlight, ResolveTargets: c.Target != model.TargetDevices,
		ContinuousRefresh: s.cfg.OTA.ContinuousRefresh, ChildrenPerRun: s.cfg.OTA.CampaignChildrenPerRun}
	if in.MaxInFlight == 0 {
		in.MaxInFlight = s.cfg.OTA.CampaignInFlight
	}
	in.FUOTA, in.LoRaWANPolicy = s.fuotaSettings(policy.FUOTA)
	runID, err := s.workflows.StartCampaign(ctx, t.CadenceDomain, in)
	if err != nil {
		return CampaignExecution{}, err
	}
	wfID := otaflow.CampaignWorkflowID(c.ID)
	actor := store.AuditEntry{ActorKeyID: by.ID, ActorName: by.Name}
	if err := s.store.MarkCampaignStarted(ctx, t.ID, c.ID, wfID, runID, actor); err != nil {
		return CampaignExecution{}, err
	}
	return CampaignExecution{CampaignID: c.ID, WorkflowsSubmitted: submitted, WorkflowID: wfID, RunID: runID}, nil
}

// resolveDynamic evaluates a selector or group target now (dry run, execute's count).
func (s *service) resolveDynamic(ctx context.Context, t model.Tenant, c model.Campaign) ([]string, error) {
	if c.Target == model.TargetGroup {
		return s.store.ResolveGroup(ctx, t.ID, c.GroupID)
	}
	sel, err := model.ParseSelector("selector", c.Selector)
	if err != nil {
		return nil, err
	}
	return s.store.ResolveSelector(ctx, t.ID, sel)
}

// controlWait bounds how long a control call waits to report the state it caused.
const controlWait = 5 * time.Second

// ControlCampaign signals pause, resume, cancel or approve and answers with the state
// the campaign reaches.
func (s *service) ControlCampaign(ctx context.Context, t model.Tenant, id string, ctl otaflow.CampaignControl,
	actorKeyID string) (otaflow.CampaignRunState, error) {
	// The reason becomes the campaign's state_reason.
	if err := model.ValidateText("reason", ctl.Reason, maxReasonLen); err != nil {
		return otaflow.CampaignRunState{}, err
	}
	c, err := s.GetCampaign(ctx, t, id)
	if err != nil {
		return otaflow.CampaignRunState{}, err
	}
	if ctl.Action == otaflow.ControlApprove {
		if err := fourEyes(t, c, actorKeyID); err != nil {
			return otaflow.CampaignRunState{}, err
		}
	}
	if c.State == model.CampaignCreated {
		return otaflow.CampaignRunState{}, fmt.Errorf("campaign %s has not been executed: %w", c.ID, ErrConflict)
	}
	if c.State.Terminal() {
		return otaflow.CampaignRunState{}, fmt.Errorf("campaign %s is already %s: %w", c.ID, c.State, ErrConflict)
	}
	before, err := s.workflows.QueryCampaign(ctx, t.CadenceDomain, c.ID)
	if err != nil {
		return otaflow.CampaignRunState{}, err
	}
	if ctl.Action == otaflow.ControlApprove && before.State != model.CampaignWaitingApproval {
		return otaflow.CampaignRunState{}, fmt.Errorf("campaign %s is %s, not waiting for approval: %w", c.ID, before.State, ErrConflict)
	}
	if err := s.workflows.SignalCampaign(ctx, t.CadenceDomain, c.ID, ctl); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return otaflow.CampaignRunState{}, fmt.Errorf("campaign %s has finished: %w", c.ID, ErrConflict)
		}
		return otaflow.CampaignRunState{}, err
	}
	deadline := time.Now().Add(controlWait)
	for {
		st, err := s.workflows.QueryCampaign(ctx, t.CadenceDomain, c.ID)
		if err != nil || reached(ctl.Action, before, st) || time.Now().After(deadline) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func reached(a otaflow.ControlAction, before, now otaflow.CampaignRunState) bool {
	switch a {
	case otaflow.ControlPause:
		return now.Paused || now.State.Terminal()
	case otaflow.ControlResume:
		return !now.Paused
	case otaflow.ControlCancel:
		return now.State == model.CampaignCanceled
	case otaflow.ControlApprove:
		return now.State != model.CampaignWaitingApproval || now.Wave > before.Wave
	}
	return true
}

func (s *service) CampaignStatus(ctx context.Context, t model.Tenant, id string) (CampaignStatus, error) {
	if !model.IsUUID(id) {
		return CampaignStatus{}, fmt.Errorf("campaign %q: %w", id, store.ErrNotFound)
	}
	// The key includes the tenant: a cached answer never crosses tenants.
	return s.statuses.get(ctx, t.ID+"/"+id, func(ctx context.Context) (CampaignStatus, error) {
		return s.loadCampaignStatus(ctx, t, id)
	})
}

func (s *service) loadCampaignStatus(ctx context.Context, t model.Tenant, id string) (CampaignStatus, error) {
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
		StatusCounts: st.Counts, Total: st.Total, Finished: st.Finished, Waves: st.Waves,
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

// DryRunCampaign evaluates, without touching a device, which devices executing the
// campaign now would update in which wave, and why the others would be left out.
func (s *service) DryRunCampaign(ctx context.Context, t model.Tenant, id string) (DryRun, error) {
	c, err := s.GetCampaign(ctx, t, id)
	if err != nil {
		return DryRun{}, err
	}
	fw, err := s.store.GetFirmware(ctx, t.ID, c.FirmwareID)
	if err != nil {
		return DryRun{}, err
	}
	policy, err := rolloutOf(c)
	if err != nil {
		return DryRun{}, err
	}
	// Rows exist for a fixed target and once a dynamic one has been resolved.
	var ids []string
	if c.DeviceCount > 0 {
		ids, err = s.store.CampaignDeviceIDs(ctx, t.ID, c.ID)
	} else {
		ids, err = s.resolveDynamic(ctx, t, c)
	}
	if err != nil {
		return DryRun{}, err
	}
	devices, err := s.store.DevicesByID(ctx, t.ID, ids)
	if err != nil {
		return DryRun{}, err
	}
	byID := make(map[string]*model.Device, len(devices))
	for i := range devices {
		byID[devices[i].ID] = &devices[i]
	}
	candidates := make([]rollout.Candidate, len(ids))
	for i, id := range ids {
		candidates[i] = rollout.Candidate{ID: id, Device: byID[id]}
	}
	plan := rollout.DryRun(policy, candidates, firmwareRef(fw), s.policy(false), time.Now())
	out := DryRun{CampaignID: c.ID, Total: plan.Total, Eligible: plan.Eligible, Excluded: make([]DryRunDevice, len(plan.Excluded))}
	for _, w := range plan.Waves {
		out.Waves = append(out.Waves, DryRunWave{Wave: w.Wave, Name: w.Name, Devices: w.Devices, ConfirmOnly: w.ConfirmOnly})
	}
	for i, e := range plan.Excluded {
		out.Excluded[i] = DryRunDevice{DeviceID: e.DeviceID, Wave: e.Wave, Reason: e.Reason}
	}
	return out, nil
}

// fuotaSettings merges a campaign's FUOTA overrides with the configured defaults, and
// the readiness policy for LoRaWAN devices (which speak far less often than IP ones).
func (s *service) fuotaSettings(override *otaflow.FUOTAParams) (otaflow.FUOTAParams, otaflow.UpdatePolicy) {
	o := s.cfg.OTA
	defaults := otaflow.FUOTAParams{PollInterval: otaflow.Duration(o.FUOTAPollInterval),
		DeploymentTimeout: otaflow.Duration(o.FUOTADeploymentTimeout), ConfirmTimeout: otaflow.Duration(o.FUOTAConfirmTimeout)}
	var p otaflow.FUOTAParams
	if override != nil {
		p = *override
	}
	policy := s.policy(false)
	policy.HeartbeatMaxAge = o.LoRaWANMaxSilence
	return p.Merge(defaults), policy
}
