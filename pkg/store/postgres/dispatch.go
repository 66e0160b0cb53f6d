package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/webhook"
)

// A batch-dispatching campaign's rows (see migration 00009): acked_by is NULL before
// dispatch, '' while the outcome waits to be collected, then the collection's id.

const dispatchColumns = `c.seq, c.device_id, c.wave, c.state, c.workflow_id, c.run_id, c.attempts,
	c.acked_by IS NOT NULL AS dispatched, d.transport, l.dev_eui, l.device_profile_id`

const dispatchFrom = `FROM campaign_devices c
	LEFT JOIN devices d ON d.tenant_id = c.tenant_id AND d.id = c.device_id
	LEFT JOIN lorawan_devices l ON l.tenant_id = c.tenant_id AND l.device_id = c.device_id`

type dispatchRow struct {
	Seq             int
	DeviceID        string
	Wave            int
	State           string
	WorkflowID      string
	RunID           string
	Attempts        int
	Dispatched      bool
	Transport       *string
	DevEui          *string
	DeviceProfileID *string
}

func (r dispatchRow) row() store.DispatchRow {
	out := store.DispatchRow{CampaignDeviceRef: otaflow.CampaignDeviceRef{Seq: r.Seq, DeviceID: r.DeviceID, Wave: r.Wave},
		State: model.DeviceState(r.State), WorkflowID: r.WorkflowID, RunID: r.RunID, Attempts: r.Attempts,
		Dispatched: r.Dispatched}
	if r.Transport != nil && model.Transport(*r.Transport) == model.TransportLoRaWAN && r.DevEui != nil {
		out.Transport, out.DevEUI, out.DeviceProfileID = model.TransportLoRaWAN, *r.DevEui, deref(r.DeviceProfileID)
	}
	return out
}

// CampaignDispatchRows reads the devices with the sequence numbers in retry, then the
// next devices after afterSeq up to toSeq, at most limit in all, each part in order.
func (s *Store) CampaignDispatchRows(ctx context.Context, tenantID, campaignID string, retry []int, afterSeq, toSeq, limit int) ([]store.DispatchRow, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []dispatchRow
	if len(retry) > 0 {
		if err := s.conn(ctx).Raw(`SELECT `+dispatchColumns+` `+dispatchFrom+`
			WHERE c.tenant_id = ? AND c.campaign_id = ? AND c.seq = ANY(?::int[]) ORDER BY c.seq`,
			tenantID, campaignID, intArray(retry)).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("campaign %s retried devices: %w", campaignID, classify(err))
		}
	}
	if n := limit - len(rows); n > 0 && afterSeq < toSeq {
		var next []dispatchRow
		if err := s.conn(ctx).Raw(`SELECT `+dispatchColumns+` `+dispatchFrom+`
			WHERE c.tenant_id = ? AND c.campaign_id = ? AND c.seq > ? AND c.seq <= ? ORDER BY c.seq LIMIT ?`,
			tenantID, campaignID, afterSeq, toSeq, n).Scan(&next).Error; err != nil {
			return nil, fmt.Errorf("campaign %s dispatch page: %w", campaignID, classify(err))
		}
		rows = append(rows, next...)
	}
	out := make([]store.DispatchRow, len(rows))
	for i, r := range rows {
		out[i] = r.row()
	}
	return out, nil
}

