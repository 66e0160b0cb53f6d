// Package scenario runs one benchmark scenario at one fleet size against a freshly
// started stack and measures it.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/bench/internal/stack"
)

// Spec is what a run sets up.
type Spec struct {
	Scenario    string // name as given to -scenarios
	Persistence string // sqlite or postgres (the dev server's)
	Workers     int    // worker processes
	Devices     int    // devices in the measured campaign
	InFlight    int    // ota.campaign_in_flight
	// HoldInFlight makes the devices silent and measures the worker's memory with every
	// run in flight, instead of running campaigns to completion.
	HoldInFlight bool
	// StatusLoad adds a second campaign over the fleet during which many clients call
	// GET …/status.
	StatusLoad bool
	// Scale puts one campaign over Devices devices in the database, runs nothing, and
	// measures the queries that grow with a campaign.
	Scale bool
}

// Name identifies the run in logs and results, e.g. "sqlite-10000".
func (s Spec) Name() string { return fmt.Sprintf("%s-%d", s.Scenario, s.Devices) }

// Options are the knobs shared by every run.
type Options struct {
	Repo   stack.Repo
	LogDir string // each run logs to LogDir/<run name>/
	Stamp  string // makes database names and client ids unique per invocation
	Broker string // external MQTT broker; empty: a private Mosquitto per run

	Timeout        time.Duration // setup and measurement of one run (teardown comes after)
	Stall          time.Duration // give up when no device run finishes for this long
	SmallCampaigns int
	SmallSize      int
	StatusClients  int
	StatusDuration time.Duration // 0: until the campaign completes
	RawParallel    int
	FirmwareKiB    int
	// ProgressReports: the simulated devices report ACCEPTED, DOWNLOADING and INSTALLING
	// on the way, as real ones do, not only the outcome.
	ProgressReports bool
	RSSWait         time.Duration
	RSSCampaignSize int      // devices per campaign in the in-flight scenario
	ExtraEnv        []string // KEY=VALUE for the api and workers
}

// Run sets up the stack, measures, and tears everything down again. Failures are
// recorded in the result rather than returned, so later runs still happen.
func Run(ctx context.Context, spec Spec, opts Options) report.Run {
	res := report.Run{Name: spec.Name(), Scenario: spec.Scenario, Persistence: spec.Persistence,
		Workers: spec.Workers, Devices: spec.Devices, InFlight: spec.InFlight}
	rctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	e := &env{spec: spec, opts: opts}
	started := time.Now()
	err := func() error {
		defer func() {
			logf("%s: tearing down", spec.Name())
			e.down()
		}()
		if err := e.up(rctx); err != nil {
			return err
		}
		if spec.Scale {
			return e.scale(rctx, &res)
		}
		if err := e.prepare(rctx, &res); err != nil {
			return err
		}
		res.SetupSeconds = round(time.Since(started).Seconds(), 1)
		if spec.HoldInFlight {
			return e.measureInFlight(rctx, &res)
		}
		if err := e.smallCampaigns(rctx, &res); err != nil {
			return err
		}
		if err := e.fullCampaign(rctx, &res); err != nil {
			return err
		}
		if spec.StatusLoad {
			if err := e.statusCampaign(rctx, &res); err != nil {
				return err
			}
		}
		return e.rawFanout(rctx, &res)
	}()
	if e.dev != nil {
		res.DispatchTimeouts = e.dev.DispatchTimeouts
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("interrupted: %w", err)
		case errors.Is(rctx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("run exceeded -timeout %s: %w", opts.Timeout, err)
		}
		res.Error = err.Error()
		logf("%s: FAILED: %v", spec.Name(), err)
	}
	return res
}

func logf(format string, args ...any) {
	fmt.Printf("%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

func perMinute(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(n)/d.Minutes(), 1)
}

func mib(b int64) float64 { return round(float64(b)/(1<<20), 1) }
