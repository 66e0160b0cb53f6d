package store

import (
	"context"
	"time"

	"github.com/otaplane/ota/pkg/model"
)

// LoRaWANUplink is what one ChirpStack integration event says about a device; nil and
// empty fields leave the stored value alone.
type LoRaWANUplink struct {
	TenantID        string
	DevEUI          string
	SeenAt          time.Time
	RSSI            *int
	SNR             *float64
	Margin          *int
	BatteryLevel    *float64
	FirmwareVersion string
}

// LoRaWANUpdate changes the mirrored fields of a LoRaWAN device (nil = unchanged).
type LoRaWANUpdate struct {
	DeviceProfileID *string
	HardwareModel   *string
	Labels          map[string]string
}

// LoRaWANStore persists ChirpStack settings and the LoRaWAN side of devices.
type LoRaWANStore interface {
	// PutChirpStackSettings stores the settings with the API token sealed; an application
	// another tenant's settings name is ErrConflict.
	PutChirpStackSettings(ctx context.Context, s model.ChirpStackSettings) error
	// GetChirpStackSettings returns the settings with the token opened. A token that
	// cannot be opened answers the rest of the settings (token empty) with an error
	// wrapping ErrSecretUnreadable, so the settings can still be read and replaced.
	GetChirpStackSettings(ctx context.Context, tenantID string) (model.ChirpStackSettings, error)
	// ChirpStackSettingsByApplication finds the tenant a ChirpStack application belongs
	// to. Routing needs no credentials: APIToken is left empty.
	ChirpStackSettingsByApplication(ctx context.Context, applicationID string) (model.ChirpStackSettings, error)

	// CreateLoRaWANDevice writes the devices row (transport lorawan) and its LoRaWAN side
	// in one transaction; an existing id or DevEUI is ErrConflict.
	CreateLoRaWANDevice(ctx context.Context, d model.Device, l model.LoRaWANDevice) (model.LoRaWANDeviceRecord, error)
	GetLoRaWANDevice(ctx context.Context, tenantID, deviceID string) (model.LoRaWANDeviceRecord, error)
	LoRaWANDeviceByEUI(ctx context.Context, tenantID, devEUI string) (model.LoRaWANDeviceRecord, error)
	ListLoRaWANDevices(ctx context.Context, tenantID string, p Page) ([]model.LoRaWANDeviceRecord, error)
	UpdateLoRaWANDevice(ctx context.Context, tenantID, deviceID string, u LoRaWANUpdate) (model.LoRaWANDeviceRecord, error)
	// DeleteDevice removes a device and everything hanging off it.
	DeleteDevice(ctx context.Context, tenantID, deviceID string) error
	ApplyLoRaWANUplink(ctx context.Context, u LoRaWANUplink) error
}
