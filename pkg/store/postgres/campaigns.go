package postgres

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/webhook"
)

// textArray binds a []string as one Postgres text[] parameter. GORM would otherwise
// expand a slice into one placeholder per element, which breaks past 65,535 devices.
type textArray []string

var arrayElemEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func (a textArray) Value() (driver.Value, error) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('"')
		sb.WriteString(arrayElemEscaper.Replace(s))
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String(), nil
}

// intArray binds a []int as one Postgres int[] parameter.
type intArray []int

func (a intArray) Value() (driver.Value, error) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, n := range a {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(n))
	}
	sb.WriteByte('}')
	return sb.String(), nil
}

type campaignRow struct {
	ID             string
	TenantID       string
	Name           string
	FirmwareID     string
	TargetKind     string
	TargetGroupID  *string
	TargetSelector string
	Continuous     bool
	Policy         []byte
	State          string
	StateReason    string
	DeviceCount    int
	WorkflowID     string
	RunID          string
	CreatedByKey   *string
	CreatedAt      time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
}

func (r campaignRow) model() model.Campaign {
	return model.Campaign{ID: r.ID, TenantID: r.TenantID, Name: r.Name, FirmwareID: r.FirmwareID,
		Target: model.CampaignTarget(r.TargetKind), GroupID: deref(r.TargetGroupID), Selector: r.TargetSelector,
		Continuous: r.Continuous, Rollout: json.RawMessage(r.Policy),
		State: model.CampaignState(r.State), StateReason: r.StateReason, DeviceCount: r.DeviceCount,
		WorkflowID: r.WorkflowID, RunID: r.RunID, CreatedByKey: deref(r.CreatedByKey), CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

const campaignColumns = `id, tenant_id, name, firmware_id, target_kind, target_group_id::text, target_selector,
	continuous, policy, state, state_reason, device_count, workflow_id, run_id, created_by_key::text, created_at, started_at, finished_at`

// maxMissingReported caps the ids an unknown-devices error lists.
const maxMissingReported = 20

// CreateCampaign implements store.Store: the campaign and all its device rows, or nothing.
// A dynamic target (selector, dynamic group) has no rows yet: they are resolved when
// dispatch starts.
func (s *Store) CreateCampaign(ctx context.Context, c model.Campaign, deviceIDs []string) (model.Campaign, error) {
	var out model.Campaign
	policy := []byte(c.Rollout)
	if len(policy) == 0 {
		policy = []byte("{}")
	}
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		var missing []string
		if err := tx.Raw(`SELECT x.id FROM unnest(?::text[]) WITH ORDINALITY AS x(id, ord)
			LEFT JOIN devices d ON d.tenant_id = ? AND d.id = x.id WHERE d.id IS NULL ORDER BY x.ord LIMIT ?`,
			textArray(deviceIDs), c.TenantID, maxMissingReported).Pluck("id", &missing).Error; err != nil {
			return classify(err)
		}
		if len(missing) > 0 {
			return &store.MissingDevicesError{IDs: missing}
		}
		var rows []campaignRow
		if err := tx.Raw(`INSERT INTO campaigns (id, tenant_id, name, firmware_id, target_kind, target_group_id,
			target_selector, continuous, policy, state, device_count, created_by_key)
			VALUES (?, ?, ?, ?, ?, ?::uuid, ?, ?, ?::jsonb, ?, ?, ?::uuid) RETURNING `+campaignColumns,
			c.ID, c.TenantID, c.Name, c.FirmwareID, string(c.Target), nullable(c.GroupID), c.Selector, c.Continuous,
			string(policy), string(model.CampaignCreated), len(deviceIDs), nullable(c.CreatedByKey)).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		out = rows[0].model()
		if len(deviceIDs) == 0 {
			return nil
		}
		return classify(tx.Exec(`INSERT INTO campaign_devices (campaign_id, tenant_id, device_id, seq, state, state_rank)
			SELECT ?, ?, x.id, x.ord, ?, ? FROM unnest(?::text[]) WITH ORDINALITY AS x(id, ord)`,
			c.ID, c.TenantID, string(model.StatePending), model.StatePending.Rank(), textArray(deviceIDs)).Error)
	})
	if err != nil {
		return model.Campaign{}, fmt.Errorf("create campaign: %w", err)
	}
	return out, nil
}

