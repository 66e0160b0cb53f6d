package postgres

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
)

type tenantRow struct {
	ID            string
	Name          string
	CadenceDomain string
	CreatedAt     time.Time
	FourEyes      bool
}

func (r tenantRow) model() model.Tenant {
	return model.Tenant{ID: r.ID, Name: r.Name, CadenceDomain: r.CadenceDomain, CreatedAt: r.CreatedAt, FourEyes: r.FourEyes}
}

// CreateTenant implements store.Store.
func (s *Store) CreateTenant(ctx context.Context, t model.Tenant, k model.APIKey, keys []model.SigningKey,
	beforeCommit func(context.Context) error) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO tenants (id, name, cadence_domain, created_at) VALUES (?, ?, ?, ?)`,
			t.ID, t.Name, t.CadenceDomain, t.CreatedAt).Error; err != nil {
			return classify(err)
		}
		k.TenantID = t.ID
		if err := insertAPIKey(tx, k); err != nil {
			return classify(err)
		}
		for _, sk := range keys {
			if err := tx.Exec(`INSERT INTO signing_keys (tenant_id, id, purpose, public_key, private_key_sealed)
				VALUES (?, ?, ?, ?, ?)`, t.ID, sk.ID, string(sk.Purpose), sk.PublicKey, sealedOrNull(sk)).Error; err != nil {
				return classify(err)
			}
		}
		if beforeCommit != nil {
			return beforeCommit(ctx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	return nil
}

// ListTenants implements store.Store.
func (s *Store) ListTenants(ctx context.Context) ([]model.Tenant, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []tenantRow
	if err := s.conn(ctx).Raw(`SELECT id, name, cadence_domain, created_at, four_eyes FROM tenants ORDER BY created_at, id`).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list tenants: %w", classify(err))
	}
	out := make([]model.Tenant, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}
