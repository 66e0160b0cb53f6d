// Package chaos is the reliability benchmark: one campaign per fault on a fresh real
// stack, each while one part of the system fails (a worker, the broker, the database),
// and a check of every device's record against the simulated device afterwards.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/bench/internal/stack"
)

var stampPattern = regexp.MustCompile(`^[a-z0-9_]{1,24}$`)

// verifyWait bounds the check of every device after the campaign.
const verifyWait = 2 * time.Minute

// ErrTargetsMissed is returned when every run was carried out but some missed a target.
var ErrTargetsMissed = errors.New("targets missed")

// Run runs every selected fault and writes chaos.md and chaos.json. It returns an error
// if a run failed or missed a target; the results are written either way, unless the
// benchmark was interrupted.
func Run(ctx context.Context, c Config) error {
	root, err := filepath.Abs(c.Root)
	if err != nil {
		return err
	}
	repo := stack.Repo{Root: root}
	started := time.Now()
	if c.Stamp == "" {
		c.Stamp = started.UTC().Format("20060102_150405")
	}
	logDir := filepath.Join(root, c.LogDir, c.Stamp)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	for _, name := range c.Faults {
		f, _ := faultByName(name)
		fmt.Printf("planned: %s: %s\n", f.name, f.description)
	}

	fmt.Println("== services")
	if err := repo.EnsureServices(ctx); err != nil {
		return err
	}
	if c.Build {
		fmt.Println("== build")
		if err := repo.Build(ctx); err != nil {
			return err
		}
	}
	for _, p := range []string{repo.Bin("ota-api"), repo.Bin("ota-worker"), repo.Bin("cadence-devserver")} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s missing (run without -build=false): %w", p, err)
		}
	}

	res := &report.ChaosResults{Provenance: report.NewProvenance(started, repo.Commit(ctx)),
		Settings: report.ChaosSettings{Args: strings.Join(c.args, " "), Devices: c.Devices, MaxInFlight: c.InFlight,
			StepDelay: c.StepDelay.String(), ProgressReports: true, HeartbeatInterval: heartbeatEvery.String(),
			FirmwareKiB: c.FirmwareKiB, CadencePersisted: "sqlite",
			ProcessEnv: []string{"OTA_MQTT_BROKER=<the run's broker> (workers)", "OTA_MQTT_CLIENT_ID=<stable per worker>",
				"OTA_MQTT_USERNAME/PASSWORD=<the workers' random broker credential>",
				"OTA_WORKER_MONITOR_LISTEN=127.0.0.1:0", "OTA_DATABASE_DSN=<app database through the proxy>",
				"OTA_HTTP_LISTEN, OTA_HTTP_PUBLIC_URL, OTA_AUTH_ADMIN_KEY"},
			LogDir: filepath.Join(c.LogDir, c.Stamp)}}
	for i, name := range c.Faults {
		if ctx.Err() != nil {
			break
		}
		f, _ := faultByName(name)
		fmt.Printf("== run %d/%d: %s\n", i+1, len(c.Faults), f.name)
		res.Runs = append(res.Runs, runFault(ctx, c, repo, f, filepath.Join(logDir, f.name)))
	}
	res.Finished = time.Now()
	if ctx.Err() != nil {
		// Partial results go next to the logs, never over the committed ones.
		_ = res.WriteJSON(filepath.Join(logDir, "chaos.json"))
		_ = res.WriteMarkdown(filepath.Join(logDir, "chaos.md"))
		return fmt.Errorf("interrupted; partial results and logs in %s", logDir)
	}
	outDir := filepath.Join(root, c.OutDir)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := res.WriteJSON(filepath.Join(outDir, "chaos.json")); err != nil {
		return err
	}
	if err := res.WriteMarkdown(filepath.Join(outDir, "chaos.md")); err != nil {
		return err
	}
	fmt.Printf("\n%s\nwritten: %s, %s; process logs in %s (%.1f min)\n", res.Markdown(), filepath.Join(outDir, "chaos.md"),
		filepath.Join(outDir, "chaos.json"), logDir, time.Since(started).Minutes())
	var missed []string
	for _, r := range res.Runs {
		if m := r.Missed(); len(m) > 0 {
			missed = append(missed, r.Fault+": "+strings.Join(m, "; "))
		}
	}
	if len(missed) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrTargetsMissed, strings.Join(missed, "\n  "))
	}
	return nil
}

// runFault sets up a fresh stack, runs the fault's campaign, checks every device and
// tears everything down. Failures are recorded in the result, so later faults still run.
func runFault(ctx context.Context, c Config, repo stack.Repo, f fault, logDir string) report.FaultRun {
	res := report.FaultRun{Fault: f.name, Description: f.description, Workers: f.workers, Total: c.Devices,
		Back: f.back, Lost: c.Devices}
	rctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	e := &env{cfg: c, repo: repo, fault: f, logDir: logDir, gone: map[int]bool{}}
	started := time.Now()
	err := func() error {
		defer func() {
			logf("%s: tearing down", f.name)
			e.down()
		}()
		if err := e.up(rctx); err != nil {
			return err
		}
		if err := e.prepare(rctx); err != nil {
			return err
		}
		res.SetupSeconds = round(time.Since(started).Seconds(), 1)
		logf("%s: stack up and %d devices heard from in %.0f s", f.name, len(e.ids), res.SetupSeconds)
		id, err := e.campaign(rctx, &res)
		if id == "" {
			return err
		}
		// The check reads whatever the run left, complete or not, with its own bound:
		// a run that used up its time must still be accounted for.
		vctx, vcancel := context.WithTimeout(ctx, verifyWait)
		defer vcancel()
		if verr := e.verify(vctx, id, &res); verr != nil {
			return errors.Join(err, fmt.Errorf("verify: %w", verr))
		}
		logf("%s: %d/%d SUCCEEDED, %d wrong histories, %d devices with more than one UPDATE per attempt, "+
			"%d duplicate UPDATE deliveries", f.name, res.Succeeded, res.Total, res.WrongHistories, res.ExtraUpdateDevices,
			res.DuplicateDeliveries)
		return err
	}()
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("interrupted: %w", err)
		case errors.Is(rctx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("run exceeded -timeout %s: %w", c.Timeout, err)
		}
		res.Error = err.Error()
		logf("%s: FAILED: %v", f.name, err)
	}
	report.EvaluateFault(&res)
	for _, m := range res.Missed() {
		logf("%s: MISSED %s", f.name, m)
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

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}
