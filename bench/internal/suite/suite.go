// Package suite is the benchmark program: it prepares the machine, runs the selected
// scenarios one after another, and writes bench/results.md and bench/results.json.
package suite

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/bench/internal/scenario"
	"github.com/otaplane/ota/bench/internal/stack"
)

// scenarioDef is one selectable scenario.
type scenarioDef struct {
	name, persistence string
	workers           int
	largestOnly, hold bool
	// scale: one campaign of -scale-size devices in the database, no device runs.
	scale bool
	// large: one run at -large-size devices instead of -sizes.
	large bool
	about string
}

// Scenarios in the order they run; sqlite-2w runs next to sqlite so that the 1 vs 2
// worker comparison sees the same background load.
var scenarios = []scenarioDef{
	{name: "sqlite", persistence: "sqlite", workers: 1, about: "SQLite persistence, 1 worker, every size"},
	{name: "sqlite-2w", persistence: "sqlite", workers: 2, largestOnly: true,
		about: "SQLite persistence, 2 worker processes, largest size"},
	{name: "postgres", persistence: "postgres", workers: 1, about: "PostgreSQL persistence, 1 worker, every size"},
	{name: "postgres-large", persistence: "postgres", workers: 1, large: true,
		about: "PostgreSQL persistence, 1 worker, -large-size devices (not in the default set: about half an hour at 2,000 devices/min)"},
	{name: "rss", persistence: "sqlite", workers: 1, largestOnly: true, hold: true,
		about: "all runs in flight at once (silent devices), worker peak RSS, largest size"},
	{name: "scale", persistence: "sqlite", workers: 1, scale: true,
		about: "one campaign of -scale-size devices in the database, no runs: status aggregate, status under load, dry run, device pages"},
}

// Config is set from the command line.
type Config struct {
	Root      string
	OutDir    string
	Sizes     []int
	Scenarios []string
	InFlight  int
	ScaleSize int
	LargeSize int
	Build     bool
	// Runs that get the status-load campaign: these scenarios at these sizes or above.
	StatusScenarios []string
	StatusMinSize   int
	Opts            scenario.Options
	args            []string
}

