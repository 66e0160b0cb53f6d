package postgres

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

type apiKeyRow struct {
	ID        string
	TenantID  string
	Name      string
	Role      int
	Prefix    string
	KeyHash   []byte
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
	RotatedAt *time.Time
	RotatedTo *string
}

func (r apiKeyRow) model() model.APIKey {
	return model.APIKey{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Role: access.Role(r.Role), Prefix: r.Prefix,
		Hash: r.KeyHash, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, RotatedAt: r.RotatedAt,
		RotatedTo: deref(r.RotatedTo)}
}

const apiKeyColumns = `k.id, k.tenant_id, k.name, k.role, k.prefix, k.key_hash, k.created_at, k.expires_at,
	k.revoked_at, k.rotated_at, k.rotated_to::text`

// authenticates is the SQL twin of access.KeyState.Authenticates, evaluated at the
// database's clock so every API replica agrees.
const authenticates = `k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`

// KeyByHash implements store.KeyStore: one lookup on the unique hash index per request
// that the api's key cache does not answer.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (model.Tenant, model.APIKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []struct {
		Key            apiKeyRow `gorm:"embedded"`
		TName          string
		TCadenceDomain string
		TCreatedAt     time.Time
		TFourEyes      bool
	}
	err := s.conn(ctx).Raw(`SELECT `+apiKeyColumns+`, t.name AS t_name, t.cadence_domain AS t_cadence_domain,
		t.created_at AS t_created_at, t.four_eyes AS t_four_eyes
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = ? AND `+authenticates, hash).
		Scan(&rows).Error
	if err != nil {
		return model.Tenant{}, model.APIKey{}, fmt.Errorf("key by hash: %w", classify(err))
	}
	if len(rows) == 0 {
		return model.Tenant{}, model.APIKey{}, fmt.Errorf("key by hash: %w", store.ErrNotFound)
	}
	r := rows[0]
	return model.Tenant{ID: r.Key.TenantID, Name: r.TName, CadenceDomain: r.TCadenceDomain, CreatedAt: r.TCreatedAt,
		FourEyes: r.TFourEyes}, r.Key.model(), nil
}

func insertAPIKey(db *gorm.DB, k model.APIKey) error {
	return db.Exec(`INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.TenantID, k.Name, int(k.Role), k.Prefix, k.Hash, k.CreatedAt,
		k.ExpiresAt).Error
}

// CreateAPIKey implements store.KeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k model.APIKey) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := insertAPIKey(s.conn(ctx), k); err != nil {
		return fmt.Errorf("create api key: %w", classify(err))
	}
	return nil
}

// GetAPIKey implements store.KeyStore.
func (s *Store) GetAPIKey(ctx context.Context, tenantID, id string) (model.APIKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	return getAPIKey(s.conn(ctx), tenantID, id, false)
}

func getAPIKey(db *gorm.DB, tenantID, id string, forUpdate bool) (model.APIKey, error) {
	if !model.IsUUID(id) {
		return model.APIKey{}, fmt.Errorf("api key %q: %w", id, store.ErrNotFound)
	}
	q := db.Raw(`SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.tenant_id = ? AND k.id = ?`, tenantID, id)
	if forUpdate {
		q = db.Raw(`SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.tenant_id = ? AND k.id = ? FOR UPDATE`, tenantID, id)
	}
	var rows []apiKeyRow
	if err := q.Scan(&rows).Error; err != nil {
		return model.APIKey{}, fmt.Errorf("api key %s: %w", id, classify(err))
	}
	if len(rows) == 0 {
		return model.APIKey{}, fmt.Errorf("api key %s: %w", id, store.ErrNotFound)
	}
	return rows[0].model(), nil
}

// ListAPIKeys implements store.KeyStore.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string, p store.Page) ([]model.APIKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	q := s.conn(ctx).Table("api_keys AS k").Select(apiKeyColumns).Where("k.tenant_id = ?", tenantID)
	if p.After != "" {
		if !model.IsUUID(p.After) {
			return nil, model.Fieldf("after", "must be the id of a key from the previous page")
		}
		q = q.Where(`(k.created_at, k.id) > (SELECT created_at, id FROM api_keys WHERE tenant_id = ? AND id = ?::uuid)`,
			tenantID, p.After)
	}
	var rows []apiKeyRow
	if err := q.Order(clause.OrderBy{Expression: clause.Expr{SQL: "k.created_at, k.id"}}).Limit(p.Limit).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list api keys: %w", classify(err))
	}
	out := make([]model.APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}

// RotateAPIKey implements store.KeyStore.
func (s *Store) RotateAPIKey(ctx context.Context, tenantID, id string, next model.APIKey, graceEnd time.Time) (model.APIKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var old model.APIKey
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		k, err := getAPIKey(tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if k.Times().StateAt(time.Now()) != access.KeyActive {
			return fmt.Errorf("api key %s is %s: %w", id, k.Times().StateAt(time.Now()), store.ErrConflict)
		}
		next.TenantID, next.Name, next.Role, next.ExpiresAt = tenantID, k.Name, k.Role, k.ExpiresAt
		if err := insertAPIKey(tx, next); err != nil {
			return classify(err)
		}
		if err := tx.Exec(`UPDATE api_keys SET rotated_at = now(), rotated_to = ?, expires_at = ? WHERE id = ?`,
			next.ID, graceEnd, id).Error; err != nil {
			return classify(err)
		}
		old, err = getAPIKey(tx, tenantID, id, false)
		return err
	})
	if err != nil {
		return model.APIKey{}, fmt.Errorf("rotate api key: %w", err)
	}
	return old, nil
}

// RevokeAPIKey implements store.KeyStore. Locking the tenant row serializes revocations,
// so two admins revoking each other cannot both succeed.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id string,
	decide func(k model.APIKey, activeAdmins int) error) (model.APIKey, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var out model.APIKey
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT 1 FROM tenants WHERE id = ? FOR UPDATE`, tenantID).Error; err != nil {
			return classify(err)
		}
		k, err := getAPIKey(tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if k.RevokedAt != nil {
			out = k // revoking twice changes nothing
			return nil
		}
		var admins int
		if err := tx.Raw(`SELECT count(*) FROM api_keys k WHERE k.tenant_id = ? AND k.role = ? AND k.rotated_at IS NULL
			AND `+authenticates, tenantID, int(access.RoleAdmin)).Scan(&admins).Error; err != nil {
			return classify(err)
		}
		if err := decide(k, admins); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE api_keys SET revoked_at = now() WHERE id = ?`, id).Error; err != nil {
			return classify(err)
		}
		out, err = getAPIKey(tx, tenantID, id, false)
		return err
	})
	if err != nil {
		return model.APIKey{}, fmt.Errorf("revoke api key: %w", err)
	}
	return out, nil
}

// SetFourEyes implements store.KeyStore.
func (s *Store) SetFourEyes(ctx context.Context, tenantID string, on bool) (model.Tenant, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []tenantRow
	if err := s.conn(ctx).Raw(`UPDATE tenants SET four_eyes = ? WHERE id = ?
		RETURNING id, name, cadence_domain, created_at, four_eyes`, on, tenantID).Scan(&rows).Error; err != nil {
		return model.Tenant{}, fmt.Errorf("set four-eyes: %w", classify(err))
	}
	if len(rows) == 0 {
		return model.Tenant{}, fmt.Errorf("set four-eyes: %w", store.ErrNotFound)
	}
	return rows[0].model(), nil
}
