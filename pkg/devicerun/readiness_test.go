package devicerun_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestReadiness(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	recent, stale := now.Add(-10*time.Second), now.Add(-time.Hour)
	battery := func(p int) *int { return &p }
	fw := otaflow.FirmwareRef{Version: "1.2.0", HardwareModel: "board"}
	policy := otaflow.UpdatePolicy{HeartbeatMaxAge: time.Minute, MinBatteryPercent: 20}
	tests := []struct {
		name      string
		device    model.Device
		downgrade bool
		want      otaflow.ReadyCheck
	}{
		{"ready", model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0", LastSeenAt: &recent},
			false, otaflow.ReadyCheck{Ready: true, CurrentVersion: "1.0.0"}},
		{"reported version wins", model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0", ReportedVersion: "1.1.0", LastSeenAt: &recent},
			false, otaflow.ReadyCheck{Ready: true, CurrentVersion: "1.1.0"}},
		{"wrong model", model.Device{HardwareModel: "other", FirmwareVersion: "1.0.0", LastSeenAt: &recent},
			false, otaflow.ReadyCheck{Reason: otaflow.ReasonHardwareMismatch, CurrentVersion: "1.0.0"}},
		{"already on target", model.Device{HardwareModel: "board", FirmwareVersion: "1.2.0", LastSeenAt: &recent},
			false, otaflow.ReadyCheck{Ready: true, ReportsTarget: true, CurrentVersion: "1.2.0"}},
		{"a heartbeat naming the target does not skip the update", model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0", ReportedVersion: "1.2.0", LastSeenAt: &recent},
			false, otaflow.ReadyCheck{Ready: true, ReportsTarget: true, CurrentVersion: "1.2.0"}},
		{"downgrade refused", model.Device{HardwareModel: "board", FirmwareVersion: "2.0.0", LastSeenAt: &recent},
			false, otaflow.ReadyCheck{Reason: otaflow.ReasonDowngrade, CurrentVersion: "2.0.0"}},
		{"downgrade allowed", model.Device{HardwareModel: "board", FirmwareVersion: "2.0.0", LastSeenAt: &recent},
			true, otaflow.ReadyCheck{Ready: true, CurrentVersion: "2.0.0"}},
		{"never seen", model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0"},
			false, otaflow.ReadyCheck{Reason: otaflow.ReasonOffline, CurrentVersion: "1.0.0"}},
		{"stale heartbeat", model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0", LastSeenAt: &stale},
			false, otaflow.ReadyCheck{Reason: otaflow.ReasonOffline, CurrentVersion: "1.0.0"}},
		{"low battery", model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0", LastSeenAt: &recent, BatteryPercent: battery(5)},
			false, otaflow.ReadyCheck{Reason: otaflow.ReasonLowBattery, CurrentVersion: "1.0.0"}},
		{"enough battery", model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0", LastSeenAt: &recent, BatteryPercent: battery(20)},
			false, otaflow.ReadyCheck{Ready: true, CurrentVersion: "1.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy
			p.AllowDowngrade = tt.downgrade
			assert.Equal(t, tt.want, devicerun.Readiness(tt.device, fw, p, now))
		})
	}
}
