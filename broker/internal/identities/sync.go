package identities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// overlap re-reads recent changes: a transaction that stamped updated_at before the
// last read but committed after it is still seen.
const overlap = 10 * time.Second

// Syncer keeps a Table in step with the database's device_credentials.
type Syncer struct {
	Pool     *pgxpool.Pool
	Table    *Table
	Interval time.Duration
	// Log reports a failed read (the table keeps its last state meanwhile).
	Log func(msg string)
}

// Lookup reads one credential (Table.SetLookup), bounded by a short timeout: it runs
// on the broker's thread.
func (s *Syncer) Lookup(username string) (Row, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	var r Row
	err := s.Pool.QueryRow(ctx, `SELECT username, tenant_id::text, device_id, password_sha256, state = 'REVOKED', retire_at
		FROM device_credentials WHERE username = $1`, username).
		Scan(&r.Username, &r.TenantID, &r.DeviceID, &r.PasswordSHA256, &r.Revoked, &r.RetireAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Row{}, false, nil
	}
	if err != nil {
		return Row{}, false, err
	}
	return r, true, nil
}

// lookupTimeout bounds one read of an unknown credential.
const lookupTimeout = 250 * time.Millisecond

// Run reads everything once, then what changed, every Interval, until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	var since time.Time
	failing := false
	for {
		next, err := s.read(ctx, since)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				s.Log(fmt.Sprintf("ota-auth: device credentials not read (keeping the last known): %v", err))
			}
			failing = true
		case err == nil:
			if failing {
				s.Log("ota-auth: device credentials read again")
			}
			failing = false
			since = next
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.Interval):
		}
	}
}

// read applies the rows changed since (all of them when since is zero) and returns the
// database time to read from next.
func (s *Syncer) read(ctx context.Context, since time.Time) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var now time.Time
	if err := s.Pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return since, err
	}
	from := since.Add(-overlap)
	if since.IsZero() {
		from = time.Unix(0, 0)
	}
	rows, err := s.Pool.Query(ctx, `SELECT username, tenant_id::text, device_id, password_sha256, state = 'REVOKED', retire_at
		FROM device_credentials WHERE updated_at > $1`, from)
	if err != nil {
		return since, err
	}
	defer rows.Close()
	var batch []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.Username, &r.TenantID, &r.DeviceID, &r.PasswordSHA256, &r.Revoked, &r.RetireAt); err != nil {
			return since, err
		}
		batch = append(batch, r)
	}
	if err := rows.Err(); err != nil {
		return since, err
	}
	s.Table.Apply(batch)
	return now, nil
}
