package runshape

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/stack"
)

// ParseFlags reads the command line; paths are made absolute against -root.
func ParseFlags(args []string) (Config, error) {
	fs := flag.NewFlagSet("ota-runshape", flag.ContinueOnError)
	var c Config
	var root, sizes string
	fs.StringVar(&root, "root", ".", "repository root")
	fs.StringVar(&c.Persistence, "persistence", "postgres", "the dev server's persistence: postgres or sqlite")
	fs.IntVar(&c.Devices, "devices", 3000, "devices per run")
	fs.StringVar(&sizes, "group-sizes", "1,10,50", "comma-separated devices per workflow; 1 is a workflow per device")
	fs.IntVar(&c.Repeats, "repeats", 2, "runs of each group size, interleaved")
	fs.IntVar(&c.InFlight, "in-flight", 200, "devices started and not yet recorded, at most")
	fs.DurationVar(&c.Delay, "device-delay", 100*time.Millisecond, "how long a device takes to answer its command")
	fs.DurationVar(&c.BatchWindow, "batch-window", 0,
		"groups only: the devices of one group that answer within this window share one signal (0: a signal per answer)")
	fs.BoolVar(&c.Vacuum, "vacuum", false,
		"VACUUM ANALYZE the dev server's PostgreSQL databases before each run, as autovacuum would on a production server")
	fs.BoolVar(&c.NoSticky, "no-sticky", false,
		"the worker polls no sticky task list: every decision task goes through the workflow's task list and replays its history")
	fs.BoolVar(&c.Statements, "statements", false,
		"count the statements Cadence's databases run per device run (needs pg_stat_statements in the local PostgreSQL's shared_preload_libraries)")
	fs.StringVar(&c.OutDir, "out-dir", "bench/runshape", "where results.md and results.json go")
	fs.StringVar(&c.LogDir, "log-dir", ".run/bench-runshape", "where the dev server's log goes")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.Persistence != "postgres" && c.Persistence != "sqlite":
		return Config{}, fmt.Errorf("-persistence %q: want postgres or sqlite", c.Persistence)
	case c.Devices < 1:
		return Config{}, fmt.Errorf("-devices %d: want at least 1", c.Devices)
	case c.Repeats < 1:
		return Config{}, fmt.Errorf("-repeats %d: want at least 1", c.Repeats)
	case c.InFlight < 1:
		return Config{}, fmt.Errorf("-in-flight %d: want at least 1", c.InFlight)
	case c.Vacuum && c.Persistence != "postgres":
		return Config{}, fmt.Errorf("-vacuum: only with -persistence postgres")
	case c.Statements && c.Persistence != "postgres":
		return Config{}, fmt.Errorf("-statements: only with -persistence postgres")
	case c.BatchWindow < 0:
		return Config{}, fmt.Errorf("-batch-window %s: want 0 or more", c.BatchWindow)
	case c.Delay < 0:
		return Config{}, fmt.Errorf("-device-delay %s: want 0 or more", c.Delay)
	}
	for _, s := range strings.Split(sizes, ",") {
		g, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || g < 1 || g > 1000 {
			return Config{}, fmt.Errorf("-group-sizes: %q: want whole numbers from 1 to 1000", s)
		}
		c.GroupSizes = append(c.GroupSizes, g)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return Config{}, err
	}
	c.Repo = stack.Repo{Root: abs}
	for _, p := range []*string{&c.OutDir, &c.LogDir} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(abs, *p)
		}
	}
	c.Args = strings.TrimSpace("ota-runshape " + strings.Join(args, " "))
	return c, nil
}