// GetCampaign implements store.Store.
func (s *Store) GetCampaign(ctx context.Context, tenantID, campaignID string) (model.Campaign, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []campaignRow
	if err := s.conn(ctx).Raw(`SELECT `+campaignColumns+` FROM campaigns WHERE tenant_id = ? AND id = ?`,
		tenantID, campaignID).Scan(&rows).Error; err != nil {
		return model.Campaign{}, fmt.Errorf("get campaign %s: %w", campaignID, classify(err))
	}
	if len(rows) == 0 {
		return model.Campaign{}, fmt.Errorf("get campaign %s: %w", campaignID, classify(gorm.ErrRecordNotFound))
	}
	return rows[0].model(), nil
}

// ListCampaigns implements store.Store.
func (s *Store) ListCampaigns(ctx context.Context, tenantID string, p store.Page) ([]model.Campaign, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	after := p.After
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	var rows []campaignRow
	if err := s.conn(ctx).Raw(`SELECT `+campaignColumns+` FROM campaigns WHERE tenant_id = ? AND id > ?::uuid
		ORDER BY id LIMIT ?`, tenantID, after, p.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list campaigns: %w", classify(err))
	}
	out := make([]model.Campaign, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}

// MarkCampaignStarted implements store.Store. A campaign still CREATED becomes RUNNING,
// the change recorded like a workflow's (audit row and webhook events, actor the
// caller's key): the workflow, finding it RUNNING, records nothing.
func (s *Store) MarkCampaignStarted(ctx context.Context, tenantID, campaignID, workflowID, runID string, actor store.AuditEntry) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		var before []string
		if err := tx.Raw(`SELECT state FROM campaigns WHERE tenant_id = ? AND id = ? FOR UPDATE`,
			tenantID, campaignID).Pluck("state", &before).Error; err != nil {
			return classify(err)
		}
		if err := tx.Exec(`UPDATE campaigns SET workflow_id = ?, run_id = ?,
			state = CASE WHEN state = ? THEN ? ELSE state END, started_at = COALESCE(started_at, now())
			WHERE tenant_id = ? AND id = ?`,
			workflowID, runID, string(model.CampaignCreated), string(model.CampaignRunning), tenantID, campaignID).Error; err != nil {
			return classify(err)
		}
		if len(before) == 0 || before[0] != string(model.CampaignCreated) {
			return nil
		}
		actor.WorkflowID, actor.RunID = workflowID, runID
		return recordStateChange(tx, tenantID, campaignID, before[0], model.CampaignRunning, "", actor)
	})
	if err != nil {
		return fmt.Errorf("mark campaign %s started: %w", campaignID, err)
	}
	return nil
}

// SetCampaignState implements store.Store; a finished campaign keeps its final state.
// A change of state is appended to the audit log, with actor, in the same transaction.
func (s *Store) SetCampaignState(ctx context.Context, r otaflow.SetCampaignStateRequest, actor store.AuditEntry) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		var before []string
		if err := tx.Raw(`SELECT state FROM campaigns WHERE tenant_id = ? AND id = ? FOR UPDATE`,
			r.TenantID, r.CampaignID).Pluck("state", &before).Error; err != nil {
			return classify(err)
		}
		res := tx.Exec(`UPDATE campaigns SET state = ?, state_reason = ?,
			started_at = CASE WHEN ? = ? THEN COALESCE(started_at, now()) ELSE started_at END,
			finished_at = CASE WHEN ? THEN now() ELSE finished_at END
			WHERE tenant_id = ? AND id = ? AND state NOT IN (?, ?, ?, ?)`,
			string(r.State), r.Reason, string(r.State), string(model.CampaignRunning), r.State.Terminal(),
			r.TenantID, r.CampaignID,
			string(model.CampaignCompleted), string(model.CampaignCanceled), string(model.CampaignFailed),
			string(model.CampaignAborted))
		if res.Error != nil {
			return classify(res.Error)
		}
		if res.RowsAffected == 0 || len(before) == 0 || before[0] == string(r.State) {
			return nil
		}
		return recordStateChange(tx, r.TenantID, r.CampaignID, before[0], r.State, r.Reason, actor)
	})
	if err != nil {
		return fmt.Errorf("set campaign %s state %s: %w", r.CampaignID, r.State, err)
	}
	return nil
}

