package model

import (
	"time"

	"github.com/otaplane/ota/proto/manifest"
)

// CredentialState is where one generation of a device's broker credentials stands.
type CredentialState string

const (
	CredentialActive CredentialState = "ACTIVE"
	// CredentialRetired: replaced by a rotation, and its grace period is over.
	CredentialRetired CredentialState = "RETIRED"
	CredentialRevoked CredentialState = "REVOKED"
)

// Credential is one generation of a device's broker identity; never its password.
type Credential struct {
	DeviceID   string          `json:"device_id"`
	Generation int             `json:"generation"`
	Username   string          `json:"username"`
	State      CredentialState `json:"state"`
	CreatedAt  time.Time       `json:"created_at"`
	// RetireAt is when a generation replaced by a rotation stops working.
	RetireAt *time.Time `json:"retire_at,omitempty"`
	EndedAt  *time.Time `json:"ended_at,omitempty"`
}

// IssuedCredential is what a device is given, once: only a hash of the password is kept.
type IssuedCredential struct {
	DeviceID   string `json:"device_id"`
	Generation int    `json:"generation"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	ClientID   string `json:"client_id"`
	Broker     string `json:"broker,omitempty"`
	// Trust is what the device pins to check its update manifests.
	Trust *manifest.TrustSet `json:"trust,omitempty"`
}