// ParseFlags reads the command line.
func ParseFlags(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("ota-bench", flag.ContinueOnError)
	var names []string
	for _, s := range scenarios {
		names = append(names, fmt.Sprintf("%s (%s)", s.name, s.about))
	}
	sizes := fs.String("sizes", "1000,10000", "fleet sizes, comma-separated")
	scen := fs.String("scenarios", "sqlite,sqlite-2w,postgres,rss,scale", "scenarios to run, comma-separated: "+strings.Join(names, "; "))
	fs.StringVar(&c.Root, "root", ".", "repository root")
	fs.StringVar(&c.OutDir, "out-dir", "bench", "where results.md and results.json go (relative to -root)")
	fs.StringVar(&c.Opts.LogDir, "log-dir", ".run/bench", "where each run's process logs go (relative to -root)")
	fs.DurationVar(&c.Opts.Timeout, "timeout", 40*time.Minute, "bound on each run's setup and measurement")
	fs.DurationVar(&c.Opts.Stall, "stall", 5*time.Minute, "give up a run when no device run finishes for this long")
	fs.IntVar(&c.LargeSize, "large-size", 50000, "postgres-large scenario: devices in its campaign")
	fs.IntVar(&c.ScaleSize, "scale-size", 100000, "scale scenario: devices in its one campaign (the API takes at most 100000)")
	fs.IntVar(&c.InFlight, "in-flight", 200, "ota.campaign_in_flight of the api (the rss scenario uses the fleet size)")
	fs.IntVar(&c.Opts.SmallCampaigns, "small-campaigns", 10, "small campaigns per run for execute latency (0: none)")
	fs.IntVar(&c.Opts.SmallSize, "small-size", 10, "devices per small campaign")
	fs.IntVar(&c.Opts.StatusClients, "status-clients", 50,
		"clients calling GET …/status back to back during a second campaign over the fleet (0: no such campaign)")
	statusScen := fs.String("status-scenarios", "sqlite", "scenarios whose large runs get the status-load campaign, comma-separated")
	fs.IntVar(&c.StatusMinSize, "status-min-size", 10000, "run the status-load campaign for fleets of at least this many devices")
	fs.DurationVar(&c.Opts.StatusDuration, "status-duration", 3*time.Minute,
		"stop the status load after this long, or when its campaign completes if sooner (0: no limit; 50 clients "+
			"can slow a 10,000-device campaign to well over half an hour)")
	fs.IntVar(&c.Opts.RawParallel, "raw-parallel", 32, "goroutines of the raw fan-out baseline (0: skip it)")
	fs.IntVar(&c.Opts.FirmwareKiB, "firmware-kib", 64, "firmware image size in KiB")
	fs.BoolVar(&c.Opts.ProgressReports, "progress-reports", false,
		"simulated devices report ACCEPTED, DOWNLOADING and INSTALLING before the outcome, as real devices do")
	fs.DurationVar(&c.Opts.RSSWait, "rss-wait", 15*time.Minute, "rss scenario: bounded wait for every run to be COMMANDED")
	fs.IntVar(&c.Opts.RSSCampaignSize, "rss-campaign-size", 1000,
		"rss scenario: devices per campaign (one campaign execution keeps at most 1000 runs in flight)")
	fs.StringVar(&c.Opts.Broker, "broker", "", "MQTT broker URL to use instead of a private Mosquitto per run "+
		"(the machine's shared broker mixes in the traffic of any other worker running)")
	fs.BoolVar(&c.Build, "build", true, "run make build and build the dev server first")
	fs.Func("env", "KEY=VALUE added to the api and worker environment (repeatable), e.g. OTA_WORKER_DECISION_POLLERS=16",
		func(s string) error {
			if !strings.Contains(s, "=") {
				return fmt.Errorf("want KEY=VALUE")
			}
			c.Opts.ExtraEnv = append(c.Opts.ExtraEnv, s)
			return nil
		})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.args = args
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-sizes: %q is not a positive integer", f)
		}
		c.Sizes = append(c.Sizes, n)
	}
	slices.Sort(c.Sizes)
	c.Sizes = slices.Compact(c.Sizes)
	var err error
	if c.Scenarios, err = scenarioList("-scenarios", *scen); err != nil {
		return c, err
	}
	if c.StatusScenarios, err = scenarioList("-status-scenarios", *statusScen); err != nil {
		return c, err
	}
	if c.Opts.SmallSize < 1 || c.Opts.SmallCampaigns < 0 || c.InFlight < 1 || c.ScaleSize < 1 || c.LargeSize < 1 {
		return c, errors.New("-small-size, -in-flight, -scale-size and -large-size must be at least 1, -small-campaigns at least 0")
	}
	return c, nil
}

func scenarioList(flagName, list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.ContainsFunc(scenarios, func(x scenarioDef) bool { return x.name == s }) {
			return nil, fmt.Errorf("%s: unknown scenario %q", flagName, s)
		}
		out = append(out, s)
	}
	return out, nil
}

// plan lists the runs in order.
func (c Config) plan() []scenario.Spec {
	largest := c.Sizes[len(c.Sizes)-1]
	var out []scenario.Spec
	for _, s := range scenarios {
		if !slices.Contains(c.Scenarios, s.name) {
			continue
		}
		sizes := c.Sizes
		switch {
		case s.scale:
			sizes = []int{c.ScaleSize}
		case s.large:
			sizes = []int{c.LargeSize}
		case s.largestOnly:
			sizes = []int{largest}
		}
		for _, n := range sizes {
			inFlight := c.InFlight
			if s.hold {
				inFlight = n
			}
			load := !s.hold && c.Opts.StatusClients > 0 && n >= c.StatusMinSize && slices.Contains(c.StatusScenarios, s.name)
			out = append(out, scenario.Spec{Scenario: s.name, Persistence: s.persistence, Workers: s.workers,
				Devices: n, InFlight: inFlight, HoldInFlight: s.hold, StatusLoad: load && !s.scale, Scale: s.scale})
		}
	}
	return out
}

