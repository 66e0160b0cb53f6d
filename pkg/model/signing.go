package model

import (
	"time"

	"github.com/otaplane/ota/proto/manifest"
)

// SigningKey is one of a tenant's Ed25519 keys (docs/device-protocol.md, "Signed
// manifest"). Only its public half is ever shown.
type SigningKey struct {
	ID        string           `json:"id"`
	TenantID  string           `json:"-"`
	Purpose   manifest.Purpose `json:"purpose"`
	PublicKey []byte           `json:"public_key"`
	// Managed: the control plane holds the private key (sealed) and signs with it.
	// An offline release key's owner signs every upload elsewhere.
	Managed   bool       `json:"managed"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// Sealed is the private key sealed with secrets.encryption_key; empty when offline.
	Sealed string `json:"-"`
}

// Release is an image's place in its hardware model's release order and the release
// key's signature over its statement.
type Release struct {
	Counter   int64
	Signature []byte
	KeyID     string
}
