package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/simulator/devicesim"
)

const (
	hardwareModel  = "bench-board-v1"
	fromVersion    = "1.0.0"
	targetVersion  = "2.0.0"
	loadVersion    = "3.0.0" // the second campaign's, under status load
	importChunk    = 1000
	listPage       = 1000
	heartbeatEvery = 20 * time.Second
	heartbeatWait  = 3 * time.Minute
)

// deviceSets are the ids of each campaign's devices; no device is in two campaigns, so
// every run does a real update.
type deviceSets struct {
	full   []string
	warmup []string
	small  [][]string
}

func (s deviceSets) all() []string {
	out := append([]string{}, s.full...)
	out = append(out, s.warmup...)
	for _, ids := range s.small {
		out = append(out, ids...)
	}
	return out
}

func makeDeviceSets(spec Spec, o Options) deviceSets {
	var s deviceSets
	for i := 1; i <= spec.Devices; i++ {
		s.full = append(s.full, fmt.Sprintf("dev-%05d", i))
	}
	if spec.HoldInFlight {
		return s
	}
	for i := 1; i <= o.SmallSize; i++ {
		s.warmup = append(s.warmup, fmt.Sprintf("warm-%03d", i))
	}
	for c := 1; c <= o.SmallCampaigns; c++ {
		var ids []string
		for i := 1; i <= o.SmallSize; i++ {
			ids = append(ids, fmt.Sprintf("small%02d-%03d", c, i))
		}
		s.small = append(s.small, ids)
	}
	return s
}

// prepare creates the tenant, firmware and devices, starts the simulated fleet and waits
// until the control plane has recorded a heartbeat from every device.
func (e *env) prepare(ctx context.Context, res *report.Run) error {
	name := e.spec.Name()
	if err := e.createTenant(ctx); err != nil {
		return err
	}
	e.sets = makeDeviceSets(e.spec, e.opts)
	ids := e.sets.all()
	logf("%s: creating %d devices", name, len(ids))
	t0 := time.Now()
	method, creds, err := e.createDevices(ctx, ids)
	if err != nil {
		return fmt.Errorf("create devices: %w", err)
	}
	res.DeviceCreation, res.CreateSeconds = method, round(time.Since(t0).Seconds(), 1)
	logf("%s: %d devices created in %.1f s (%s)", name, len(ids), res.CreateSeconds, method)

	behavior := devicesim.BehaviorNormal
	if e.spec.HoldInFlight {
		behavior = devicesim.BehaviorSilent
	}
	specs := make([]devicesim.DeviceSpec, len(ids))
	for i, id := range ids {
		specs[i] = devicesim.DeviceSpec{ID: id, HardwareModel: hardwareModel, FirmwareVersion: fromVersion,
			BatteryPercent: 90, Behavior: behavior}
	}
	trust, err := devicesim.FetchTrust(ctx, e.client.HTTP, e.client.Base, e.client.Key)
	if err != nil {
		return err
	}
	fleet, err := devicesim.NewFleet(devicesim.Config{
		BrokerURL: e.mqttURL, TenantID: e.tenantID, Trust: trust,
		HeartbeatInterval: heartbeatEvery, StepDelay: 0, ProgressReports: e.opts.ProgressReports,
		HTTPClient: otaapi.NewHTTPClient(64), Logger: zap.NewNop(),
	}, otaapi.WithCredentials(specs, creds))
	if err != nil {
		return err
	}
	// Every device connects with its own identity, which the broker checks: 10,000 take
	// a few seconds here, 50,000 more than half a minute.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second+time.Duration(len(ids))*2*time.Millisecond)
	defer cancel()
	if err := fleet.Start(sctx); err != nil {
		return fmt.Errorf("start simulated fleet: %w", err)
	}
	e.fleet = fleet
	e.onDown("simulated fleet", func() error { fleet.Stop(); return nil })
	return e.waitHeartbeats(ctx, len(ids))
}

// createDevices uses the bulk import when the API has it, else parallel single creates.
func (e *env) createDevices(ctx context.Context, ids []string) (string, []otaapi.Credentials, error) {
	if err := e.importDevices(ctx, ids); err != nil {
		return "", nil, err
	}
	// Imported devices have no broker credentials yet: each gets its own.
	creds, err := e.client.IssueCredentials(ctx, ids)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("POST /devices/import, %d per request, then POST /devices/credentials", importChunk), creds, nil
}

// importDevices creates the devices, importChunk per request.
func (e *env) importDevices(ctx context.Context, ids []string) error {
	devs := make([]otaapi.Device, len(ids))
	for i, id := range ids {
		devs[i] = otaapi.Device{ID: id, HardwareModel: hardwareModel, FirmwareVersion: fromVersion}
	}
	for start := 0; start < len(devs); start += importChunk {
		if err := e.client.ImportDevices(ctx, devs[start:min(start+importChunk, len(devs))]); err != nil {
			return err
		}
	}
	return nil
}

// createTenant creates the benchmark's tenant and uploads the target firmware.
func (e *env) createTenant(ctx context.Context) error {
	id, key, err := e.admin.CreateTenant(ctx, fmt.Sprintf("bench-%s-%s", e.spec.Name(), e.opts.Stamp))
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	e.tenantID, e.client = id, e.admin.WithKey(key)

	image := make([]byte, e.opts.FirmwareKiB<<10)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(image)
	e.firmware, err = e.client.UploadFirmware(ctx, targetVersion, hardwareModel, image)
	if err != nil {
		return fmt.Errorf("upload firmware: %w", err)
	}
	return nil
}

// waitHeartbeats pages through the device list until every device has last_seen_at.
func (e *env) waitHeartbeats(ctx context.Context, want int) error {
	deadline := time.Now().Add(heartbeatWait)
	for {
		seen, total := 0, 0
		after := ""
		for {
			page, next, err := e.client.ListDevices(ctx, after, listPage)
			if err != nil {
				return fmt.Errorf("list devices: %w", err)
			}
			for _, d := range page {
				total++
				if d.LastSeenAt != nil {
					seen++
				}
			}
			if next == "" {
				break
			}
			after = next
		}
		if total != want {
			return fmt.Errorf("device list has %d devices, want %d", total, want)
		}
		if seen == want {
			logf("%s: heartbeats recorded for all %d devices", e.spec.Name(), want)
			return nil
		}
		if err := e.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s only %d of %d devices have a heartbeat recorded", heartbeatWait, seen, want)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}
