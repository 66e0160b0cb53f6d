package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// RecordRunProgress implements store.Store: one statement records the report for the
// device's run and moves the run's campaign row forward. A report on a new command
// starts the device's row afresh; on the same command, states and percent only go
// forward and each state keeps the time it was first reached.
func (s *Store) RecordRunProgress(ctx context.Context, tenantID, deviceID, runID, commandID string, state model.DeviceState, percent int) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Exec(`WITH p AS (
		INSERT INTO device_run_progress AS p (tenant_id, device_id, command_id, state, state_rank, progress_percent,
			downloading_at, installing_at, heard_at)
		VALUES (@tenant, @device, @command, @state, @rank, @percent,
			CASE WHEN @state = 'DOWNLOADING' THEN now() END, CASE WHEN @state = 'INSTALLING' THEN now() END, now())
		ON CONFLICT (tenant_id, device_id) DO UPDATE SET
			command_id = EXCLUDED.command_id,
			state = CASE WHEN p.command_id = EXCLUDED.command_id AND p.state_rank >= EXCLUDED.state_rank
				THEN p.state ELSE EXCLUDED.state END,
			state_rank = CASE WHEN p.command_id = EXCLUDED.command_id
				THEN GREATEST(p.state_rank, EXCLUDED.state_rank) ELSE EXCLUDED.state_rank END,
			progress_percent = CASE WHEN p.command_id = EXCLUDED.command_id
				THEN GREATEST(p.progress_percent, EXCLUDED.progress_percent) ELSE EXCLUDED.progress_percent END,
			downloading_at = CASE WHEN p.command_id = EXCLUDED.command_id
				THEN COALESCE(p.downloading_at, EXCLUDED.downloading_at) ELSE EXCLUDED.downloading_at END,
			installing_at = CASE WHEN p.command_id = EXCLUDED.command_id
				THEN COALESCE(p.installing_at, EXCLUDED.installing_at) ELSE EXCLUDED.installing_at END,
			heard_at = EXCLUDED.heard_at
		RETURNING 1)
	UPDATE campaign_devices SET state = @state, state_rank = @rank, updated_at = now()
		WHERE tenant_id = @tenant AND device_id = @device AND run_id = @run AND state_rank < @rank`,
		map[string]any{"tenant": tenantID, "device": deviceID, "command": commandID, "state": string(state),
			"rank": state.Rank(), "percent": min(max(percent, 0), 100), "run": runID}).Error
	if err != nil {
		return fmt.Errorf("record progress of %s on %s: %w", deviceID, commandID, classify(err))
	}
	return nil
}

type runProgressRow struct {
	CommandID       string
	State           string
	ProgressPercent int
	DownloadingAt   *time.Time
	InstallingAt    *time.Time
	HeardAt         time.Time
}

// RunProgress implements store.Store; a device with no recorded progress has the zero
// RunProgress.
func (s *Store) RunProgress(ctx context.Context, tenantID, deviceID string) (otaflow.RunProgress, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []runProgressRow
	if err := s.conn(ctx).Raw(`SELECT command_id, state, progress_percent, downloading_at, installing_at, heard_at
		FROM device_run_progress WHERE tenant_id = ? AND device_id = ?`, tenantID, deviceID).Scan(&rows).Error; err != nil {
		return otaflow.RunProgress{}, fmt.Errorf("progress of %s: %w", deviceID, classify(err))
	}
	if len(rows) == 0 {
		return otaflow.RunProgress{}, nil
	}
	r := rows[0]
	return otaflow.RunProgress{CommandID: r.CommandID, State: model.DeviceState(r.State), ProgressPercent: r.ProgressPercent,
		DownloadingAt: utc(r.DownloadingAt), InstallingAt: utc(r.InstallingAt), HeardAt: r.HeardAt.UTC()}, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
