// Package fleet runs one Cadence worker per tenant domain and picks up new tenants
// while running, so creating a tenant needs no worker restart.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/cadence/.gen/go/cadence/workflowserviceclient"
	"go.uber.org/cadence/client"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/worker/devicefeed"
)

// TenantLister lists the tenants to serve.
type TenantLister interface {
	ListTenants(ctx context.Context) ([]model.Tenant, error)
}

// RegisterFunc registers workflows and activities on a tenant's worker.
type RegisterFunc func(w worker.Registry)

// Fleet owns the per-tenant workers and Cadence clients.
type Fleet struct {
	service  workflowserviceclient.Interface
	cfg      config.Config
	tenants  TenantLister
	register RegisterFunc
	log      *zap.Logger

	mu      sync.Mutex
	workers map[string]worker.Worker
	clients map[string]client.Client
	// known holds every tenant this process has served; device messages naming any
	// other tenant are refused before they cost a client or a Cadence call.
	known map[string]bool
	// listErr is why the last refresh could not read the tenant list (nil: it could);
	// errNotRefreshed until the first refresh.
	listErr error
}

var errNotRefreshed = errors.New("tenant list not read yet")

// New returns a Fleet; call Run to start serving.
func New(svc workflowserviceclient.Interface, cfg config.Config, tenants TenantLister, register RegisterFunc, log *zap.Logger) *Fleet {
	return &Fleet{service: svc, cfg: cfg, tenants: tenants, register: register, log: log,
		workers: map[string]worker.Worker{}, clients: map[string]client.Client{}, known: map[string]bool{},
		listErr: errNotRefreshed}
}

// Run refreshes the tenant list until ctx ends, then stops every worker (each finishes
// its in-flight tasks within the shutdown timeout).
func (f *Fleet) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.Worker.TenantRefreshInterval)
	defer t.Stop()
	for {
		if err := f.Refresh(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("tenant refresh failed; retrying", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			f.stopAll()
			return
		case <-t.C:
		}
	}
}

// Refresh starts workers for tenants not served yet.
func (f *Fleet) Refresh(ctx context.Context) error {
	tenants, err := f.tenants.ListTenants(ctx)
	if err != nil {
		f.setListErr(fmt.Errorf("tenant list: %w", err))
		return err
	}
	f.setListErr(nil)
	for _, t := range tenants {
		f.mu.Lock()
		_, running := f.workers[t.ID]
		f.mu.Unlock()
		if running {
			continue
		}
		if err := f.start(t); err != nil {
			f.log.Error("tenant worker not started", zap.String("tenant_id", t.ID), zap.Error(err))
		}
	}
	return nil
}

func (f *Fleet) setListErr(err error) {
	f.mu.Lock()
	f.listErr = err
	f.mu.Unlock()
}

// Ready reports nil when the last refresh read the tenant list, so every tenant it
// could start is polled (a readiness check). A tenant whose worker does not start (its
// domain gone, say) is logged and retried at each refresh but does not make the
// process unready: one tenant must not stall every worker's rollout.
func (f *Fleet) Ready(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listErr
}

func (f *Fleet) start(t model.Tenant) error {
	wc := f.cfg.Worker
	w := worker.New(f.service, t.CadenceDomain, f.cfg.Cadence.TaskList, worker.Options{
		MaxConcurrentDecisionTaskPollers:        wc.DecisionPollers,
		MaxConcurrentActivityTaskPollers:        wc.ActivityPollers,
		MaxConcurrentActivityExecutionSize:      wc.MaxConcurrentActivities,
		MaxConcurrentDecisionTaskExecutionSize:  wc.MaxConcurrentActivities,
		MaxConcurrentLocalActivityExecutionSize: wc.MaxConcurrentActivities,
		WorkerStopTimeout:                       wc.ShutdownTimeout,
		Logger:                                  f.log.With(zap.String("tenant_id", t.ID), zap.String("domain", t.CadenceDomain)),
	})
	f.register(w)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker for domain %s: %w", t.CadenceDomain, err)
	}
	f.mu.Lock()
	f.workers[t.ID] = w
	f.known[t.ID] = true
	f.mu.Unlock()
	f.log.Info("serving tenant", zap.String("tenant_id", t.ID), zap.String("domain", t.CadenceDomain))
	return nil
}

func (f *Fleet) stopAll() {
	f.mu.Lock()
	ws := f.workers
	f.workers = map[string]worker.Worker{}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for id, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Stop()
			f.log.Info("tenant worker stopped", zap.String("tenant_id", id))
		}()
	}
	wg.Wait()
}

// SignalWorkflow signals a run in the tenant's domain (devicefeed.Signaler).
func (f *Fleet) SignalWorkflow(ctx context.Context, tenantID, workflowID, runID, signal string, arg interface{}) error {
	c, err := f.client(tenantID)
	if err != nil {
		return err
	}
	return c.SignalWorkflow(ctx, workflowID, runID, signal, arg)
}

func (f *Fleet) client(tenantID string) (client.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.known[tenantID] {
		return nil, fmt.Errorf("%w %s", devicefeed.ErrUnknownTenant, tenantID)
	}
	c, ok := f.clients[tenantID]
	if !ok {
		c = client.NewClient(f.service, cadenceclient.DomainName(f.cfg.Cadence.DomainPrefix, tenantID), &client.Options{})
		f.clients[tenantID] = c
	}
	return c, nil
}

// Serving reports how many tenants have a running worker.
func (f *Fleet) Serving() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.workers)
}
