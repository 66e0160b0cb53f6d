package runshape

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/client"
	"go.uber.org/cadence/worker"
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/bench/internal/stack"
	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
)

const (
	domain = "runshape"
	// startParallel is how many workflow starts are under way at a time.
	startParallel = 16
	// decisionPollers matches the product worker's decision pollers per tenant.
	decisionPollers = 8
	// historySample is how many workflows of a run have their history counted.
	historySample = 20
)

// Config is one invocation of the benchmark.
type Config struct {
	Repo        stack.Repo
	Persistence string
	Devices     int
	GroupSizes  []int
	Repeats     int
	InFlight    int
	Delay       time.Duration
	Vacuum      bool
	Statements  bool
	NoSticky    bool
	BatchWindow time.Duration
	OutDir      string
	LogDir      string
	Args        string
}

// Result is one run of one shape.
type Result struct {
	GroupSize     int     `json:"group_size"`
	Repeat        int     `json:"repeat"`
	Devices       int     `json:"devices"`
	Seconds       float64 `json:"seconds"`
	DevicesPerMin float64 `json:"devices_per_min"`
	// CPU milliseconds per device run.
	CadenceMS  float64 `json:"cadence_cpu_ms"`
	PostgresMS float64 `json:"postgres_cpu_ms"`
	BenchMS    float64 `json:"worker_and_fleet_cpu_ms"`
	TotalMS    float64 `json:"total_cpu_ms"`
	// MachineBusy is the share of the machine's CPU time that was busy during the run.
	MachineBusy float64 `json:"machine_busy"`
	// Per device, from the histories of up to historySample workflows of the run.
	EventsPerDevice        float64 `json:"history_events_per_device"`
	DecisionTasksPerDevice float64 `json:"decision_tasks_per_device"`
	SignalsPerDevice       float64 `json:"signals_per_device"`
	// Statements is what Cadence's databases ran, with -statements.
	Statements *StatementCost `json:"statements,omitempty"`
}

// Run starts a fresh dev server, runs every group size Repeats times (interleaved, so
// drift on the machine touches every shape alike) and writes the results.
func Run(ctx context.Context, c Config) error {
	stamp := time.Now().UTC().Format("20060102_150405")
	logDir := filepath.Join(c.LogDir, stamp)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	if err := c.Repo.EnsureServices(ctx); err != nil {
		return err
	}
	opts := stack.DevServerOptions{Persistence: c.Persistence, DataDir: filepath.Join(logDir, "cadence"),
		PGDatabase: "runshape_" + stamp}
	if c.Persistence == "postgres" {
		if err := stack.DropDatabase(ctx, opts.PGDatabase); err != nil {
			return err
		}
	}
	srv, err := c.Repo.StartDevServer(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop(logDir) }()

	conn, err := cadenceclient.Dial(config.Cadence{FrontendHost: "127.0.0.1", FrontendPort: 7114}, "ota-runshape")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.WaitReady(ctx, time.Minute, 5*time.Second); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = conn.RegisterDomain(rctx, domain, "run shape benchmark", 72*time.Hour)
	cancel()
	if err != nil {
		return err
	}
	b := &bench{conn: conn, client: client.NewClient(conn.Service, domain, &client.Options{}), cfg: c, pid: srv.PID,
		pgDatabase: opts.PGDatabase}
	// The warm-up also waits out the frontend's domain cache, which learns a new domain
	// within seconds.
	fmt.Println("warm-up")
	if _, err := b.run(ctx, "warmup", 1, min(c.Devices, 200)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	res := Results{Provenance: report.NewProvenance(time.Now(), c.Repo.Commit(ctx)), Args: c.Args,
		Persistence: c.Persistence, InFlight: c.InFlight, Delay: c.Delay.String(), Vacuum: c.Vacuum, NoSticky: c.NoSticky,
		BatchWindow: c.BatchWindow.String()}
	for rep := 1; rep <= c.Repeats; rep++ {
		for _, g := range c.GroupSizes {
			r, err := b.run(ctx, fmt.Sprintf("r%d-g%d", rep, g), g, c.Devices)
			if err != nil {
				return fmt.Errorf("group size %d, repeat %d: %w", g, rep, err)
			}
			r.Repeat = rep
			fmt.Printf("group size %d, repeat %d: %.0f devices/min, %.1f ms CPU per device (Cadence %.1f, PostgreSQL %.1f)\n",
				g, rep, r.DevicesPerMin, r.TotalMS, r.CadenceMS, r.PostgresMS)
			res.Runs = append(res.Runs, r)
		}
	}
	res.Finished = time.Now()
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return err
	}
	return res.write(c.OutDir)
}

// bench holds what every run shares.
type bench struct {
	conn       *cadenceclient.Conn
	client     client.Client
	cfg        Config
	pid        int
	pgDatabase string
}

