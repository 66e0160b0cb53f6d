package postgres

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

type credentialRow struct {
	DeviceID   string
	Generation int
	Username   string
	State      string
	CreatedAt  time.Time
	RetireAt   *time.Time
	EndedAt    *time.Time
}

func (r credentialRow) model() model.Credential {
	return model.Credential{DeviceID: r.DeviceID, Generation: r.Generation, Username: r.Username,
		State: model.CredentialState(r.State), CreatedAt: r.CreatedAt, RetireAt: r.RetireAt, EndedAt: r.EndedAt}
}

// credentialColumns computes the effective state: an ACTIVE generation past its
// retire_at is RETIRED.
const credentialColumns = `device_id, generation, username,
	CASE WHEN state = 'ACTIVE' AND retire_at IS NOT NULL AND retire_at <= now() THEN 'RETIRED' ELSE state END AS state,
	created_at, retire_at, ended_at`

// IssueCredentials records the next generation of each device's credentials, ACTIVE at
// once, all or nothing. With retireAfter ≥ 0 the generations they replace stop working
// that much later (a rotation); with retireAfter < 0 a device must have none (a first
// issue), else store.ErrConflict.
func (s *Store) IssueCredentials(ctx context.Context, tenantID string, issues []store.NewCredential,
	retireAfter time.Duration) ([]model.Credential, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	ids := make([]string, len(issues))
	for i, is := range issues {
		ids[i] = is.DeviceID
	}
	out := make([]model.Credential, 0, len(issues))
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []struct {
			ID   string
			Next int
			Live int
		}
		// Locks each device row: two issues for one device cannot pick one generation.
		if err := tx.Raw(`SELECT d.id,
				COALESCE((SELECT max(generation) FROM device_credentials c
					WHERE c.tenant_id = d.tenant_id AND c.device_id = d.id), 0) + 1 AS next,
				(SELECT count(*) FROM device_credentials c WHERE c.tenant_id = d.tenant_id AND c.device_id = d.id
					AND c.state = 'ACTIVE' AND (c.retire_at IS NULL OR c.retire_at > now())) AS live
			FROM devices d WHERE d.tenant_id = ? AND d.id = ANY(?::text[]) FOR UPDATE OF d`,
			tenantID, textArray(ids)).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		if len(rows) != len(ids) {
			return fmt.Errorf("%w: %d of %d devices", store.ErrNotFound, len(ids)-len(rows), len(ids))
		}
		next := make(map[string]int, len(rows))
		for _, r := range rows {
			if retireAfter < 0 && r.Live > 0 {
				return fmt.Errorf("%w: device %s has credentials", store.ErrConflict, r.ID)
			}
			next[r.ID] = r.Next
		}
		for _, is := range issues {
			if retireAfter >= 0 {
				if err := tx.Exec(`UPDATE device_credentials SET retire_at = now() + make_interval(secs => ?), updated_at = now()
					WHERE tenant_id = ? AND device_id = ? AND state = 'ACTIVE' AND (retire_at IS NULL OR retire_at > now() + make_interval(secs => ?))`,
					retireAfter.Seconds(), tenantID, is.DeviceID, retireAfter.Seconds()).Error; err != nil {
					return classify(err)
				}
			}
			var created []credentialRow
			if err := tx.Raw(`INSERT INTO device_credentials (tenant_id, device_id, generation, username, password_sha256, state)
				VALUES (?, ?, ?, ?, ?, 'ACTIVE') RETURNING `+credentialColumns,
				tenantID, is.DeviceID, next[is.DeviceID], is.UsernameOf(next[is.DeviceID]), is.PasswordSHA256).
				Scan(&created).Error; err != nil {
				return classify(err)
			}
			out = append(out, created[0].model())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("issue credentials: %w", err)
	}
	return out, nil
}

// RevokeCredentials ends every generation of a device's credentials at once; with
// deleteDevice the device record goes too, in the same transaction.
func (s *Store) RevokeCredentials(ctx context.Context, tenantID, deviceID string, deleteDevice bool) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE device_credentials SET state = 'REVOKED', ended_at = now(), updated_at = now()
			WHERE tenant_id = ? AND device_id = ? AND state <> 'REVOKED'`, tenantID, deviceID).Error; err != nil {
			return classify(err)
		}
		if !deleteDevice {
			return nil
		}
		res := tx.Exec(`DELETE FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, deviceID)
		if res.Error != nil {
			return classify(res.Error)
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke credentials of %s: %w", deviceID, err)
	}
	return nil
}

// DeviceCredentials lists every generation of a device's credentials, newest first.
func (s *Store) DeviceCredentials(ctx context.Context, tenantID, deviceID string) ([]model.Credential, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []credentialRow
	if err := s.conn(ctx).Raw(`SELECT `+credentialColumns+` FROM device_credentials
		WHERE tenant_id = ? AND device_id = ? ORDER BY generation DESC`, tenantID, deviceID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", deviceID, classify(err))
	}
	out := make([]model.Credential, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}
