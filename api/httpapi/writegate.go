package httpapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// A state-changing request holds a database connection from its start to its answer
// (its audit transaction), Cadence calls included. Without a bound, one tenant's burst —
// or a slow Cadence — would take every connection of the pool and stall every tenant's
// reads and writes. The write gate bounds writes in progress per tenant and on the
// replica; a request beyond them waits, holding no connection, for a bounded time.
var (
	errTenantWritesBusy  = errors.New("too many requests of this tenant changing state at once on this replica")
	errReplicaWritesBusy = errors.New("too many requests changing state at once on this replica")
)

// writeGate admits a tenant's write while the tenant has fewer than perTenant and the
// replica fewer than its total in progress. Waiters are served in arrival order.
type writeGate struct {
	perTenant int64
	replica   *semaphore.Weighted
	wait      time.Duration

	mu      sync.Mutex
	tenants map[string]*semaphore.Weighted
}

func newWriteGate(perTenant, total int, wait time.Duration) *writeGate {
	return &writeGate{perTenant: int64(perTenant), replica: semaphore.NewWeighted(int64(total)), wait: wait,
		tenants: map[string]*semaphore.Weighted{}}
}

// tenant returns the tenant's semaphore; there is one per tenant that has written
// since the replica started (tenants are few and made by the admin).
func (g *writeGate) tenant(tenantID string) *semaphore.Weighted {
	g.mu.Lock()
	defer g.mu.Unlock()
	sem, ok := g.tenants[tenantID]
	if !ok {
		sem = semaphore.NewWeighted(g.perTenant)
		g.tenants[tenantID] = sem
	}
	return sem
}

// enter waits up to the gate's wait for the tenant's slot, then the replica's; the
// tenant's first, so a tenant's queued requests never hold replica slots. It returns
// the function that leaves, or why it could not enter: a bound, or the caller gone.
func (g *writeGate) enter(ctx context.Context, tenantID string) (func(), error) {
	waiting, cancel := context.WithTimeout(ctx, g.wait)
	defer cancel()
	tenant := g.tenant(tenantID)
	if err := tenant.Acquire(waiting, 1); err != nil {
		return nil, refusal(ctx, errTenantWritesBusy)
	}
	if err := g.replica.Acquire(waiting, 1); err != nil {
		tenant.Release(1)
		return nil, refusal(ctx, errReplicaWritesBusy)
	}
	return func() {
		g.replica.Release(1)
		tenant.Release(1)
	}, nil
}

// refusal is the caller's own end when it went away, else the bound that was full.
func refusal(ctx context.Context, full error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return full
}
