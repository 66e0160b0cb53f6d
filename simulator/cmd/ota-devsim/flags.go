package main

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otaplane/ota/simulator/devicesim"
)

// options are the command-line settings.
type options struct {
	broker    string
	tenant    string
	api       string
	apiKey    string
	register  bool
	count     int
	prefix    string
	model     string
	version   string
	heartbeat time.Duration
	stepDelay time.Duration
	progress  bool
	fail      string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("ota-devsim", flag.ContinueOnError)
	fs.StringVar(&o.broker, "broker", "", "MQTT broker URL (default: the one the API names with the credentials)")
	fs.StringVar(&o.tenant, "tenant", "", "tenant id; looked up through the API when empty")
	fs.StringVar(&o.api, "api", "http://127.0.0.1:8080", "control plane API base URL")
	fs.StringVar(&o.apiKey, "api-key", "", "API key: devices get their broker credentials through the API")
	fs.BoolVar(&o.register, "register", false, "register the devices through the API first (existing ones are kept)")
	fs.IntVar(&o.count, "count", 5, "number of devices")
	fs.StringVar(&o.prefix, "prefix", "sim-", "device id prefix; ids are {prefix}0001, {prefix}0002, ...")
	fs.StringVar(&o.model, "model", "sim-board-v1", "hardware model of every device")
	fs.StringVar(&o.version, "version", "1.0.0", "firmware version every device starts with")
	fs.DurationVar(&o.heartbeat, "heartbeat", 10*time.Second, "heartbeat interval")
	fs.DurationVar(&o.stepDelay, "step-delay", 500*time.Millisecond, "pause between update steps")
	fs.BoolVar(&o.progress, "progress", true, "send intermediate progress reports, not only final ones")
	fs.StringVar(&o.fail, "fail", "", `per-device behaviors, e.g. "sim-0004=install_failure,sim-0005=silent"`)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case o.count < 1:
		return o, fmt.Errorf("--count must be at least 1")
	case o.apiKey == "":
		return o, fmt.Errorf("--api-key is required: each device gets its broker credentials through the API")
	}
	return o, nil
}

// parseBehaviors parses "id=behavior,id=behavior".
func parseBehaviors(s string) (map[string]devicesim.Behavior, error) {
	out := map[string]devicesim.Behavior{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, name, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("--fail: %q is not id=behavior", item)
		}
		b, err := devicesim.ParseBehavior(name)
		if err != nil {
			return nil, fmt.Errorf("--fail: %w", err)
		}
		out[strings.TrimSpace(id)] = b
	}
	return out, nil
}

// devices builds the fleet. Ids are zero-padded to at least four digits so they sort.
func (o options) devices() ([]devicesim.DeviceSpec, error) {
	behaviors, err := parseBehaviors(o.fail)
	if err != nil {
		return nil, err
	}
	width := max(4, len(strconv.Itoa(o.count)))
	specs := make([]devicesim.DeviceSpec, o.count)
	for i := range specs {
		id := fmt.Sprintf("%s%0*d", o.prefix, width, i+1)
		b, ok := behaviors[id]
		if !ok {
			b = devicesim.BehaviorNormal
		}
		delete(behaviors, id)
		specs[i] = devicesim.DeviceSpec{
			ID:              id,
			HardwareModel:   o.model,
			FirmwareVersion: o.version,
			// A spread of battery levels, so dashboards have something to show.
			BatteryPercent: 100 - (i*7)%60,
			Behavior:       b,
		}
	}
	if len(behaviors) > 0 {
		unknown := slices.Sorted(maps.Keys(behaviors))
		return nil, fmt.Errorf("--fail names devices outside the fleet of %d: %s", o.count, strings.Join(unknown, ", "))
	}
	return specs, nil
}
