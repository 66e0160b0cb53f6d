package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

type deviceRow struct {
	TenantID        string
	ID              string
	Transport       string
	HardwareModel   string
	FirmwareVersion string
	Labels          []byte
	ReportedVersion string
	BatteryPercent  *int
	LastSeenAt      *time.Time
	BootCount       int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (r deviceRow) model() (model.Device, error) {
	labels := map[string]string{}
	if len(r.Labels) > 0 {
		if err := json.Unmarshal(r.Labels, &labels); err != nil {
			return model.Device{}, fmt.Errorf("device %s labels: %w", r.ID, err)
		}
	}
	return model.Device{
		TenantID: r.TenantID, ID: r.ID, Transport: model.Transport(r.Transport),
		HardwareModel: r.HardwareModel, FirmwareVersion: r.FirmwareVersion, Labels: labels,
		ReportedVersion: r.ReportedVersion, BatteryPercent: r.BatteryPercent, LastSeenAt: r.LastSeenAt,
		BootCount: r.BootCount, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}, nil
}

const deviceColumns = `tenant_id, id, transport, hardware_model, firmware_version, labels, reported_version,
	battery_percent, last_seen_at, boot_count, created_at, updated_at`

// CreateDevice implements store.Store.
func (s *Store) CreateDevice(ctx context.Context, d model.Device) (model.Device, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	labels, err := json.Marshal(d.Labels)
	if err != nil {
		return model.Device{}, fmt.Errorf("create device: labels: %w", err)
	}
	var rows []deviceRow
	err = s.conn(ctx).Raw(`INSERT INTO devices (tenant_id, id, transport, hardware_model, firmware_version, labels)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING `+deviceColumns,
		d.TenantID, d.ID, string(d.Transport), d.HardwareModel, d.FirmwareVersion, labels).Scan(&rows).Error
	if err != nil {
		return model.Device{}, fmt.Errorf("create device %s: %w", d.ID, classify(err))
	}
	return rows[0].model()
}

// GetDevice implements store.Store.
func (s *Store) GetDevice(ctx context.Context, tenantID, deviceID string) (model.Device, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []deviceRow
	if err := s.conn(ctx).Raw(`SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id = ?`,
		tenantID, deviceID).Scan(&rows).Error; err != nil {
		return model.Device{}, fmt.Errorf("get device %s: %w", deviceID, classify(err))
	}
	if len(rows) == 0 {
		return model.Device{}, fmt.Errorf("get device %s: %w", deviceID, classify(gorm.ErrRecordNotFound))
	}
	return rows[0].model()
}

// DevicesByID implements store.Store.
func (s *Store) DevicesByID(ctx context.Context, tenantID string, ids []string) ([]model.Device, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []deviceRow
	if err := s.conn(ctx).Raw(`SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id = ANY(?::text[])`,
		tenantID, textArray(ids)).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("devices by id: %w", classify(err))
	}
	out := make([]model.Device, 0, len(rows))
	for _, r := range rows {
		d, err := r.model()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ListDevices implements store.Store.
func (s *Store) ListDevices(ctx context.Context, tenantID string, p store.Page) ([]model.Device, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []deviceRow
	if err := s.conn(ctx).Raw(`SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
		tenantID, p.After, p.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list devices: %w", classify(err))
	}
	out := make([]model.Device, 0, len(rows))
	for _, r := range rows {
		d, err := r.model()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ApplyHeartbeats implements store.Store with one statement per batch: heartbeats of a
// large fleet arrive by the thousand per second.
func (s *Store) ApplyHeartbeats(ctx context.Context, hbs []store.Heartbeat) error {
	if len(hbs) == 0 {
		return nil
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var sb strings.Builder
	args := make([]any, 0, len(hbs)*7)
	sb.WriteString(`UPDATE devices d SET last_seen_at = v.seen, reported_version = v.version,
		battery_percent = v.battery,
		boot_count = CASE WHEN v.boots > 0 THEN v.boots
			WHEN v.uptime < d.uptime_seconds THEN d.boot_count + 1
			ELSE d.boot_count END,
		uptime_seconds = v.uptime
		FROM (VALUES `)
	for i, h := range hbs {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(?::uuid, ?::text, ?::text, ?::integer, ?::timestamptz, ?::bigint, ?::bigint)")
		args = append(args, h.TenantID, h.DeviceID, h.FirmwareVersion, h.BatteryPercent, h.SeenAt, h.BootCount, h.UptimeSeconds)
	}
	sb.WriteString(`) AS v(tenant_id, id, version, battery, seen, boots, uptime)
		WHERE d.tenant_id = v.tenant_id AND d.id = v.id AND (d.last_seen_at IS NULL OR d.last_seen_at <= v.seen)`)
	if err := s.conn(ctx).Exec(sb.String(), args...).Error; err != nil {
		return fmt.Errorf("apply %d heartbeats: %w", len(hbs), classify(err))
	}
	return nil
}

type historyRow struct {
	ID             int64
	DeviceID       string
	CampaignID     *string
	FirmwareID     *string
	FromVersion    string
	ToVersion      string
	Outcome        string
	Reason         string
	RunningVersion string
	WorkflowID     string
	RunID          string
	CreatedAt      time.Time
}

// DeviceHistory implements store.Store.
func (s *Store) DeviceHistory(ctx context.Context, tenantID, deviceID string, limit int) ([]model.FirmwareHistory, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []historyRow
	if err := s.conn(ctx).Raw(`SELECT id, device_id, campaign_id::text, firmware_id::text, from_version, to_version,
		outcome, reason, running_version, workflow_id, run_id, created_at FROM device_firmware_history
		WHERE tenant_id = ? AND device_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
		tenantID, deviceID, limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("device history %s: %w", deviceID, classify(err))
	}
	out := make([]model.FirmwareHistory, len(rows))
	for i, r := range rows {
		out[i] = model.FirmwareHistory{
			ID: r.ID, DeviceID: r.DeviceID, CampaignID: deref(r.CampaignID), FirmwareID: deref(r.FirmwareID),
			FromVersion: r.FromVersion, ToVersion: r.ToVersion, Outcome: model.DeviceState(r.Outcome),
			Reason: r.Reason, RunningVersion: r.RunningVersion, WorkflowID: r.WorkflowID, RunID: r.RunID,
			CreatedAt: r.CreatedAt,
		}
	}
	return out, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
