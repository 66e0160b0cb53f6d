package manifest

import "crypto/ed25519"

// Purpose says what a tenant key signs.
type Purpose string

const (
	// PurposeRelease keys sign release statements: which images exist.
	PurposeRelease Purpose = "release"
	// PurposeCommand keys sign manifests: which device installs which image, now.
	PurposeCommand Purpose = "command"
)

// TrustSet is what a device pins when it is provisioned: its tenant and the tenant's
// public keys. The API serves it (GET /api/v1/trust, and with a device's credentials).
type TrustSet struct {
	TenantID string       `json:"tenant_id"`
	Keys     []TrustedKey `json:"keys"`
}

// TrustedKey is one public key of the tenant.
type TrustedKey struct {
	ID      string  `json:"id"`
	Purpose Purpose `json:"purpose"`
	// PublicKey is the raw 32-byte Ed25519 key (base64 in JSON).
	PublicKey []byte `json:"public_key"`
	// Retired keys sign nothing new. A retired release key still vouches for the images
	// it signed; a retired command key is refused.
	Retired bool `json:"retired,omitempty"`
}

// key returns the usable key with this purpose and id.
func (t *TrustSet) key(p Purpose, id string) (ed25519.PublicKey, bool) {
	for _, k := range t.Keys {
		if k.Purpose != p || k.ID != id || len(k.PublicKey) != ed25519.PublicKeySize {
			continue
		}
		if k.Retired && p == PurposeCommand {
			return nil, false
		}
		return ed25519.PublicKey(k.PublicKey), true
	}
	return nil, false
}

// empty reports whether t gives a device nothing to verify with.
func (t *TrustSet) empty() bool { return t == nil || t.TenantID == "" || len(t.Keys) == 0 }
