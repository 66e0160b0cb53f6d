package signing

import (
	"context"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/manifest"
)

// SignManifest signs m with the tenant's active command key. The key is looked up on
// every call, so a rotated-out key signs nothing after the rotation commits.
func (k *Keys) SignManifest(ctx context.Context, tenantID string, m *devicev1.Manifest) (*devicev1.SignedManifest, error) {
	key, err := k.Active(ctx, tenantID, manifest.PurposeCommand)
	if err != nil {
		return nil, err
	}
	priv, err := k.private(key)
	if err != nil {
		return nil, err
	}
	return manifest.Sign(priv, key.ID, m)
}
