package postgres

import (
	"context"
	"fmt"
	"time"
)

// RegisterSession records a worker's MQTT session as alive, taking it back from any
// worker that had claimed it while its owner was gone.
func (s *Store) RegisterSession(ctx context.Context, clientID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Exec(`INSERT INTO mqtt_sessions (client_id, seen_at) VALUES (?, now())
		ON CONFLICT (client_id) DO UPDATE SET seen_at = now(), stopped_at = NULL, claimed_by = NULL, claimed_until = NULL`,
		clientID).Error
	if err != nil {
		return fmt.Errorf("register mqtt session %s: %w", clientID, classify(err))
	}
	return nil
}

// TouchSession keeps a live worker's session row fresh (re-creating it if it was
// forgotten meanwhile).
func (s *Store) TouchSession(ctx context.Context, clientID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Exec(`INSERT INTO mqtt_sessions (client_id, seen_at) VALUES (?, now())
		ON CONFLICT (client_id) DO UPDATE SET seen_at = now() WHERE mqtt_sessions.stopped_at IS NULL`, clientID).Error
	if err != nil {
		return fmt.Errorf("touch mqtt session %s: %w", clientID, classify(err))
	}
	return nil
}

// StopSession marks a worker's session as left behind by a graceful shutdown.
func (s *Store) StopSession(ctx context.Context, clientID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(`UPDATE mqtt_sessions SET stopped_at = now() WHERE client_id = ?`, clientID).Error; err != nil {
		return fmt.Errorf("stop mqtt session %s: %w", clientID, classify(err))
	}
	return nil
}

// ClaimOrphanSession claims, for claimFor, one session whose owner stopped or has not
// been seen for staleAfter; ok is false when there is none. Claims are exclusive.
func (s *Store) ClaimOrphanSession(ctx context.Context, self string, staleAfter, claimFor time.Duration) (string, bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var ids []string
	err := s.conn(ctx).Raw(`UPDATE mqtt_sessions SET claimed_by = ?, claimed_until = now() + make_interval(secs => ?)
		WHERE client_id = (
			SELECT client_id FROM mqtt_sessions
			WHERE client_id <> ?
			  AND (stopped_at IS NOT NULL OR seen_at < now() - make_interval(secs => ?))
			  AND (claimed_until IS NULL OR claimed_until < now())
			ORDER BY seen_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING client_id`, self, claimFor.Seconds(), self, staleAfter.Seconds()).Scan(&ids).Error
	if err != nil {
		return "", false, fmt.Errorf("claim orphaned mqtt session: %w", classify(err))
	}
	if len(ids) == 0 {
		return "", false, nil
	}
	return ids[0], true, nil
}

// ForgetSession deletes a drained session's row, unless its owner came back meanwhile.
func (s *Store) ForgetSession(ctx context.Context, clientID, self string, staleAfter time.Duration) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Exec(`DELETE FROM mqtt_sessions WHERE client_id = ? AND claimed_by = ?
		AND (stopped_at IS NOT NULL OR seen_at < now() - make_interval(secs => ?))`,
		clientID, self, staleAfter.Seconds()).Error
	if err != nil {
		return fmt.Errorf("forget mqtt session %s: %w", clientID, classify(err))
	}
	return nil
}

// ReleaseSession gives up a claim on a session that could not be drained.
func (s *Store) ReleaseSession(ctx context.Context, clientID, self string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Exec(`UPDATE mqtt_sessions SET claimed_by = NULL, claimed_until = NULL
		WHERE client_id = ? AND claimed_by = ?`, clientID, self).Error
	if err != nil {
		return fmt.Errorf("release mqtt session %s: %w", clientID, classify(err))
	}
	return nil
}