// RecordDispatch marks devices dispatched, in one transaction: the started ones with
// their run, the refused ones (another update holds them) final with refusedState and
// reason. Devices marked before (a repeated dispatch) are left as they are; a run that
// already recorded its outcome keeps it.
func (s *Store) RecordDispatch(ctx context.Context, tenantID, campaignID string, started []store.StartedRun, refused []string,
	refusedState model.DeviceState, reason string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	ids, wfs, runs := make([]string, len(started)), make([]string, len(started)), make([]string, len(started))
	for i, r := range started {
		ids[i], wfs[i], runs[i] = r.DeviceID, r.WorkflowID, r.RunID
	}
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if len(started) > 0 {
			if err := tx.Exec(`UPDATE campaign_devices c SET workflow_id = v.wf, run_id = v.run, acked_by = ''
				FROM unnest(?::text[], ?::text[], ?::text[]) AS v(device_id, wf, run)
				WHERE c.tenant_id = ? AND c.campaign_id = ? AND c.device_id = v.device_id AND c.acked_by IS NULL`,
				textArray(ids), textArray(wfs), textArray(runs), tenantID, campaignID).Error; err != nil {
				return classify(err)
			}
		}
		if len(refused) > 0 {
			if err := tx.Exec(`UPDATE campaign_devices SET acked_by = '', updated_at = now(),
				state = CASE WHEN state_rank < ? THEN ? ELSE state END,
				reason = CASE WHEN state_rank < ? THEN ? ELSE reason END,
				state_rank = greatest(state_rank, ?)
				WHERE tenant_id = ? AND campaign_id = ? AND device_id = ANY(?::text[]) AND acked_by IS NULL`,
				refusedState.Rank(), string(refusedState), refusedState.Rank(), reason, refusedState.Rank(),
				tenantID, campaignID, textArray(refused)).Error; err != nil {
				return classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record dispatch of campaign %s: %w", campaignID, err)
	}
	return nil
}

// RecordGroupDispatch marks devices dispatched in one run for them all (a FUOTA
// deployment, whose workflow id is known before it starts).
func (s *Store) RecordGroupDispatch(ctx context.Context, tenantID, campaignID string, deviceIDs []string, workflowID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(`UPDATE campaign_devices SET workflow_id = ?, run_id = '', acked_by = ''
		WHERE tenant_id = ? AND campaign_id = ? AND device_id = ANY(?::text[]) AND acked_by IS NULL`,
		workflowID, tenantID, campaignID, textArray(deviceIDs)).Error; err != nil {
		return fmt.Errorf("record dispatch of %d devices in %s: %w", len(deviceIDs), workflowID, classify(err))
	}
	return nil
}

type outcomeRow struct {
	Seq      int
	DeviceID string
	Wave     int
	State    string
	Reason   string
	Attempts int
}

// CollectOutcomes acknowledges, as ackID, the dispatched devices that have finished and
// were not collected yet (at most limit), and returns them. Asked again with the same
// ackID it returns the same devices: collections of one campaign are serialised, so a
// repeated collection running alongside the first still answers the same.
func (s *Store) CollectOutcomes(ctx context.Context, tenantID, campaignID, ackID string, limit int) ([]otaflow.DeviceOutcome, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []outcomeRow
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, "collect:"+campaignID).Error; err != nil {
			return classify(err)
		}
		if err := tx.Raw(`SELECT seq, device_id, wave, state, reason, attempts FROM campaign_devices
			WHERE tenant_id = ? AND campaign_id = ? AND acked_by = ?`, tenantID, campaignID, ackID).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		if len(rows) > 0 {
			return nil
		}
		if err := tx.Raw(`UPDATE campaign_devices c SET acked_by = ?
			FROM (SELECT device_id FROM campaign_devices WHERE tenant_id = ? AND campaign_id = ? AND acked_by = ''
				AND state_rank >= ? ORDER BY seq LIMIT ?) AS done
			WHERE c.campaign_id = ? AND c.device_id = done.device_id
			RETURNING c.seq, c.device_id, c.wave, c.state, c.reason, c.attempts`,
			ackID, tenantID, campaignID, model.StateSucceeded.Rank(), limit, campaignID).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		return appendRunsFinished(tx, tenantID, campaignID, rows)
	})
	if err != nil {
		return nil, fmt.Errorf("collect outcomes of campaign %s: %w", campaignID, err)
	}
	out := make([]otaflow.DeviceOutcome, len(rows))
	for i, r := range rows {
		out[i] = otaflow.DeviceOutcome{Seq: r.Seq, DeviceID: r.DeviceID, Wave: r.Wave, State: model.DeviceState(r.State),
			Reason: r.Reason, Attempts: r.Attempts}
	}
	return out, nil
}

// appendRunsFinished writes one device_runs.finished event for a newly collected batch
// of outcomes, in the transaction that acknowledges them (so once per batch), and one
// device.offline event for those of them whose device went silent during the update.
func appendRunsFinished(tx *gorm.DB, tenantID, campaignID string, rows []outcomeRow) error {
	if len(rows) == 0 {
		return nil
	}
	type run struct {
		DeviceID string `json:"device_id"`
		Wave     int    `json:"wave"`
		State    string `json:"state"`
		Reason   string `json:"reason,omitempty"`
		Attempt  int    `json:"attempt"`
	}
	runs := make([]run, len(rows))
	var offline []run
	for i, r := range rows {
		runs[i] = run{DeviceID: r.DeviceID, Wave: r.Wave, State: r.State, Reason: r.Reason, Attempt: r.Attempts}
		if webhook.WentOffline(r.State, r.Reason) {
			offline = append(offline, runs[i])
		}
	}
	payload, err := json.Marshal(map[string]any{"campaign_id": campaignID, "runs": runs})
	if err != nil {
		return err
	}
	events := []outboxEvent{{Type: webhook.DeviceRunsFinished, Payload: payload}}
	if len(offline) > 0 {
		if payload, err = json.Marshal(map[string]any{"campaign_id": campaignID, "devices": offline}); err != nil {
			return err
		}
		events = append(events, outboxEvent{Type: webhook.DeviceOffline, Payload: payload})
	}
	return appendWebhookEvents(tx, tenantID, campaignID, events)
}

