package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// PutChirpStackSettings implements store.Store (insert or replace), the token sealed.
func (s *Store) PutChirpStackSettings(ctx context.Context, cs model.ChirpStackSettings) error {
	sealed, err := s.sealToken(cs.TenantID, cs.APIToken)
	if err != nil {
		return fmt.Errorf("put chirpstack settings: %w", err)
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err = s.conn(ctx).Exec(`INSERT INTO chirpstack_settings (tenant_id, api_address, api_token, api_token_sealed,
		chirpstack_tenant_id, application_id, event_encoding, version_fport, updated_at) VALUES (?, ?, '', ?, ?, ?, ?, ?, now())
		ON CONFLICT (tenant_id) DO UPDATE SET api_address = EXCLUDED.api_address, api_token = '',
		api_token_sealed = EXCLUDED.api_token_sealed, chirpstack_tenant_id = EXCLUDED.chirpstack_tenant_id,
		application_id = EXCLUDED.application_id, event_encoding = EXCLUDED.event_encoding,
		version_fport = EXCLUDED.version_fport, updated_at = now()`,
		cs.TenantID, cs.APIAddress, sealed, cs.ChirpStackTenantID, cs.ApplicationID, cs.EventEncoding, cs.VersionFPort).Error
	if err != nil {
		return fmt.Errorf("put chirpstack settings: %w", classify(err))
	}
	return nil
}

type chirpStackRow struct {
	TenantID           string
	APIAddress         string
	APIToken           string
	APITokenSealed     *string
	ChirpstackTenantID string
	ApplicationID      string
	EventEncoding      string
	VersionFport       int
	UpdatedAt          time.Time
}

func (r chirpStackRow) model() model.ChirpStackSettings {
	return model.ChirpStackSettings{TenantID: r.TenantID, APIAddress: r.APIAddress,
		ChirpStackTenantID: r.ChirpstackTenantID, ApplicationID: r.ApplicationID, EventEncoding: r.EventEncoding,
		VersionFPort: r.VersionFport, UpdatedAt: r.UpdatedAt}
}

func (s *Store) chirpStackSettings(ctx context.Context, where string, arg any) (chirpStackRow, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []chirpStackRow
	if err := s.conn(ctx).Raw(`SELECT tenant_id, api_address, api_token, api_token_sealed, chirpstack_tenant_id,
		application_id, event_encoding, version_fport, updated_at FROM chirpstack_settings WHERE `+where, arg).Scan(&rows).Error; err != nil {
		return chirpStackRow{}, fmt.Errorf("chirpstack settings: %w", classify(err))
	}
	if len(rows) == 0 {
		return chirpStackRow{}, fmt.Errorf("chirpstack settings: %w", classify(gorm.ErrRecordNotFound))
	}
	return rows[0], nil
}

// GetChirpStackSettings implements store.Store.
func (s *Store) GetChirpStackSettings(ctx context.Context, tenantID string) (model.ChirpStackSettings, error) {
	r, err := s.chirpStackSettings(ctx, "tenant_id = ?", tenantID)
	if err != nil {
		return model.ChirpStackSettings{}, err
	}
	out := r.model()
	if out.APIToken, err = s.openToken(r); err != nil {
		return out, fmt.Errorf("chirpstack settings of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// ChirpStackSettingsByApplication implements store.Store.
func (s *Store) ChirpStackSettingsByApplication(ctx context.Context, applicationID string) (model.ChirpStackSettings, error) {
	r, err := s.chirpStackSettings(ctx, "application_id = ?", applicationID)
	if err != nil {
		return model.ChirpStackSettings{}, err
	}
	return r.model(), nil
}

type loraRow struct {
	// Named and tagged: GORM skips an embedded unexported type, which would leave every
	// devices column empty.
	Device          deviceRow `gorm:"embedded"`
	DevEui          string
	JoinEui         string
	DeviceProfileID string
	ApplicationID   string
	LastUplinkAt    *time.Time
	Margin          *int
	BatteryLevel    *float64
	Rssi            *int
	Snr             *float64
}

func (r loraRow) model() (model.LoRaWANDeviceRecord, error) {
	d, err := r.Device.model()
	if err != nil {
		return model.LoRaWANDeviceRecord{}, err
	}
	return model.LoRaWANDeviceRecord{Device: d, LoRaWAN: model.LoRaWANDevice{DeviceID: d.ID, DevEUI: r.DevEui,
		JoinEUI: r.JoinEui, DeviceProfileID: r.DeviceProfileID, ApplicationID: r.ApplicationID,
		LastUplinkAt: r.LastUplinkAt, Margin: r.Margin, BatteryLevel: r.BatteryLevel, RSSI: r.Rssi, SNR: r.Snr}}, nil
}

const loraSelect = `SELECT d.tenant_id, d.id, d.transport, d.hardware_model, d.firmware_version, d.labels,
	d.reported_version, d.battery_percent, d.last_seen_at, d.created_at, d.updated_at,
	l.dev_eui, l.join_eui, l.device_profile_id, l.application_id, l.last_uplink_at, l.margin, l.battery_level,
	l.rssi, l.snr
	FROM devices d JOIN lorawan_devices l ON l.tenant_id = d.tenant_id AND l.device_id = d.id`

func (s *Store) loraDevices(ctx context.Context, where string, args ...any) ([]model.LoRaWANDeviceRecord, error) {
	var rows []loraRow
	if err := s.conn(ctx).Raw(loraSelect+" WHERE "+where, args...).Scan(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]model.LoRaWANDeviceRecord, 0, len(rows))
	for _, r := range rows {
		rec, err := r.model()
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func (s *Store) oneLoRaDevice(ctx context.Context, what, where string, args ...any) (model.LoRaWANDeviceRecord, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	recs, err := s.loraDevices(ctx, where, args...)
	if err != nil {
		return model.LoRaWANDeviceRecord{}, fmt.Errorf("lorawan device %s: %w", what, err)
	}
	if len(recs) == 0 {
		return model.LoRaWANDeviceRecord{}, fmt.Errorf("lorawan device %s: %w", what, classify(gorm.ErrRecordNotFound))
	}
	return recs[0], nil
}

// CreateLoRaWANDevice implements store.Store.
func (s *Store) CreateLoRaWANDevice(ctx context.Context, d model.Device, l model.LoRaWANDevice) (model.LoRaWANDeviceRecord, error) {
	labels, err := json.Marshal(d.Labels)
	if err != nil {
		return model.LoRaWANDeviceRecord{}, fmt.Errorf("create lorawan device: labels: %w", err)
	}
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO devices (tenant_id, id, transport, hardware_model, firmware_version, labels)
			VALUES (?, ?, ?, ?, ?, ?)`, d.TenantID, d.ID, string(model.TransportLoRaWAN), d.HardwareModel,
			d.FirmwareVersion, labels).Error; err != nil {
			return classify(err)
		}
		return classify(tx.Exec(`INSERT INTO lorawan_devices (tenant_id, device_id, dev_eui, join_eui, device_profile_id,
			application_id) VALUES (?, ?, ?, ?, ?, ?)`, d.TenantID, d.ID, l.DevEUI, l.JoinEUI, l.DeviceProfileID,
			l.ApplicationID).Error)
	})
	if err != nil {
		return model.LoRaWANDeviceRecord{}, fmt.Errorf("create lorawan device %s: %w", d.ID, err)
	}
	return s.GetLoRaWANDevice(ctx, d.TenantID, d.ID)
}

// GetLoRaWANDevice implements store.Store.
func (s *Store) GetLoRaWANDevice(ctx context.Context, tenantID, deviceID string) (model.LoRaWANDeviceRecord, error) {
	return s.oneLoRaDevice(ctx, deviceID, "d.tenant_id = ? AND d.id = ?", tenantID, deviceID)
}

// LoRaWANDeviceByEUI implements store.Store.
func (s *Store) LoRaWANDeviceByEUI(ctx context.Context, tenantID, devEUI string) (model.LoRaWANDeviceRecord, error) {
	return s.oneLoRaDevice(ctx, devEUI, "l.tenant_id = ? AND l.dev_eui = ?", tenantID, devEUI)
}

// ListLoRaWANDevices implements store.Store.
func (s *Store) ListLoRaWANDevices(ctx context.Context, tenantID string, p store.Page) ([]model.LoRaWANDeviceRecord, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	recs, err := s.loraDevices(ctx, "d.tenant_id = ? AND d.id > ? ORDER BY d.id LIMIT ?", tenantID, p.After, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list lorawan devices: %w", err)
	}
	return recs, nil
}

// UpdateLoRaWANDevice implements store.Store.
func (s *Store) UpdateLoRaWANDevice(ctx context.Context, tenantID, deviceID string, u store.LoRaWANUpdate) (model.LoRaWANDeviceRecord, error) {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if u.DeviceProfileID != nil {
			res := tx.Exec(`UPDATE lorawan_devices SET device_profile_id = ? WHERE tenant_id = ? AND device_id = ?`,
				*u.DeviceProfileID, tenantID, deviceID)
			if res.Error != nil {
				return classify(res.Error)
			}
			if res.RowsAffected == 0 {
				return classify(gorm.ErrRecordNotFound)
			}
		}
		if u.HardwareModel != nil {
			if err := tx.Exec(`UPDATE devices SET hardware_model = ?, updated_at = now() WHERE tenant_id = ? AND id = ?`,
				*u.HardwareModel, tenantID, deviceID).Error; err != nil {
				return classify(err)
			}
		}
		if u.Labels != nil {
			labels, err := json.Marshal(u.Labels)
			if err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE devices SET labels = ?, updated_at = now() WHERE tenant_id = ? AND id = ?`,
				labels, tenantID, deviceID).Error; err != nil {
				return classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return model.LoRaWANDeviceRecord{}, fmt.Errorf("update lorawan device %s: %w", deviceID, err)
	}
	return s.GetLoRaWANDevice(ctx, tenantID, deviceID)
}

// DeleteDevice implements store.Store.
func (s *Store) DeleteDevice(ctx context.Context, tenantID, deviceID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	res := s.conn(ctx).Exec(`DELETE FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, deviceID)
	if res.Error != nil {
		return fmt.Errorf("delete device %s: %w", deviceID, classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete device %s: %w", deviceID, classify(gorm.ErrRecordNotFound))
	}
	return nil
}

// ApplyLoRaWANUplink implements store.Store: the LoRaWAN side and the device's liveness,
// battery and reported version (which check_device_ready reads) in one transaction.
func (s *Store) ApplyLoRaWANUplink(ctx context.Context, u store.LoRaWANUplink) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var battery *int
	if u.BatteryLevel != nil {
		b := int(*u.BatteryLevel + 0.5)
		battery = &b
	}
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Raw(`UPDATE lorawan_devices SET last_uplink_at = GREATEST(COALESCE(last_uplink_at, ?), ?),
			rssi = COALESCE(?, rssi), snr = COALESCE(?, snr), margin = COALESCE(?, margin),
			battery_level = COALESCE(?, battery_level)
			WHERE tenant_id = ? AND dev_eui = ? RETURNING device_id`,
			u.SeenAt, u.SeenAt, u.RSSI, u.SNR, u.Margin, u.BatteryLevel, u.TenantID, u.DevEUI).Pluck("device_id", &ids).Error; err != nil {
			return classify(err)
		}
		if len(ids) == 0 {
			return classify(gorm.ErrRecordNotFound)
		}
		return classify(tx.Exec(`UPDATE devices SET last_seen_at = GREATEST(COALESCE(last_seen_at, ?), ?),
			reported_version = COALESCE(NULLIF(?, ''), reported_version),
			battery_percent = COALESCE(?, battery_percent) WHERE tenant_id = ? AND id = ?`,
			u.SeenAt, u.SeenAt, u.FirmwareVersion, battery, u.TenantID, ids[0]).Error)
	})
	if err != nil {
		return fmt.Errorf("apply uplink of %s: %w", u.DevEUI, err)
	}
	return nil
}