type stateCount struct {
	Wave  int
	State string
	N     int
}

// CampaignStatus implements store.Store.
func (s *Store) CampaignStatus(ctx context.Context, tenantID, campaignID string) (model.CampaignStatus, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []stateCount
	if err := s.conn(ctx).Raw(`SELECT wave, state, count(*) AS n FROM campaign_devices
		WHERE tenant_id = ? AND campaign_id = ? GROUP BY wave, state ORDER BY wave`, tenantID, campaignID).Scan(&rows).Error; err != nil {
		return model.CampaignStatus{}, fmt.Errorf("campaign %s status: %w", campaignID, classify(err))
	}
	st := model.CampaignStatus{Counts: make(map[model.DeviceState]int, len(model.AllDeviceStates))}
	for _, ds := range model.AllDeviceStates {
		st.Counts[ds] = 0
	}
	for _, r := range rows {
		ds := model.DeviceState(r.State)
		st.Counts[ds] += r.N
		st.Total += r.N
		if len(st.Waves) == 0 || st.Waves[len(st.Waves)-1].Wave != r.Wave {
			st.Waves = append(st.Waves, model.WaveStatus{Wave: r.Wave, Counts: map[model.DeviceState]int{}})
		}
		w := &st.Waves[len(st.Waves)-1]
		w.Counts[ds] += r.N
		w.Total += r.N
		if ds.Terminal() {
			st.Finished += r.N
			w.Finished += r.N
		}
	}
	if st.Total > 0 {
		// One decimal is enough for a progress bar and keeps JSON stable.
		st.ProgressPct = float64(st.Finished*1000/st.Total) / 10
	}
	return st, nil
}

type campaignDeviceRow struct {
	Seq        int
	Wave       int
	Attempts   int
	DeviceID   string
	State      string
	Reason     string
	WorkflowID string
	RunID      string
	UpdatedAt  time.Time
}