// RecordWaveFinished writes a campaign's wave.finished event once: a repeated call for
// the same wave (a retried activity) writes nothing.
func (s *Store) RecordWaveFinished(ctx context.Context, tenantID, campaignID string, wave otaflow.WaveStats) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	payload, err := json.Marshal(map[string]any{"campaign_id": campaignID, "wave": wave})
	if err != nil {
		return fmt.Errorf("wave %d finished: %w", wave.Index, err)
	}
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockStream(tx, tenantID, campaignID); err != nil {
			return err
		}
		var n int64
		if err := tx.Raw(`SELECT count(*) FROM webhook_events WHERE tenant_id = ? AND stream = ? AND type = ?
			AND (payload->'wave'->>'index')::int = ?`, tenantID, campaignID, string(webhook.WaveFinished), wave.Index).
			Scan(&n).Error; err != nil {
			return classify(err)
		}
		if n > 0 {
			return nil
		}
		return appendWebhookEvents(tx, tenantID, campaignID, []outboxEvent{{Type: webhook.WaveFinished, Payload: payload}})
	})
	if err != nil {
		return fmt.Errorf("record wave %d of campaign %s finished: %w", wave.Index, campaignID, err)
	}
	return nil
}

// RunsInFlight lists the runs a campaign dispatched whose outcome has not come, those not
// heard of for idleFor (0: all), at most limit (0: no limit).
func (s *Store) RunsInFlight(ctx context.Context, tenantID, campaignID string, idleFor time.Duration, limit int) ([]store.RunRef, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	q := `SELECT device_id, workflow_id, run_id FROM campaign_devices WHERE tenant_id = ? AND campaign_id = ?
		AND acked_by = '' AND state_rank < ? AND workflow_id <> '' AND updated_at < now() - ?::interval ORDER BY seq`
	args := []any{tenantID, campaignID, model.StateSucceeded.Rank(), fmt.Sprintf("%d milliseconds", idleFor.Milliseconds())}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	var rows []store.RunRef
	if err := s.conn(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("runs in flight of campaign %s: %w", campaignID, classify(err))
	}
	return rows, nil
}

// EndRuns records devices whose run ended without an outcome as final in state, unless
// their row moved on meanwhile (a new run, or an outcome after all).
func (s *Store) EndRuns(ctx context.Context, tenantID, campaignID string, runs []store.RunRef, state model.DeviceState, reason string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	ids, wfs, rids := make([]string, len(runs)), make([]string, len(runs)), make([]string, len(runs))
	for i, r := range runs {
		ids[i], wfs[i], rids[i] = r.DeviceID, r.WorkflowID, r.RunID
	}
	if err := s.conn(ctx).Exec(`UPDATE campaign_devices c SET state = ?, state_rank = ?, reason = ?, updated_at = now()
		FROM unnest(?::text[], ?::text[], ?::text[]) AS v(device_id, wf, run)
		WHERE c.tenant_id = ? AND c.campaign_id = ? AND c.device_id = v.device_id AND c.workflow_id = v.wf
		AND c.run_id = v.run AND c.state_rank < ?`,
		string(state), state.Rank(), reason, textArray(ids), textArray(wfs), textArray(rids), tenantID, campaignID,
		state.Rank()).Error; err != nil {
		return fmt.Errorf("end %d runs of campaign %s: %w", len(runs), campaignID, classify(err))
	}
	// Their runs are closed: what they claimed is free.
	if err := s.conn(ctx).Exec(`UPDATE device_claims c SET held = false
		FROM unnest(?::text[], ?::text[], ?::text[]) AS v(device_id, wf, run)
		WHERE c.tenant_id = ? AND c.device_id = v.device_id AND c.workflow_id = v.wf AND c.run_id = v.run AND c.held`,
		textArray(ids), textArray(wfs), textArray(rids), tenantID).Error; err != nil {
		return fmt.Errorf("release claims of %d ended runs of campaign %s: %w", len(runs), campaignID, classify(err))
	}
	return nil
}

// RetryCampaignDevices puts finished devices back to PENDING for another run, undispatched.
func (s *Store) RetryCampaignDevices(ctx context.Context, tenantID, campaignID string, deviceIDs []string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(`UPDATE campaign_devices SET state = ?, state_rank = ?, reason = '', attempts = attempts + 1,
		workflow_id = '', run_id = '', acked_by = NULL, updated_at = now()
		WHERE tenant_id = ? AND campaign_id = ? AND device_id = ANY(?::text[]) AND state_rank = ?`,
		string(model.StatePending), model.StatePending.Rank(), tenantID, campaignID, textArray(deviceIDs),
		model.StateSucceeded.Rank()).Error; err != nil {
		return fmt.Errorf("retry %d devices of campaign %s: %w", len(deviceIDs), campaignID, classify(err))
	}
	return nil
}
