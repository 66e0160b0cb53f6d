// Package signing keeps each tenant's Ed25519 keys for the control plane: it makes managed
// keys (sealed at rest with secretbox), rotates them, registers offline release keys, and
// signs release statements and device manifests with the active ones. What is signed,
// and how a device checks it, is proto/manifest.
package signing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/proto/manifest"
)

// ErrOfflineKey: the tenant's release key is offline, so the control plane cannot sign a
// release; its owner signs each upload.
var ErrOfflineKey = errors.New("the tenant's release key is offline: uploads carry their own signature")

// Store is the part of the store that holds keys and releases.
type Store interface {
	SigningKeys(ctx context.Context, tenantID string) ([]model.SigningKey, error)
	ActiveSigningKey(ctx context.Context, tenantID string, purpose manifest.Purpose) (model.SigningKey, error)
	EnsureSigningKey(ctx context.Context, k model.SigningKey) (model.SigningKey, error)
	ReplaceSigningKey(ctx context.Context, k model.SigningKey) (model.SigningKey, error)
	AssignReleases(ctx context.Context, tenantID, hardwareModel string,
		sign func(fw model.Firmware, counter int64) (model.Release, error)) error
}

// Keys is the control plane's key custody. It is safe for concurrent use.
type Keys struct {
	store Store
	box   *secretbox.Box

	mu sync.Mutex
	// opened holds private keys already unsealed, by sealPurpose: a key's sealed value
	// never changes, and opening one per signature would cost every command.
	opened map[string]ed25519.PrivateKey
}

// New returns the key custody over st; box seals and opens private keys.
func New(st Store, box *secretbox.Box) *Keys {
	return &Keys{store: st, box: box, opened: map[string]ed25519.PrivateKey{}}
}

// sealPurpose binds a sealed private key to its tenant and key id: copied into another
// row, it does not open.
func sealPurpose(tenantID, keyID string) string {
	return "signing_keys.private_key/" + tenantID + "/" + keyID
}

// purposes are the kinds of key every tenant has.
var purposes = []manifest.Purpose{manifest.PurposeCommand, manifest.PurposeRelease}

// ValidPurpose reports whether p names a kind of key.
func ValidPurpose(p manifest.Purpose) bool {
	return p == manifest.PurposeCommand || p == manifest.PurposeRelease
}

// newManaged makes a key pair and seals its private half.
func (k *Keys) newManaged(tenantID string, purpose manifest.Purpose) (model.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return model.SigningKey{}, fmt.Errorf("generate %s key: %w", purpose, err)
	}
	id := manifest.KeyID(pub)
	sealed, err := k.box.Seal(priv.Seed(), sealPurpose(tenantID, id))
	if err != nil {
		return model.SigningKey{}, fmt.Errorf("seal %s key: %w", purpose, err)
	}
	return model.SigningKey{ID: id, TenantID: tenantID, Purpose: purpose, PublicKey: pub, Managed: true, Sealed: sealed}, nil
}

// NewTenantKeys makes a new tenant's managed keys, one of each purpose, to be stored with
// the tenant.
func (k *Keys) NewTenantKeys(tenantID string) ([]model.SigningKey, error) {
	out := make([]model.SigningKey, len(purposes))
	for i, p := range purposes {
		key, err := k.newManaged(tenantID, p)
		if err != nil {
			return nil, err
		}
		out[i] = key
	}
	return out, nil
}

// EnsureTenant gives the tenant a managed key of each purpose it has none of.
func (k *Keys) EnsureTenant(ctx context.Context, tenantID string) error {
	for _, p := range purposes {
		if _, err := k.Active(ctx, tenantID, p); err != nil {
			return err
		}
	}
	return nil
}

// Active returns the tenant's key for purpose, making a managed one first when the
// tenant has none (a tenant created before signing).
func (k *Keys) Active(ctx context.Context, tenantID string, purpose manifest.Purpose) (model.SigningKey, error) {
	key, err := k.store.ActiveSigningKey(ctx, tenantID, purpose)
	if !errors.Is(err, store.ErrNotFound) {
		return key, err
	}
	fresh, err := k.newManaged(tenantID, purpose)
	if err != nil {
		return model.SigningKey{}, err
	}
	return k.store.EnsureSigningKey(ctx, fresh)
}

// private opens a managed key, once per process.
func (k *Keys) private(key model.SigningKey) (ed25519.PrivateKey, error) {
	if !key.Managed {
		return nil, ErrOfflineKey
	}
	purpose := sealPurpose(key.TenantID, key.ID)
	k.mu.Lock()
	priv, ok := k.opened[purpose]
	k.mu.Unlock()
	if ok {
		return priv, nil
	}
	seed, err := k.box.Open(key.Sealed, purpose)
	if errors.Is(err, secretbox.ErrOpen) || err == nil && len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s key %s: %w", key.Purpose, key.ID, store.ErrSecretUnreadable)
	}
	if err != nil {
		return nil, err
	}
	priv = ed25519.NewKeyFromSeed(seed)
	k.mu.Lock()
	k.opened[purpose] = priv
	k.mu.Unlock()
	return priv, nil
}

// Rotate retires the tenant's active key for purpose and makes a new managed one. A
// retired release key stays listed and trusted, so the images it signed stay
// verifiable; it never signs again.
func (k *Keys) Rotate(ctx context.Context, tenantID string, purpose manifest.Purpose) (model.SigningKey, error) {
	fresh, err := k.newManaged(tenantID, purpose)
	if err != nil {
		return model.SigningKey{}, err
	}
	return k.store.ReplaceSigningKey(ctx, fresh)
}

// RegisterOfflineRelease makes pub the tenant's release key; its private half stays with
// its owner, who signs every upload from now on. The previous release key is retired.
func (k *Keys) RegisterOfflineRelease(ctx context.Context, tenantID string, pub ed25519.PublicKey) (model.SigningKey, error) {
	return k.store.ReplaceSigningKey(ctx, model.SigningKey{ID: manifest.KeyID(pub), TenantID: tenantID,
		Purpose: manifest.PurposeRelease, PublicKey: pub})
}

// List returns every key of the tenant, retired ones included, oldest first.
func (k *Keys) List(ctx context.Context, tenantID string) ([]model.SigningKey, error) {
	if err := k.EnsureTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	return k.store.SigningKeys(ctx, tenantID)
}

// Trust returns what the tenant's devices pin: its id and every public key.
func (k *Keys) Trust(ctx context.Context, tenantID string) (manifest.TrustSet, error) {
	keys, err := k.List(ctx, tenantID)
	if err != nil {
		return manifest.TrustSet{}, err
	}
	t := manifest.TrustSet{TenantID: tenantID, Keys: make([]manifest.TrustedKey, len(keys))}
	for i, key := range keys {
		t.Keys[i] = manifest.TrustedKey{ID: key.ID, Purpose: key.Purpose, PublicKey: key.PublicKey, Retired: key.RetiredAt != nil}
	}
	return t, nil
}