// ListCampaignDevices implements store.Store.
func (s *Store) ListCampaignDevices(ctx context.Context, tenantID, campaignID string, afterSeq, limit int) ([]model.CampaignDevice, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []campaignDeviceRow
	if err := s.conn(ctx).Raw(`SELECT seq, wave, attempts, device_id, state, reason, workflow_id, run_id, updated_at
		FROM campaign_devices WHERE tenant_id = ? AND campaign_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		tenantID, campaignID, afterSeq, limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("campaign %s devices: %w", campaignID, classify(err))
	}
	out := make([]model.CampaignDevice, len(rows))
	for i, r := range rows {
		out[i] = model.CampaignDevice{CampaignID: campaignID, Seq: r.Seq, Wave: r.Wave, Attempts: r.Attempts, DeviceID: r.DeviceID,
			State: model.DeviceState(r.State), Reason: r.Reason, WorkflowID: r.WorkflowID, RunID: r.RunID, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

// CampaignDeviceIDs implements store.Store.
func (s *Store) CampaignDeviceIDs(ctx context.Context, tenantID, campaignID string) ([]string, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var ids []string
	if err := s.conn(ctx).Raw(`SELECT device_id FROM campaign_devices WHERE tenant_id = ? AND campaign_id = ? ORDER BY seq`,
		tenantID, campaignID).Pluck("device_id", &ids).Error; err != nil {
		return nil, fmt.Errorf("campaign %s device ids: %w", campaignID, classify(err))
	}
	return ids, nil
}

// CampaignDispatchPage implements store.Store.
func (s *Store) CampaignDispatchPage(ctx context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []struct {
		Seq             int
		DeviceID        string
		Transport       *string
		DevEui          *string
		DeviceProfileID *string
	}
	if err := s.conn(ctx).Raw(`SELECT c.seq, c.device_id, d.transport, l.dev_eui, l.device_profile_id
		FROM campaign_devices c
		LEFT JOIN devices d ON d.tenant_id = c.tenant_id AND d.id = c.device_id
		LEFT JOIN lorawan_devices l ON l.tenant_id = c.tenant_id AND l.device_id = c.device_id
		WHERE c.tenant_id = ? AND c.campaign_id = ? AND c.seq > ? ORDER BY c.seq LIMIT ?`,
		r.TenantID, r.CampaignID, r.AfterSeq, r.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("campaign %s dispatch page: %w", r.CampaignID, classify(err))
	}
	out := make([]otaflow.CampaignDeviceRef, len(rows))
	for i, row := range rows {
		out[i] = otaflow.CampaignDeviceRef{Seq: row.Seq, DeviceID: row.DeviceID}
		if row.Transport != nil && model.Transport(*row.Transport) == model.TransportLoRaWAN && row.DevEui != nil {
			out[i].Transport, out[i].DevEUI, out[i].DeviceProfileID = model.TransportLoRaWAN, *row.DevEui, deref(row.DeviceProfileID)
		}
	}
	return out, nil
}

// MarkCampaignDevices implements store.Store.
func (s *Store) MarkCampaignDevices(ctx context.Context, r otaflow.MarkCampaignDevicesRequest) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if r.AllPending {
		err := s.conn(ctx).Exec(`UPDATE campaign_devices SET state = ?, state_rank = ?, reason = ?, updated_at = now()
			WHERE tenant_id = ? AND campaign_id = ? AND state_rank = ?`,
			string(r.State), r.State.Rank(), r.Reason, r.TenantID, r.CampaignID, model.StatePending.Rank()).Error
		if err != nil {
			return fmt.Errorf("mark pending devices of campaign %s %s: %w", r.CampaignID, r.State, classify(err))
		}
		return nil
	}
	if len(r.DeviceIDs) == 0 {
		return nil
	}
	err := s.conn(ctx).Exec(`UPDATE campaign_devices SET state = ?, state_rank = ?, reason = ?, updated_at = now()
		WHERE tenant_id = ? AND campaign_id = ? AND device_id = ANY(?::text[]) AND state_rank < ?`,
		string(r.State), r.State.Rank(), r.Reason, r.TenantID, r.CampaignID, textArray(r.DeviceIDs), r.State.Rank()).Error
	if err != nil {
		return fmt.Errorf("mark %d campaign devices %s: %w", len(r.DeviceIDs), r.State, classify(err))
	}
	return nil
}

// AdvanceCampaignDevice implements store.Store.
func (s *Store) AdvanceCampaignDevice(ctx context.Context, tenantID, campaignID, deviceID string, state model.DeviceState, reason, workflowID, runID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Exec(`UPDATE campaign_devices SET state = ?, state_rank = ?, reason = ?,
		workflow_id = ?, run_id = ?, updated_at = now()
		WHERE tenant_id = ? AND campaign_id = ? AND device_id = ? AND state_rank < ?`,
		string(state), state.Rank(), reason, workflowID, runID, tenantID, campaignID, deviceID, state.Rank()).Error
	if err != nil {
		return fmt.Errorf("advance campaign %s device %s to %s: %w", campaignID, deviceID, state, classify(err))
	}
	return nil
}

// AdvanceRun implements store.Store.
func (s *Store) AdvanceRun(ctx context.Context, tenantID, deviceID, runID string, state model.DeviceState) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Exec(`UPDATE campaign_devices SET state = ?, state_rank = ?, updated_at = now()
		WHERE tenant_id = ? AND device_id = ? AND run_id = ? AND state_rank < ?`,
		string(state), state.Rank(), tenantID, deviceID, runID, state.Rank()).Error
	if err != nil {
		return fmt.Errorf("advance run %s of %s to %s: %w", runID, deviceID, state, classify(err))
	}
	return nil
}

// RecordOutcome implements store.Store. Idempotent: a retried activity finds the history
// row and the terminal campaign state already written.
func (s *Store) RecordOutcome(ctx context.Context, r otaflow.OutcomeRequest) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		// The record follows what the device itself said last in this run; lacking that, a
		// verified install.
		running := r.RunningVersion
		if running == "" && r.Installed {
			running = r.Firmware.Version
		}
		if running != "" {
			if err := tx.Exec(`UPDATE devices SET firmware_version = ?, updated_at = now() WHERE tenant_id = ? AND id = ?`,
				running, r.TenantID, r.DeviceID).Error; err != nil {
				return classify(err)
			}
		}
		if err := tx.Exec(`INSERT INTO device_firmware_history (tenant_id, device_id, campaign_id, firmware_id,
			from_version, to_version, outcome, reason, running_version, workflow_id, run_id)
			VALUES (?, ?, ?::uuid, ?::uuid, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workflow_id, run_id, device_id) DO NOTHING`,
			r.TenantID, r.DeviceID, nullable(r.CampaignID), nullable(r.Firmware.ID), r.FromVersion, r.Firmware.Version,
			string(r.State), r.Reason, r.RunningVersion, r.WorkflowID, r.RunID).Error; err != nil {
			return classify(err)
		}
		if err := tx.Exec(releaseClaim, r.TenantID, r.DeviceID, r.WorkflowID, r.RunID).Error; err != nil {
			return classify(err)
		}
		if r.CampaignID == "" {
			return nil
		}
		return classify(tx.Exec(`UPDATE campaign_devices SET state = ?, state_rank = ?, reason = ?,
			workflow_id = ?, run_id = ?, updated_at = now()
			WHERE tenant_id = ? AND campaign_id = ? AND device_id = ? AND state_rank < ?`,
			string(r.State), r.State.Rank(), r.Reason, r.WorkflowID, r.RunID,
			r.TenantID, r.CampaignID, r.DeviceID, r.State.Rank()).Error)
	})
	if err != nil {
		return fmt.Errorf("record outcome of %s run %s: %w", r.DeviceID, r.RunID, err)
	}
	return nil
}

// ResolveCampaignTargets implements store.Store. For a selector or dynamic-group target it
// appends the matching devices not in the campaign yet (in creation order), so a
// continuous campaign picks up devices that joined later; it returns the device count.
func (s *Store) ResolveCampaignTargets(ctx context.Context, tenantID, campaignID string) (int, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	c, err := s.GetCampaign(ctx, tenantID, campaignID)
	if err != nil {
		return 0, err
	}
	selText := c.Selector
	dynamic := c.Target == model.TargetSelector
	if c.Target == model.TargetGroup {
		var groups []struct {
			Kind     string
			Selector string
		}
		if err := s.conn(ctx).Raw(`SELECT kind, selector FROM device_groups WHERE tenant_id = ? AND id = ?`,
			tenantID, c.GroupID).Scan(&groups).Error; err != nil {
			return 0, fmt.Errorf("campaign %s group: %w", campaignID, classify(err))
		}
		if len(groups) == 1 && groups[0].Kind == string(model.GroupDynamic) {
			dynamic, selText = true, groups[0].Selector
		}
	}
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if dynamic {
			sel, err := model.ParseSelector("selector", selText)
			if err != nil {
				return err
			}
			cond, args, err := selectorCondition("d", sel)
			if err != nil {
				return err
			}
			q := `INSERT INTO campaign_devices (campaign_id, tenant_id, device_id, seq, state, state_rank)
				SELECT ?, ?, d.id,
					COALESCE((SELECT max(seq) FROM campaign_devices WHERE campaign_id = ?), 0)
						+ row_number() OVER (ORDER BY d.created_at, d.id), ?, ?
				FROM devices d WHERE d.tenant_id = ? AND ` + cond + `
				AND NOT EXISTS (SELECT 1 FROM campaign_devices x WHERE x.campaign_id = ? AND x.device_id = d.id)`
			all := append([]any{campaignID, tenantID, campaignID, string(model.StatePending), model.StatePending.Rank(), tenantID}, args...)
			all = append(all, campaignID)
			if err := tx.Exec(q, all...).Error; err != nil {
				return classify(err)
			}
		}
		return classify(tx.Exec(`UPDATE campaigns SET device_count = (SELECT count(*) FROM campaign_devices WHERE campaign_id = ?)
			WHERE tenant_id = ? AND id = ?`, campaignID, tenantID, campaignID).Error)
	})
	if err != nil {
		return 0, fmt.Errorf("resolve campaign %s targets: %w", campaignID, err)
	}
	var n int64
	if err := s.conn(ctx).Raw(`SELECT count(*) FROM campaign_devices WHERE campaign_id = ?`, campaignID).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("count campaign %s devices: %w", campaignID, classify(err))
	}
	return int(n), nil
}

// AssignWave implements store.Store. Rows already in the wave are left alone: a campaign
// of one wave (every row starts in wave 0) writes nothing.
func (s *Store) AssignWave(ctx context.Context, r otaflow.AssignWaveRequest) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(`UPDATE campaign_devices SET wave = ?
		WHERE tenant_id = ? AND campaign_id = ? AND seq BETWEEN ? AND ? AND wave <> ?`,
		r.Wave, r.TenantID, r.CampaignID, r.FromSeq, r.ToSeq, r.Wave).Error; err != nil {
		return fmt.Errorf("assign wave %d of campaign %s: %w", r.Wave, r.CampaignID, classify(err))
	}
	return nil
}

// RetryCampaignDevice implements store.Store: the one place a device moves backward, from
// a terminal state to PENDING, for another run.
func (s *Store) RetryCampaignDevice(ctx context.Context, r otaflow.RetryDeviceRequest) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(`UPDATE campaign_devices SET state = ?, state_rank = ?, reason = '', attempts = attempts + 1,
		updated_at = now() WHERE tenant_id = ? AND campaign_id = ? AND device_id = ? AND state_rank = ?`,
		string(model.StatePending), model.StatePending.Rank(), r.TenantID, r.CampaignID, r.DeviceID,
		model.StateSucceeded.Rank()).Error; err != nil {
		return fmt.Errorf("retry device %s of campaign %s: %w", r.DeviceID, r.CampaignID, classify(err))
	}
	return nil
}

// recordStateChange writes a campaign's change of state from before to st: its audit row
// (by actor) and its webhook events, inside tx.
func recordStateChange(tx *gorm.DB, tenantID, campaignID, before string, st model.CampaignState, reason string,
	actor store.AuditEntry) error {
	e := actor
	e.TenantID, e.Action, e.Result = tenantID, "campaign.state_changed", store.AuditSucceeded
	e.TargetIDs = []string{campaignID}
	summary, err := json.Marshal(map[string]string{"from": before, "to": string(st), "reason": reason})
	if err != nil {
		return err
	}
	e.Summary = summary
	if err := insertAudit(tx, e); err != nil {
		return classify(err)
	}
	payload, err := json.Marshal(map[string]string{"campaign_id": campaignID, "state": string(st),
		"previous_state": before, "reason": reason, "workflow_id": actor.WorkflowID, "run_id": actor.RunID})
	if err != nil {
		return err
	}
	return appendWebhookEvents(tx, tenantID, campaignID, eventsOf(webhook.EventsOfStateChange(string(st)), payload))
}
