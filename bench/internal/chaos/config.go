package chaos

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config is set from the command line.
type Config struct {
	Root   string
	OutDir string
	LogDir string
	// Stamp makes database names, client ids and the log directory unique per
	// invocation; scripts/chaos.sh passes it so it can clean up after a crash.
	Stamp       string
	Faults      []string
	Devices     int
	InFlight    int
	StepDelay   time.Duration
	FirmwareKiB int
	// Timeout bounds one fault's setup and campaign; StallLimit gives a campaign up
	// when no device run finishes for that long.
	Timeout    time.Duration
	StallLimit time.Duration
	Build      bool
	args       []string
}

// ParseFlags reads the command line.
func ParseFlags(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("ota-chaos", flag.ContinueOnError)
	var names []string
	for _, f := range faults {
		names = append(names, fmt.Sprintf("%s (%s)", f.name, f.description))
	}
	list := fs.String("faults", strings.Join(faultNames(), ","), "faults to run, comma-separated: "+strings.Join(names, "; "))
	fs.StringVar(&c.Root, "root", ".", "repository root")
	fs.StringVar(&c.OutDir, "out-dir", "bench", "where chaos.md and chaos.json go (relative to -root)")
	fs.StringVar(&c.LogDir, "log-dir", ".run/chaos", "where each run's process logs go (relative to -root)")
	fs.StringVar(&c.Stamp, "stamp", "", "unique name part of this invocation: lower-case letters, digits, _ (default: the start time)")
	fs.IntVar(&c.Devices, "devices", 200, "simulated devices in each fault's campaign")
	fs.IntVar(&c.InFlight, "in-flight", 40, "the campaign's rollout.max_in_flight")
	fs.DurationVar(&c.StepDelay, "step-delay", 400*time.Millisecond, "pause after each step of a device's update (progress reports on)")
	fs.IntVar(&c.FirmwareKiB, "firmware-kib", 64, "firmware image size in KiB")
	fs.DurationVar(&c.Timeout, "timeout", 4*time.Minute, "bound on each fault's setup and campaign")
	fs.DurationVar(&c.StallLimit, "stall-limit", 2*time.Minute, "give a campaign up when no device run finishes for this long")
	fs.BoolVar(&c.Build, "build", true, "run make build and build the dev server first")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.args = args
	for _, s := range strings.Split(*list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(faultNames(), s) {
			return c, fmt.Errorf("-faults: unknown fault %q", s)
		}
		c.Faults = append(c.Faults, s)
	}
	switch {
	case len(c.Faults) == 0:
		return c, errors.New("-faults: none selected")
	case c.Devices < 10 || c.InFlight < 1:
		return c, errors.New("-devices must be at least 10 and -in-flight at least 1")
	case c.StepDelay < 0 || c.FirmwareKiB < 1:
		return c, errors.New("-step-delay must not be negative, -firmware-kib at least 1")
	case c.Stamp != "" && !stampPattern.MatchString(c.Stamp):
		return c, fmt.Errorf("-stamp %q: want lower-case letters, digits and _", c.Stamp)
	}
	return c, nil
}
