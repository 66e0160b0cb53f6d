package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/simulator/devicesim"
)

const (
	hardwareModel = "chaos-board-v1"
	fromVersion   = "1.0.0"
	targetVersion = "2.0.0"
	// The simulator's default heartbeat period.
	heartbeatEvery = 10 * time.Second
	heartbeatWait  = 2 * time.Minute
	listPage       = 1000
)

// prepare creates the tenant, firmware and devices, starts the simulated fleet on the
// run's broker and waits until the control plane has a heartbeat from every device.
func (e *env) prepare(ctx context.Context) error {
	name := e.fault.name
	id, key, err := e.admin.CreateTenant(ctx, fmt.Sprintf("chaos-%s-%s", name, e.cfg.Stamp))
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	e.tenantID, e.client = id, e.admin.WithKey(key)

	image := make([]byte, e.cfg.FirmwareKiB<<10)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(image)
	if e.firmware, err = e.client.UploadFirmware(ctx, targetVersion, hardwareModel, image); err != nil {
		return fmt.Errorf("upload firmware: %w", err)
	}

	devs := make([]otaapi.Device, e.cfg.Devices)
	specs := make([]devicesim.DeviceSpec, e.cfg.Devices)
	for i := range devs {
		id := fmt.Sprintf("dev-%04d", i+1)
		e.ids = append(e.ids, id)
		devs[i] = otaapi.Device{ID: id, HardwareModel: hardwareModel, FirmwareVersion: fromVersion}
		specs[i] = devicesim.DeviceSpec{ID: id, HardwareModel: hardwareModel, FirmwareVersion: fromVersion,
			BatteryPercent: 90, Behavior: devicesim.BehaviorNormal}
	}
	if err := e.client.ImportDevices(ctx, devs); err != nil {
		return fmt.Errorf("import devices: %w", err)
	}
	creds, err := e.client.IssueCredentials(ctx, e.ids)
	if err != nil {
		return err
	}
	specs = otaapi.WithCredentials(specs, creds)

	trust, err := devicesim.FetchTrust(ctx, e.client.HTTP, e.client.Base, e.client.Key)
	if err != nil {
		return err
	}
	fleet, err := devicesim.NewFleet(devicesim.Config{
		BrokerURL: e.broker.URL(), TenantID: e.tenantID, Trust: trust, HeartbeatInterval: heartbeatEvery, StepDelay: e.cfg.StepDelay, ProgressReports: true,
		HTTPClient: otaapi.NewHTTPClient(64), Logger: zap.NewNop(),
	}, specs)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := fleet.Start(sctx); err != nil {
		return fmt.Errorf("start simulated fleet: %w", err)
	}
	e.fleet = fleet
	e.onDown("simulated fleet", func() error { fleet.Stop(); return nil })
	return e.waitHeartbeats(ctx)
}

// waitHeartbeats pages through the device list until every device has last_seen_at:
// a run refuses a device it has not heard from.
func (e *env) waitHeartbeats(ctx context.Context) error {
	deadline := time.Now().Add(heartbeatWait)
	for {
		seen, after := 0, ""
		for {
			page, next, err := e.client.ListDevices(ctx, after, listPage)
			if err != nil {
				return fmt.Errorf("list devices: %w", err)
			}
			for _, d := range page {
				if d.LastSeenAt != nil {
					seen++
				}
			}
			if next == "" {
				break
			}
			after = next
		}
		if seen == len(e.ids) {
			return nil
		}
		if err := e.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s only %d of %d devices have a heartbeat recorded", heartbeatWait, seen, len(e.ids))
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}
