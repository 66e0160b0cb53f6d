package devicerun

import (
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// Readiness is the pure decision behind check_device_ready (and a dry run): may a run
// command this device now? Offline and low battery may pass with time: the workflow
// checks again until its ready window ends.
//
// A device that seems to run the target already is ready like any other: a version claim
// (a heartbeat, or a record) never ends an MQTT device's run; the device confirms it
// in answer to the run's command. ReportsTarget says so for dry runs and for LoRaWAN
// deployments, whose version uplinks come through the network server.
func Readiness(d model.Device, fw otaflow.FirmwareRef, p otaflow.UpdatePolicy, now time.Time) otaflow.ReadyCheck {
	current := d.FirmwareVersion
	if d.ReportedVersion != "" {
		current = d.ReportedVersion // the device's own word beats our record
	}
	check := otaflow.ReadyCheck{CurrentVersion: current, ReportsTarget: current == fw.Version}
	switch {
	case d.HardwareModel != fw.HardwareModel:
		check.Reason = otaflow.ReasonHardwareMismatch
	case !p.AllowDowngrade && model.CompareVersions(fw.Version, current) < 0:
		check.Reason = otaflow.ReasonDowngrade
	case d.LastSeenAt == nil || now.Sub(*d.LastSeenAt) > p.HeartbeatMaxAge:
		check.Reason = otaflow.ReasonOffline
	case d.BatteryPercent != nil && *d.BatteryPercent >= 0 && *d.BatteryPercent < p.MinBatteryPercent:
		check.Reason = otaflow.ReasonLowBattery
	default:
		check.Ready = true
	}
	return check
}
