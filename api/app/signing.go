package app

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/signing"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/proto/manifest"
)

// NewSigningKey asks for a tenant key. With a public key it registers an offline release
// key; without one it rotates the purpose's key to a new managed one.
type NewSigningKey struct {
	Purpose string `json:"purpose"`
	// PublicKey is a raw 32-byte Ed25519 public key in standard base64.
	PublicKey string `json:"public_key"`
}

func (s *service) SigningKeys(ctx context.Context, t model.Tenant) ([]model.SigningKey, error) {
	return s.keys.List(ctx, t.ID)
}

func (s *service) Trust(ctx context.Context, t model.Tenant) (manifest.TrustSet, error) {
	return s.keys.Trust(ctx, t.ID)
}

func (s *service) AddSigningKey(ctx context.Context, t model.Tenant, req NewSigningKey) (model.SigningKey, error) {
	purpose := manifest.Purpose(req.Purpose)
	if !signing.ValidPurpose(purpose) {
		return model.SigningKey{}, model.Fieldf("purpose", "must be %q or %q", manifest.PurposeRelease, manifest.PurposeCommand)
	}
	if req.PublicKey == "" {
		return s.keyChange(s.keys.Rotate(ctx, t.ID, purpose))
	}
	if purpose != manifest.PurposeRelease {
		return model.SigningKey{}, model.Fieldf("public_key",
			"only a release key can be offline: the control plane signs every command's manifest itself")
	}
	pub, err := decodeBase64(req.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return model.SigningKey{}, model.Fieldf("public_key", "must be a raw %d-byte Ed25519 public key in base64",
			ed25519.PublicKeySize)
	}
	return s.keyChange(s.keys.RegisterOfflineRelease(ctx, t.ID, pub))
}

// keyChange names the conflicts a key change can meet.
func (s *service) keyChange(k model.SigningKey, err error) (model.SigningKey, error) {
	switch {
	case errors.Is(err, store.ErrConflict) && strings.Contains(err.Error(), "signing_keys_pkey"):
		return model.SigningKey{}, model.Fieldf("public_key", "this key is already registered for the tenant")
	case errors.Is(err, store.ErrConflict):
		return model.SigningKey{}, fmt.Errorf("another key change for this purpose ran at the same time; retry: %w", ErrConflict)
	}
	return k, err
}

// releaseOf decides an upload's release. A managed release key numbers the image after
// the model's newest release and signs it; an offline one requires the upload's own
// counter and signature, checked against the image and the key.
func (s *service) releaseOf(ctx context.Context, fw model.Firmware, up FirmwareUpload) (store.ReleaseFunc, error) {
	key, err := s.keys.ReleaseKey(ctx, fw.TenantID)
	if err != nil {
		return nil, err
	}
	if !key.Offline() {
		for _, f := range [][2]string{{"release_counter", up.ReleaseCounter}, {"signature", up.Signature}} {
			if f[1] != "" {
				return nil, model.Fieldf(f[0], "must be empty: the tenant's release key %s is managed, and the control "+
					"plane numbers and signs each upload", key.Key.ID)
			}
		}
		return func(highest int64) (model.Release, error) {
			return key.Sign(signing.ReleaseOf(fw, highest+1))
		}, nil
	}
	offline := fmt.Sprintf("the tenant's release key %s is offline: sign the upload's release statement "+
		"(docs/device-protocol.md) and send release_counter and signature", key.Key.ID)
	if up.ReleaseCounter == "" {
		return nil, model.Fieldf("release_counter", "is required: %s", offline)
	}
	counter, err := strconv.ParseInt(up.ReleaseCounter, 10, 64)
	if err != nil || counter < 1 {
		return nil, model.Fieldf("release_counter", "must be a positive integer")
	}
	if up.Signature == "" {
		return nil, model.Fieldf("signature", "is required: %s", offline)
	}
	sig, err := decodeBase64(up.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, model.Fieldf("signature", "must be a %d-byte Ed25519 signature in base64", ed25519.SignatureSize)
	}
	if !key.Verify(signing.ReleaseOf(fw, counter), sig) {
		return nil, model.Fieldf("signature", "does not verify with release key %s over this upload's release "+
			"statement (tenant, hardware model, version, release_counter, size and sha256)", key.Key.ID)
	}
	return func(highest int64) (model.Release, error) {
		if counter <= highest {
			return model.Release{}, model.Fieldf("release_counter", "must exceed %d, the highest release counter of "+
				"hardware model %s", highest, fw.HardwareModel)
		}
		return model.Release{Counter: counter, Signature: sig, KeyID: key.Key.ID}, nil
	}, nil
}

// decodeBase64 takes standard base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
