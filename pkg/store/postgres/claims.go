package postgres

import (
	"context"
	"fmt"

	"github.com/otaplane/ota/pkg/store"
)

// ClaimDevice claims a device for a run unless another run holds it, and returns the
// claim as it stands: the run's own when it got it (or had it already), the holder's
// otherwise. One statement when the claim is free or already the run's.
func (s *Store) ClaimDevice(ctx context.Context, tenantID, deviceID, workflowID, runID string) (store.Claim, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []store.Claim
	err := s.conn(ctx).Raw(`INSERT INTO device_claims AS c (tenant_id, device_id, workflow_id, run_id)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, device_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id,
			run_id = EXCLUDED.run_id, held = true, claimed_at = now()
		WHERE NOT c.held
		RETURNING workflow_id, run_id, held`, tenantID, deviceID, workflowID, runID).Scan(&rows).Error
	if err != nil {
		return store.Claim{}, fmt.Errorf("claim %s for %s: %w", deviceID, workflowID, classify(err))
	}
	if len(rows) == 1 {
		return rows[0], nil
	}
	c, _, err := s.DeviceClaim(ctx, tenantID, deviceID)
	return c, err
}

// DeviceClaim reads a device's claim; false when no run ever claimed it.
func (s *Store) DeviceClaim(ctx context.Context, tenantID, deviceID string) (store.Claim, bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []store.Claim
	if err := s.conn(ctx).Raw(`SELECT workflow_id, run_id, held FROM device_claims WHERE tenant_id = ? AND device_id = ?`,
		tenantID, deviceID).Scan(&rows).Error; err != nil {
		return store.Claim{}, false, fmt.Errorf("claim of %s: %w", deviceID, classify(err))
	}
	if len(rows) == 0 {
		return store.Claim{}, false, nil
	}
	return rows[0], true, nil
}

// TakeOverClaim moves a device's claim from a run that has ended without releasing it to
// another run. False: the claim changed meanwhile (released, or taken by someone else).
func (s *Store) TakeOverClaim(ctx context.Context, tenantID, deviceID string, from store.Claim, workflowID, runID string) (bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	res := s.conn(ctx).Exec(`UPDATE device_claims SET workflow_id = ?, run_id = ?, held = true, claimed_at = now()
		WHERE tenant_id = ? AND device_id = ? AND workflow_id = ? AND run_id = ? AND held`,
		workflowID, runID, tenantID, deviceID, from.WorkflowID, from.RunID)
	if res.Error != nil {
		return false, fmt.Errorf("take over claim of %s: %w", deviceID, classify(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// ReleaseClaim releases a device's claim if the run named holds it.
func (s *Store) ReleaseClaim(ctx context.Context, tenantID, deviceID, workflowID, runID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(releaseClaim, tenantID, deviceID, workflowID, runID).Error; err != nil {
		return fmt.Errorf("release claim of %s: %w", deviceID, classify(err))
	}
	return nil
}

// releaseClaim is shared by ReleaseClaim and the outcome's transaction.
const releaseClaim = `UPDATE device_claims SET held = false
	WHERE tenant_id = ? AND device_id = ? AND workflow_id = ? AND run_id = ? AND held`
