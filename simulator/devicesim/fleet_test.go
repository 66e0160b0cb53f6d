package devicesim

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	stAccepted    = devicev1.ReportStatus_REPORT_STATUS_ACCEPTED
	stDownloading = devicev1.ReportStatus_REPORT_STATUS_DOWNLOADING
	stDownloaded  = devicev1.ReportStatus_REPORT_STATUS_DOWNLOADED
	stInstalling  = devicev1.ReportStatus_REPORT_STATUS_INSTALLING
	stInstalled   = devicev1.ReportStatus_REPORT_STATUS_INSTALLED
	stFailed      = devicev1.ReportStatus_REPORT_STATUS_FAILED
	stRejected    = devicev1.ReportStatus_REPORT_STATUS_REJECTED
	stRolledBack  = devicev1.ReportStatus_REPORT_STATUS_ROLLED_BACK
	stCanceled    = devicev1.ReportStatus_REPORT_STATUS_CANCELED
)

func TestUpdateOutcomes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		behavior Behavior
		// edit adjusts the otherwise valid command for 2.0.0.
		edit        func(fw *devicev1.Firmware, cmd *devicev1.Command)
		want        []devicev1.ReportStatus
		wantCode    string
		wantVersion string
	}{
		{
			name:        "normal",
			behavior:    BehaviorNormal,
			want:        []devicev1.ReportStatus{stAccepted, stDownloading, stDownloading, stDownloaded, stInstalling, stInstalled},
			wantVersion: "2.0.0",
		},
		{
			name:        "bad checksum behavior",
			behavior:    BehaviorBadChecksum,
			want:        []devicev1.ReportStatus{stAccepted, stDownloading, stDownloading, stFailed},
			wantCode:    ErrCodeImageMismatch,
			wantVersion: "1.0.0",
		},
		{
			name:        "served image differs from the signed sha256",
			behavior:    BehaviorNormal,
			edit:        func(fw *devicev1.Firmware, _ *devicev1.Command) { fw.Sha256 = fmt.Sprintf("%064x", 1) },
			want:        []devicev1.ReportStatus{stAccepted, stDownloading, stDownloading, stFailed},
			wantCode:    ErrCodeImageMismatch,
			wantVersion: "1.0.0",
		},
		{
			name:        "served image longer than the signed size",
			behavior:    BehaviorNormal,
			edit:        func(fw *devicev1.Firmware, _ *devicev1.Command) { fw.SizeBytes-- },
			want:        []devicev1.ReportStatus{stAccepted, stDownloading, stDownloading, stFailed},
			wantCode:    ErrCodeImageMismatch,
			wantVersion: "1.0.0",
		},
		{
			name:        "download not found",
			behavior:    BehaviorNormal,
			edit:        func(fw *devicev1.Firmware, _ *devicev1.Command) { fw.Url += ".missing" },
			want:        []devicev1.ReportStatus{stAccepted, stDownloading, stFailed},
			wantCode:    ErrCodeDownloadFailed,
			wantVersion: "1.0.0",
		},
		{
			name:        "install failure",
			behavior:    BehaviorInstallFailure,
			want:        []devicev1.ReportStatus{stAccepted, stDownloading, stDownloading, stDownloaded, stInstalling, stFailed},
			wantCode:    ErrCodeInstallFailed,
			wantVersion: "1.0.0",
		},
		{
			name:     "expired",
			behavior: BehaviorNormal,
			edit: func(_ *devicev1.Firmware, cmd *devicev1.Command) {
				cmd.ExpiresAtMs = time.Now().Add(-time.Second).UnixMilli()
			},
			want:        []devicev1.ReportStatus{stRejected},
			wantCode:    ErrCodeExpired,
			wantVersion: "1.0.0",
		},
		{
			name:        "signed for another hardware model",
			behavior:    BehaviorNormal,
			edit:        func(fw *devicev1.Firmware, _ *devicev1.Command) { fw.HardwareModel = "other-board" },
			want:        []devicev1.ReportStatus{stRejected},
			wantCode:    ErrCodeHardwareMismatch,
			wantVersion: "1.0.0",
		},
	}

	specs := make([]DeviceSpec, len(tests))
	for i, tt := range tests {
		specs[i] = spec(fmt.Sprintf("dev-%d", i), tt.behavior)
	}
	e := newEnv(t, Config{ProgressReports: true}, specs...)

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := specs[i].ID
			fw := e.fw.firmware("/fw/2.0.0.bin", "2.0.0")
			cmd := updateCmd(t, fw)
			if tt.edit != nil {
				tt.edit(fw, cmd)
			}
			e.obs.send(id, cmd)

			got := e.obs.waitFinal(id, cmd.GetCommandId())
			require.Equal(t, tt.want, statuses(got))
			last := got[len(got)-1]
			assert.Equal(t, tt.wantCode, last.GetErrorCode())
			for _, r := range got {
				assert.NotZero(t, r.GetReportedAtMs(), "reported_at_ms")
			}
			if len(got) > 1 && got[1].GetStatus() == stDownloading {
				assert.Equal(t, int32(0), got[1].GetProgressPercent())
			}
			if len(got) > 2 && got[2].GetStatus() == stDownloading {
				assert.Equal(t, int32(100), got[2].GetProgressPercent())
			}

			state, ok := e.fleet.Device(id)
			require.True(t, ok)
			assert.Equal(t, tt.wantVersion, state.FirmwareVersion)
			assert.Equal(t, cmd.GetCommandId(), state.LastCommandID)
			if last.GetStatus() == stInstalled {
				assert.Equal(t, "2.0.0", last.GetFirmwareVersion())
				assert.Equal(t, fw.GetSha256(), last.GetImageSha256())
				assert.Equal(t, "1.0.0", state.PreviousVersion)
			}
		})
	}
}

func TestProgressReportsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{ProgressReports: false}, spec("d1", BehaviorNormal), spec("d2", BehaviorInstallFailure))

	tests := []struct {
		device string
		want   devicev1.ReportStatus
	}{
		{device: "d1", want: stInstalled},
		{device: "d2", want: stFailed},
	}
	for _, tt := range tests {
		cmd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
		e.obs.send(tt.device, cmd)
		got := e.obs.waitFinal(tt.device, cmd.GetCommandId())
		assert.Equal(t, []devicev1.ReportStatus{tt.want}, statuses(got), tt.device)
	}
}

func TestDuplicateCommandProcessedOnce(t *testing.T) {
	t.Parallel()
	// The step delay keeps the update in progress when the duplicate arrives (a
	// duplicate of a finished update repeats its outcome instead).
	e := newEnv(t, Config{ProgressReports: true, StepDelay: 50 * time.Millisecond}, spec("d1", BehaviorNormal))

	cmd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", cmd)
	e.obs.send("d1", cmd)
	e.obs.waitFinal("d1", cmd.GetCommandId())
	// Give a second run, if one was started, the time to show itself.
	time.Sleep(quietPeriod)

	got := e.obs.reportsOf("d1")
	assert.Equal(t,
		[]devicev1.ReportStatus{stAccepted, stDownloading, stDownloading, stDownloaded, stInstalling, stInstalled},
		statuses(got))
	state, _ := e.fleet.Device("d1")
	assert.Equal(t, 2, state.CommandsReceived)
	assert.Equal(t, 1, state.DuplicatesDropped)
	assert.Len(t, e.fleet.Commands("d1"), 2)
}

func TestInstallFailureThenRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{ProgressReports: true}, spec("d1", BehaviorInstallFailure))

	upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", upd)
	got := e.obs.waitFinal("d1", upd.GetCommandId())
	require.Equal(t, stFailed, got[len(got)-1].GetStatus())
	assert.Equal(t, ErrCodeInstallFailed, got[len(got)-1].GetErrorCode())

	rb := rollbackCmd(t, "1.0.0")
	e.obs.send("d1", rb)
	got = e.obs.waitFinal("d1", rb.GetCommandId())
	assert.Equal(t, []devicev1.ReportStatus{stAccepted, stRolledBack}, statuses(got))
	assert.Equal(t, "1.0.0", got[len(got)-1].GetFirmwareVersion())
	state, _ := e.fleet.Device("d1")
	assert.Equal(t, "1.0.0", state.FirmwareVersion)
}

func TestRollbackToPreviousVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorNormal))

	upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", upd)
	e.obs.waitFinal("d1", upd.GetCommandId())
	state, _ := e.fleet.Device("d1")
	require.Equal(t, "2.0.0", state.FirmwareVersion)

	// No rollback_version: the device returns to the image it ran before.
	rb := rollbackCmd(t, "")
	e.obs.send("d1", rb)
	got := e.obs.waitFinal("d1", rb.GetCommandId())
	assert.Equal(t, []devicev1.ReportStatus{stRolledBack}, statuses(got))
	assert.Equal(t, "1.0.0", got[0].GetFirmwareVersion())
	state, _ = e.fleet.Device("d1")
	assert.Equal(t, "1.0.0", state.FirmwareVersion)
	assert.Equal(t, "2.0.0", state.PreviousVersion)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	// The step delay keeps the update in progress long enough to cancel it.
	e := newEnv(t, Config{ProgressReports: true, StepDelay: 100 * time.Millisecond},
		spec("busy", BehaviorNormal), spec("done", BehaviorNormal), spec("queued", BehaviorNormal))

	t.Run("in progress", func(t *testing.T) {
		t.Parallel()
		upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
		e.obs.send("busy", upd)
		require.Eventually(t, func() bool { return len(e.obs.reportsOf("busy")) > 0 }, waitTimeout, pollInterval)
		e.obs.send("busy", cancelCmd(t, upd.GetCommandId()))

		got := e.obs.waitFinal("busy", upd.GetCommandId())
		assert.Equal(t, stCanceled, got[len(got)-1].GetStatus())
		time.Sleep(quietPeriod)
		assert.Len(t, e.obs.reportsOf("busy"), len(got), "no reports after CANCELED")
		state, _ := e.fleet.Device("busy")
		assert.Equal(t, "1.0.0", state.FirmwareVersion)
	})

	t.Run("queued behind another update", func(t *testing.T) {
		t.Parallel()
		first := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
		second := updateCmd(t, e.fw.firmware("/fw/3.0.0.bin", "3.0.0"))
		e.obs.send("queued", first)
		e.obs.send("queued", second)
		e.obs.send("queued", cancelCmd(t, second.GetCommandId()))

		got := e.obs.waitFinal("queued", second.GetCommandId())
		assert.Equal(t, []devicev1.ReportStatus{stCanceled}, statuses(got))
		got = e.obs.waitFinal("queued", first.GetCommandId())
		assert.Equal(t, stInstalled, got[len(got)-1].GetStatus())
		time.Sleep(quietPeriod)
		state, _ := e.fleet.Device("queued")
		assert.Equal(t, "2.0.0", state.FirmwareVersion)
	})

	t.Run("already installed", func(t *testing.T) {
		t.Parallel()
		upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
		e.obs.send("done", upd)
		e.obs.waitFinal("done", upd.GetCommandId())

		cancel := cancelCmd(t, upd.GetCommandId())
		e.obs.send("done", cancel)
		got := e.obs.waitFinal("done", cancel.GetCommandId())
		require.Equal(t, []devicev1.ReportStatus{stRejected}, statuses(got))
		assert.Equal(t, ErrCodeAlreadyInstalled, got[0].GetErrorCode())
		state, _ := e.fleet.Device("done")
		assert.Equal(t, "2.0.0", state.FirmwareVersion)
	})
}

func TestSilentAndOfflineDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{ProgressReports: true},
		spec("normal", BehaviorNormal), spec("silent", BehaviorSilent), spec("offline", BehaviorOffline))

	for _, id := range []string{"silent", "offline"} {
		e.obs.send(id, updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0")))
	}
	e.obs.waitHeartbeats("normal", 3)
	e.obs.waitHeartbeats("silent", 3)
	time.Sleep(quietPeriod)

	tests := []struct {
		id             string
		wantHeartbeats bool
		wantReceived   int
	}{
		{id: "silent", wantHeartbeats: true, wantReceived: 1},
		{id: "offline", wantHeartbeats: false, wantReceived: 0},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			assert.Equal(t, tt.wantHeartbeats, len(e.obs.heartbeatsOf(tt.id)) > 0)
			assert.Empty(t, e.obs.reportsOf(tt.id))
			state, _ := e.fleet.Device(tt.id)
			assert.Equal(t, tt.wantReceived, state.CommandsReceived)
			assert.Equal(t, "1.0.0", state.FirmwareVersion)
		})
	}

	// Coming back online, the device heartbeats and answers again.
	require.NoError(t, e.fleet.SetBehavior("offline", BehaviorNormal))
	e.obs.waitHeartbeats("offline", 1)
	cmd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("offline", cmd)
	got := e.obs.waitFinal("offline", cmd.GetCommandId())
	assert.Equal(t, stInstalled, got[len(got)-1].GetStatus())
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	noBattery := spec("mains", BehaviorNormal)
	noBattery.BatteryPercent = -1
	e := newEnv(t, Config{}, spec("d1", BehaviorNormal), noBattery)

	hbs := e.obs.waitHeartbeats("d1", 3)
	for _, hb := range hbs {
		assert.Equal(t, "1.0.0", hb.GetFirmwareVersion())
		assert.Equal(t, testModel, hb.GetHardwareModel())
		assert.Equal(t, int32(80), hb.GetBatteryPercent())
		assert.NotZero(t, hb.GetSentAtMs())
	}
	assert.Equal(t, int32(-1), e.obs.waitHeartbeats("mains", 1)[0].GetBatteryPercent())

	cmd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", cmd)
	e.obs.waitFinal("d1", cmd.GetCommandId())
	require.Eventually(t, func() bool {
		hbs := e.obs.heartbeatsOf("d1")
		return hbs[len(hbs)-1].GetFirmwareVersion() == "2.0.0"
	}, waitTimeout, pollInterval, "heartbeat does not carry the new version")
}

func TestAddDeviceWhileRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{HeartbeatInterval: time.Minute}, spec("d1", BehaviorNormal))

	require.NoError(t, e.fleet.AddDevice(withCredentials(t, e.fleet.cfg.TenantID, []DeviceSpec{spec("late", BehaviorNormal)})[0]))
	require.Error(t, e.fleet.AddDevice(spec("late", BehaviorNormal)), "duplicate id")
	// The interval is a minute, so this heartbeat can only be the immediate one.
	e.obs.waitHeartbeats("late", 1)

	cmd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("late", cmd)
	got := e.obs.waitFinal("late", cmd.GetCommandId())
	assert.Equal(t, stInstalled, got[len(got)-1].GetStatus())
	assert.Equal(t, 2, e.fleet.Len())
}

// TestLargeFleet checks that 10,000 idle devices cost no goroutines and all heartbeat.
func TestLargeFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("large fleet skipped in -short mode")
	}
	// Not parallel: the goroutine count must not include other tests' fleets.
	const n = 10_000
	specs := make([]DeviceSpec, n)
	for i := range specs {
		specs[i] = spec(fmt.Sprintf("d%05d", i), BehaviorNormal)
	}
	before := runtime.NumGoroutine()
	e := newEnv(t, Config{HeartbeatInterval: time.Second}, specs...)

	require.Eventually(t, func() bool { return e.obs.heartbeatDevices() == n },
		30*time.Second, 20*time.Millisecond, "not every device sent a heartbeat")
	// Each device's own connection costs paho's few goroutines; an idle device adds none
	// of its own (slack covers the observer and the firmware server).
	assert.Less(t, (runtime.NumGoroutine()-before-100)/n, 12, "goroutines per idle device")

	cmd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d09999", cmd)
	got := e.obs.waitFinal("d09999", cmd.GetCommandId())
	assert.Equal(t, stInstalled, got[len(got)-1].GetStatus())
}

func TestFleetLifecycle(t *testing.T) {
	t.Parallel()
	tenant := uniqueTenant(t)
	f, err := NewFleet(Config{BrokerURL: brokerURL(), TenantID: tenant}, withCredentials(t, tenant, []DeviceSpec{spec("d1", 0)}))
	require.NoError(t, err)

	state, ok := f.Device("d1")
	require.True(t, ok)
	assert.Equal(t, BehaviorNormal, state.Behavior, "zero behavior defaults to normal")
	_, ok = f.Device("nope")
	assert.False(t, ok)
	assert.Nil(t, f.Commands("nope"))
	assert.Error(t, f.SetBehavior("nope", BehaviorSilent))
	assert.Error(t, f.SetBehavior("d1", Behavior(99)))

	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	require.NoError(t, f.Start(ctx))
	assert.Error(t, f.Start(ctx), "second Start")
	f.Stop()
	f.Stop()
}

func TestStartUnreachableBroker(t *testing.T) {
	t.Parallel()
	f, err := NewFleet(Config{BrokerURL: "tcp://127.0.0.1:1", TenantID: uniqueTenant(t)}, []DeviceSpec{spec("d1", 0)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	assert.Error(t, f.Start(ctx))
	f.Stop()
}
