package signing

import (
	"context"
	"crypto/ed25519"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/proto/manifest"
)

// ReleaseKey is a tenant's active release key, ready to sign (managed) or to check an
// upload's own signature (offline).
type ReleaseKey struct {
	Key  model.SigningKey
	priv ed25519.PrivateKey
}

// ReleaseKey returns the tenant's active release key.
func (k *Keys) ReleaseKey(ctx context.Context, tenantID string) (ReleaseKey, error) {
	key, err := k.Active(ctx, tenantID, manifest.PurposeRelease)
	if err != nil {
		return ReleaseKey{}, err
	}
	if !key.Managed {
		return ReleaseKey{Key: key}, nil
	}
	priv, err := k.private(key)
	if err != nil {
		return ReleaseKey{}, err
	}
	return ReleaseKey{Key: key, priv: priv}, nil
}

// Offline reports whether uploads must carry their own signature.
func (r ReleaseKey) Offline() bool { return r.priv == nil }

// Sign signs a release with a managed key (ErrOfflineKey for an offline one).
func (r ReleaseKey) Sign(rel manifest.Release) (model.Release, error) {
	if r.Offline() {
		return model.Release{}, ErrOfflineKey
	}
	sig, err := manifest.SignRelease(r.priv, rel)
	if err != nil {
		return model.Release{}, err
	}
	return model.Release{Counter: int64(rel.Counter), Signature: sig, KeyID: r.Key.ID}, nil
}

// Verify reports whether sig is this key's signature of rel.
func (r ReleaseKey) Verify(rel manifest.Release, sig []byte) bool {
	return manifest.VerifyRelease(r.Key.PublicKey, rel, sig)
}

// SignUnreleased gives the model's images uploaded before signing their releases, in
// version order after its newest release, signed with the tenant's managed release key
// (ErrOfflineKey when it is offline: such images must be uploaded again, signed).
func (k *Keys) SignUnreleased(ctx context.Context, tenantID, hardwareModel string) error {
	key, err := k.ReleaseKey(ctx, tenantID)
	if err != nil {
		return err
	}
	return k.store.AssignReleases(ctx, tenantID, hardwareModel, func(fw model.Firmware, counter int64) (model.Release, error) {
		return key.Sign(ReleaseOf(fw, counter))
	})
}

// ReleaseOf is the release statement's content for an image at counter.
func ReleaseOf(fw model.Firmware, counter int64) manifest.Release {
	return manifest.Release{TenantID: fw.TenantID, HardwareModel: fw.HardwareModel, Version: fw.Version,
		Counter: uint64(counter), SizeBytes: fw.SizeBytes, SHA256: fw.SHA256}
}
