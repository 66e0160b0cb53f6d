// Package mqttsession keeps the worker fleet's persistent MQTT sessions from stranding
// device messages. A broker hands each message of a shared subscription to one member,
// and it counts a member whose connection is gone but whose session persists: whatever
// it queues there waits for a worker that may never return (a rescheduled pod gets a new
// name). So each worker records its session while it lives, and a live worker drains
// the sessions whose owners are gone.
package mqttsession

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Store records the sessions (pkg/store/postgres).
type Store interface {
	RegisterSession(ctx context.Context, clientID string) error
	TouchSession(ctx context.Context, clientID string) error
	StopSession(ctx context.Context, clientID string) error
	ClaimOrphanSession(ctx context.Context, self string, staleAfter, claimFor time.Duration) (string, bool, error)
	ForgetSession(ctx context.Context, clientID, self string, staleAfter time.Duration) error
	ReleaseSession(ctx context.Context, clientID, self string) error
}

// Drainer empties and deletes another client's session (mqttbus.Bus).
type Drainer interface {
	Drain(ctx context.Context, clientID string) (int, error)
}

// Keeper runs one worker's side of it.
type Keeper struct {
	Store   Store
	Drainer Drainer
	// Self is this worker's client id.
	Self string
	// Every is how often the worker says it is alive and looks for orphans.
	Every time.Duration
	// StaleAfter is how long a silent worker is taken for gone.
	StaleAfter time.Duration
	Log        *zap.Logger
	Now        func() time.Time
}

// claimFor bounds one drain, after which another worker may try.
const claimFor = 3 * time.Minute

// Run registers the session and keeps it alive until ctx ends, then marks it stopped.
func (k *Keeper) Run(ctx context.Context) {
	var healthySince time.Time // start of the current run of successful writes
	if err := k.Store.RegisterSession(ctx, k.Self); err == nil {
		healthySince = k.Now()
	} else {
		k.Log.Warn("mqtt session not registered; retrying", zap.Error(err))
	}
	t := time.NewTicker(k.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := k.Store.StopSession(sctx, k.Self); err != nil {
				k.Log.Warn("mqtt session not marked stopped", zap.Error(err))
			}
			cancel()
			return
		case <-t.C:
		}
		if err := k.Store.TouchSession(ctx, k.Self); err != nil {
			healthySince = time.Time{}
			k.Log.Warn("mqtt session not refreshed", zap.Error(err))
			continue
		}
		if healthySince.IsZero() {
			healthySince = k.Now()
		}
		// After an outage every row is stale, the live ones too: judge others only once
		// they have had as long as we have to write again.
		if k.Now().Sub(healthySince) < k.StaleAfter {
			continue
		}
		k.drainOrphans(ctx)
	}
}

func (k *Keeper) drainOrphans(ctx context.Context) {
	for ctx.Err() == nil {
		id, ok, err := k.Store.ClaimOrphanSession(ctx, k.Self, k.StaleAfter, claimFor)
		if err != nil {
			k.Log.Warn("orphaned mqtt sessions not looked up", zap.Error(err))
			return
		}
		if !ok {
			return
		}
		dctx, cancel := context.WithTimeout(ctx, claimFor)
		n, err := k.Drainer.Drain(dctx, id)
		cancel()
		if err != nil {
			k.Log.Warn("orphaned mqtt session not drained", zap.String("client_id", id), zap.Int("messages", n), zap.Error(err))
			if rerr := k.Store.ReleaseSession(ctx, id, k.Self); rerr != nil {
				k.Log.Warn("mqtt session claim not released", zap.String("client_id", id), zap.Error(rerr))
			}
			return
		}
		if err := k.Store.ForgetSession(ctx, id, k.Self, k.StaleAfter); err != nil {
			k.Log.Warn("drained mqtt session not forgotten", zap.String("client_id", id), zap.Error(err))
		}
	}
}
