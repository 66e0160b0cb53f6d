package postgres

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/proto/manifest"
)

type signingKeyRow struct {
	TenantID         string
	ID               string
	Purpose          string
	PublicKey        []byte
	PrivateKeySealed *string
	CreatedAt        time.Time
	RetiredAt        *time.Time
}

func (r signingKeyRow) model() model.SigningKey {
	k := model.SigningKey{ID: r.ID, TenantID: r.TenantID, Purpose: manifest.Purpose(r.Purpose), PublicKey: r.PublicKey,
		Managed: r.PrivateKeySealed != nil, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt}
	if r.PrivateKeySealed != nil {
		k.Sealed = *r.PrivateKeySealed
	}
	return k
}

const signingKeyColumns = `tenant_id, id, purpose, public_key, private_key_sealed, created_at, retired_at`

func sealedOrNull(k model.SigningKey) *string {
	if k.Sealed == "" {
		return nil
	}
	return &k.Sealed
}

// SigningKeys returns every key of the tenant, retired ones included, oldest first.
func (s *Store) SigningKeys(ctx context.Context, tenantID string) ([]model.SigningKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []signingKeyRow
	if err := s.conn(ctx).Raw(`SELECT `+signingKeyColumns+` FROM signing_keys WHERE tenant_id = ?
		ORDER BY created_at, id`, tenantID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list signing keys: %w", classify(err))
	}
	out := make([]model.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}

// ActiveSigningKey returns the tenant's key that signs for purpose now
// (store.ErrNotFound when it has none).
func (s *Store) ActiveSigningKey(ctx context.Context, tenantID string, purpose manifest.Purpose) (model.SigningKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []signingKeyRow
	if err := s.conn(ctx).Raw(`SELECT `+signingKeyColumns+` FROM signing_keys
		WHERE tenant_id = ? AND purpose = ? AND retired_at IS NULL`, tenantID, string(purpose)).Scan(&rows).Error; err != nil {
		return model.SigningKey{}, fmt.Errorf("active %s key: %w", purpose, classify(err))
	}
	if len(rows) == 0 {
		return model.SigningKey{}, fmt.Errorf("active %s key: %w", purpose, classify(gorm.ErrRecordNotFound))
	}
	return rows[0].model(), nil
}

// EnsureSigningKey stores k unless the tenant already has an active key for its purpose,
// and returns the active one: processes racing to give a tenant its first key agree on
// one.
func (s *Store) EnsureSigningKey(ctx context.Context, k model.SigningKey) (model.SigningKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(`INSERT INTO signing_keys (tenant_id, id, purpose, public_key, private_key_sealed)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, purpose) WHERE retired_at IS NULL DO NOTHING`,
		k.TenantID, k.ID, string(k.Purpose), k.PublicKey, sealedOrNull(k)).Error; err != nil {
		return model.SigningKey{}, fmt.Errorf("ensure %s key: %w", k.Purpose, classify(err))
	}
	return s.ActiveSigningKey(ctx, k.TenantID, k.Purpose)
}

// ReplaceSigningKey retires the tenant's active key for k's purpose and stores k as the
// active one, together. store.ErrConflict: the key is already registered, or another
// replacement won the race.
func (s *Store) ReplaceSigningKey(ctx context.Context, k model.SigningKey) (model.SigningKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var out model.SigningKey
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE signing_keys SET retired_at = now()
			WHERE tenant_id = ? AND purpose = ? AND retired_at IS NULL`, k.TenantID, string(k.Purpose)).Error; err != nil {
			return classify(err)
		}
		var rows []signingKeyRow
		if err := tx.Raw(`INSERT INTO signing_keys (tenant_id, id, purpose, public_key, private_key_sealed)
			VALUES (?, ?, ?, ?, ?) RETURNING `+signingKeyColumns,
			k.TenantID, k.ID, string(k.Purpose), k.PublicKey, sealedOrNull(k)).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		out = rows[0].model()
		return nil
	})
	if err != nil {
		return model.SigningKey{}, fmt.Errorf("replace %s key: %w", k.Purpose, err)
	}
	return out, nil
}
