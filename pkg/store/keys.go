package store

import (
	"context"
	"time"

	"github.com/otaplane/ota/pkg/model"
)

// KeyStore keeps a tenant's API keys and settings.
type KeyStore interface {
	// KeyByHash finds the key with this hash that authenticates now (not revoked, not
	// past its expiry or grace) and its tenant; ErrNotFound otherwise.
	KeyByHash(ctx context.Context, hash []byte) (model.Tenant, model.APIKey, error)
	CreateAPIKey(ctx context.Context, k model.APIKey) error
	GetAPIKey(ctx context.Context, tenantID, id string) (model.APIKey, error)
	// ListAPIKeys pages by creation time; After is the id of the last key seen.
	ListAPIKeys(ctx context.Context, tenantID string, p Page) ([]model.APIKey, error)
	// RotateAPIKey stores next (same name, role and expiry as the key it replaces) and
	// lets key id work until graceEnd. ErrConflict when id no longer authenticates or
	// was rotated already.
	RotateAPIKey(ctx context.Context, tenantID, id string, next model.APIKey, graceEnd time.Time) (model.APIKey, error)
	// RevokeAPIKey revokes key id at once when decide, given the key and the number of
	// the tenant's active admin keys, allows it; revocations of one tenant are serialized.
	RevokeAPIKey(ctx context.Context, tenantID, id string, decide func(k model.APIKey, activeAdmins int) error) (model.APIKey, error)
	// SetFourEyes turns the tenant's four-eyes rule on or off.
	SetFourEyes(ctx context.Context, tenantID string, on bool) (model.Tenant, error)
}
