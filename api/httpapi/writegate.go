package httpapi

import (
	"context"
	"errors"
	"sync"
	"time"
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
// replica fewer than total in progress.
type writeGate struct {
	perTenant int
	total     chan struct{}
	wait      time.Duration

	mu      sync.Mutex
	tenants map[string]chan struct{}
}

func newWriteGate(perTenant, total int, wait time.Duration) *writeGate {
	return &writeGate{perTenant: perTenant, total: make(chan struct{}, total), wait: wait, tenants: map[string]chan struct{}{}}
}

func (g *writeGate) tenantSlots(tenantID string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	slots, ok := g.tenants[tenantID]
	if !ok {
		slots = make(chan struct{}, g.perTenant)
		g.tenants[tenantID] = slots
	}
	return slots
}

// enter waits up to the gate's wait for the tenant's slot, then the replica's; the
// tenant's first, so a tenant's queued requests never hold replica slots. It returns
// the function that leaves, or why it could not enter.
func (g *writeGate) enter(ctx context.Context, tenantID string) (func(), error) {
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	slots := g.tenantSlots(tenantID)
	select {
	case slots <- struct{}{}:
	case <-timer.C:
		return nil, errTenantWritesBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case g.total <- struct{}{}:
	case <-timer.C:
		<-slots
		return nil, errReplicaWritesBusy
	case <-ctx.Done():
		<-slots
		return nil, ctx.Err()
	}
	return func() {
		<-g.total
		<-slots
	}, nil
}