// run takes devices through the steps in workflows of groupSize devices each (1: a
// workflow per device), on a task list of its own.
func (b *bench) run(ctx context.Context, name string, groupSize, devices int) (Result, error) {
	taskList := "runshape-" + name
	if b.cfg.Vacuum {
		for _, db := range []string{b.pgDatabase, b.pgDatabase + "_visibility"} {
			if err := stack.Vacuum(ctx, db); err != nil {
				return Result{}, err
			}
		}
	}
	f := newFleet(b.client, b.cfg.Delay, groupSize == 1, b.cfg.BatchWindow)
	w := worker.New(b.conn.Service, domain, taskList, worker.Options{Logger: zap.NewNop(),
		MaxConcurrentDecisionTaskPollers: decisionPollers, DisableStickyExecution: b.cfg.NoSticky})
	shapes := &workflows{steps: &steps{fleet: f}}
	w.RegisterWorkflowWithOptions(shapes.PerDevice, workflow.RegisterOptions{Name: perDeviceWorkflow})
	w.RegisterWorkflowWithOptions(shapes.Group, workflow.RegisterOptions{Name: groupWorkflow})
	if err := w.Start(); err != nil {
		return Result{}, err
	}
	defer w.Stop()
	fctx, stopFleet := context.WithCancel(ctx)
	f.answer(fctx)
	defer func() { stopFleet(); f.wait() }()

	stmtsBefore, err := b.sampleStatements(ctx)
	if err != nil {
		return Result{}, err
	}
	before, err := sampleCPU(b.pid)
	if err != nil {
		return Result{}, err
	}
	ids, err := b.dispatch(ctx, name, groupSize, devices, f)
	if err != nil {
		return Result{}, err
	}
	if err := waitRecorded(ctx, f, devices); err != nil {
		return Result{}, err
	}
	after, err := sampleCPU(b.pid)
	if err != nil {
		return Result{}, err
	}
	secs := after.at.Sub(before.at).Seconds()
	r := Result{GroupSize: groupSize, Devices: devices, Seconds: secs, DevicesPerMin: float64(devices) / secs * 60,
		CadenceMS: perDevice(after.cadence-before.cadence, devices), PostgresMS: perDevice(after.postgres-before.postgres, devices),
		BenchMS: perDevice(after.bench-before.bench, devices)}
	r.TotalMS = r.CadenceMS + r.PostgresMS + r.BenchMS
	if t := after.total - before.total; t > 0 {
		r.MachineBusy = float64(after.busy-before.busy) / float64(t)
	}
	if b.cfg.Statements {
		stmtsAfter, err := b.sampleStatements(ctx)
		if err != nil {
			return Result{}, err
		}
		cost := statementCost(stmtsBefore, stmtsAfter, devices)
		r.Statements = &cost
	}
	if err := b.countHistory(ctx, ids, groupSize, &r); err != nil {
		return Result{}, err
	}
	return r, nil
}

// sampleStatements reads the statement counters of the dev server's databases (nil
// without -statements).
func (b *bench) sampleStatements(ctx context.Context) (map[string]stack.Statement, error) {
	if !b.cfg.Statements {
		return nil, nil
	}
	return stack.Statements(ctx, []string{b.pgDatabase, b.pgDatabase + "_visibility"})
}

// stallLimit ends a run in which no device has been recorded for this long: something
// is broken, and waiting longer would only hide it.
const stallLimit = 2 * time.Minute

// waitRecorded waits until at least n devices are recorded.
func waitRecorded(ctx context.Context, f *fleet, n int) error {
	last, lastAt := f.done.Load(), time.Now()
	for last < int64(n) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		switch now := f.done.Load(); {
		case now > last:
			last, lastAt = now, time.Now()
		case time.Since(lastAt) > stallLimit:
			return fmt.Errorf("%d devices recorded, waiting for %d; none for %s", now, n, stallLimit)
		}
	}
	return nil
}

// dispatch starts the workflows, keeping at most InFlight devices started and not
// recorded, and returns their ids.
func (b *bench) dispatch(ctx context.Context, name string, groupSize, devices int, f *fleet) ([]string, error) {
	var (
		ids      []string
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, startParallel)
	started := 0
	for first := 0; first < devices; first += groupSize {
		// Room for the next workflow's first device.
		if err := waitRecorded(ctx, f, started-b.cfg.InFlight+1); err != nil {
			return nil, err
		}
		var group []string
		for i := first; i < min(first+groupSize, devices); i++ {
			group = append(group, fmt.Sprintf("%s-dev-%06d", name, i))
		}
		started += len(group)
		wfID := fmt.Sprintf("%s-wf-%06d", name, first)
		ids = append(ids, wfID)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := b.start(ctx, "runshape-"+name, wfID, group, groupSize == 1); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ids, firstErr
}

// start starts one workflow, retrying while Cadence is not ready for it (busy, or a
// domain it does not know yet); a repeated start of the same id counts as started.
func (b *bench) start(ctx context.Context, taskList, wfID string, group []string, perDevice bool) error {
	opts := client.StartWorkflowOptions{ID: wfID, TaskList: taskList,
		ExecutionStartToCloseTimeout: time.Hour, DecisionTaskStartToCloseTimeout: 10 * time.Second}
	var wfType string
	var arg interface{} = group
	if perDevice {
		wfType, arg = perDeviceWorkflow, group[0]
	} else {
		wfType = groupWorkflow
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := b.client.StartWorkflow(ctx, opts, wfType, arg)
		var exists *shared.WorkflowExecutionAlreadyStartedError
		if err == nil || errors.As(err, &exists) {
			return nil
		}
		// The product's rule for which refusals are worth another try; the window is longer
		// than its retries because a fresh domain takes seconds to reach every host.
		if !cadenceclient.StartRetryable(err) || time.Now().After(deadline) {
			return fmt.Errorf("start %s: %w", wfID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("start %s: %w", wfID, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
