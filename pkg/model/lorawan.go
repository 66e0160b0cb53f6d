package model

import (
	"regexp"
	"strings"
	"time"
)

// ChirpStackSettings is how the worker reaches one tenant's ChirpStack.
type ChirpStackSettings struct {
	TenantID           string    `json:"-"`
	APIAddress         string    `json:"api_address"`
	APIToken           string    `json:"-"`
	ChirpStackTenantID string    `json:"chirpstack_tenant_id"`
	ApplicationID      string    `json:"application_id"`
	EventEncoding      string    `json:"event_encoding"`
	VersionFPort       int       `json:"version_fport"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// LoRaWANDevice is the LoRaWAN side of a device of transport lorawan.
type LoRaWANDevice struct {
	DeviceID        string     `json:"device_id"`
	DevEUI          string     `json:"dev_eui"`
	JoinEUI         string     `json:"join_eui,omitempty"`
	DeviceProfileID string     `json:"device_profile_id"`
	ApplicationID   string     `json:"application_id"`
	LastUplinkAt    *time.Time `json:"last_uplink_at,omitempty"`
	Margin          *int       `json:"margin,omitempty"`
	BatteryLevel    *float64   `json:"battery_level,omitempty"`
	RSSI            *int       `json:"rssi,omitempty"`
	SNR             *float64   `json:"snr,omitempty"`
}

var euiRE = regexp.MustCompile(`^[0-9a-f]{16}$`)
var keyRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// NormalizeEUI lower-cases an EUI-64 and checks it is 16 hex digits.
func NormalizeEUI(field, v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if !euiRE.MatchString(v) {
		return "", Fieldf(field, "must be 16 hexadecimal digits (EUI-64)")
	}
	return v, nil
}

// NormalizeKey lower-cases an AES-128 key and checks it is 32 hex digits.
func NormalizeKey(field, v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if !keyRE.MatchString(v) {
		return "", Fieldf(field, "must be 32 hexadecimal digits (AES-128 key)")
	}
	return v, nil
}

// ValidateChirpStackID checks a ChirpStack object id (a UUID).
func ValidateChirpStackID(field, v string) error {
	if !IsUUID(v) {
		return Fieldf(field, "must be a ChirpStack id (UUID)")
	}
	return nil
}

// LoRaWANDeviceRecord is a device of transport lorawan with its LoRaWAN side.
type LoRaWANDeviceRecord struct {
	Device
	LoRaWAN LoRaWANDevice `json:"lorawan"`
}