// Run runs the benchmark. It returns an error if setup failed or any run failed; the
// results of the runs that happened are written either way, unless interrupted.
func Run(ctx context.Context, c Config) error {
	root, err := filepath.Abs(c.Root)
	if err != nil {
		return err
	}
	repo := stack.Repo{Root: root}
	started := time.Now()
	c.Opts.Repo = repo
	c.Opts.Stamp = started.UTC().Format("20060102_150405")
	c.Opts.LogDir = filepath.Join(root, c.Opts.LogDir, c.Opts.Stamp)
	outDir := filepath.Join(root, c.OutDir)
	if err := os.MkdirAll(c.Opts.LogDir, 0o755); err != nil {
		return err
	}
	plan := c.plan()
	for _, s := range plan {
		fmt.Printf("planned: %s (%s persistence, %d worker(s), %d devices, in flight %d, status load %v)\n", s.Name(),
			s.Persistence, s.Workers, s.Devices, s.InFlight, s.StatusLoad)
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

	res := &report.Results{Provenance: report.NewProvenance(started, repo.Commit(ctx)),
		Settings: map[string]any{"args": strings.Join(c.args, " "), "sizes": c.Sizes, "scenarios": c.Scenarios,
			"campaign_in_flight": c.InFlight, "scale_size": c.ScaleSize, "large_size": c.LargeSize, "small_campaigns": c.Opts.SmallCampaigns, "small_size": c.Opts.SmallSize,
			"status_clients": c.Opts.StatusClients, "status_min_size": c.StatusMinSize, "status_scenarios": c.StatusScenarios,
			"status_duration": statusLimit(c.Opts.StatusDuration),
			"raw_parallel":    c.Opts.RawParallel, "broker": brokerSetting(c.Opts.Broker), "firmware_kib": c.Opts.FirmwareKiB, "progress_reports": c.Opts.ProgressReports, "rss_campaign_size": c.Opts.RSSCampaignSize, "heartbeat_interval": "20s",
			"extra_env": c.Opts.ExtraEnv, "log_dir": c.Opts.LogDir}}
	var failed []string
	for i, s := range plan {
		if ctx.Err() != nil {
			break
		}
		fmt.Printf("== run %d/%d: %s\n", i+1, len(plan), s.Name())
		r := scenario.Run(ctx, s, c.Opts)
		if r.Error != "" {
			failed = append(failed, r.Name)
		}
		res.Runs = append(res.Runs, r)
	}
	res.Finished = time.Now()
	res.Checks = report.Evaluate(res.Runs)
	if ctx.Err() != nil {
		// Partial results go next to the logs, never over the committed ones.
		_ = res.WriteJSON(filepath.Join(c.Opts.LogDir, "results.json"))
		_ = res.WriteMarkdown(filepath.Join(c.Opts.LogDir, "results.md"))
		return fmt.Errorf("interrupted; partial results and logs in %s", c.Opts.LogDir)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := res.WriteJSON(filepath.Join(outDir, "results.json")); err != nil {
		return err
	}
	if err := res.WriteMarkdown(filepath.Join(outDir, "results.md")); err != nil {
		return err
	}
	fmt.Printf("\n%s\nwritten: %s, %s; process logs in %s\n", res.Markdown(), filepath.Join(outDir, "results.md"),
		filepath.Join(outDir, "results.json"), c.Opts.LogDir)
	if len(failed) > 0 {
		return fmt.Errorf("failed runs: %s", strings.Join(failed, ", "))
	}
	return nil
}

func statusLimit(d time.Duration) string {
	if d <= 0 {
		return "none, until completion"
	}
	return d.String()
}

func brokerSetting(url string) string {
	if url == "" {
		return "private mosquitto per run"
	}
	return url
}
