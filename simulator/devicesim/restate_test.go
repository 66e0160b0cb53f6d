package devicesim

import (
	"fmt"
	"testing"
	"time"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatusRequestRestatesTheLatestCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorNormal), spec("d2", BehaviorNormal))

	fresh := statusRequestCmd(t)
	e.obs.send("d2", fresh)
	st := e.obs.waitStatus("d2", fresh.GetCommandId())
	assert.Empty(t, st.GetCommandId(), "a device that got no command names none")
	assert.Equal(t, "1.0.0", st.GetFirmwareVersion())
	assert.EqualValues(t, 1, st.GetBootCount())

	upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", upd)
	e.obs.waitFinal("d1", upd.GetCommandId())
	req := statusRequestCmd(t)
	e.obs.send("d1", req)
	st = e.obs.waitStatus("d1", req.GetCommandId())
	assert.Equal(t, upd.GetCommandId(), st.GetCommandId())
	assert.Equal(t, stInstalled, st.GetCommandStatus())
	assert.Equal(t, "2.0.0", st.GetFirmwareVersion())
	assert.NotEmpty(t, st.GetImageSha256())
	assert.EqualValues(t, 2, st.GetBootCount(), "the install rebooted the device")

	// The same request again is answered again: status requests are never deduplicated.
	e.obs.send("d1", req)
	require.Eventually(t, func() bool {
		e.obs.mu.Lock()
		defer e.obs.mu.Unlock()
		return len(e.obs.statuses["d1"]) == 2
	}, waitTimeout, pollInterval)
}

func TestDuplicateOfAFinishedCommandRepeatsItsOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorNormal))
	upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", upd)
	e.obs.waitFinal("d1", upd.GetCommandId())
	before, _ := e.fleet.Device("d1")

	e.obs.send("d1", upd)
	require.Eventually(t, func() bool { return len(e.obs.reportsOf("d1")) == 2 }, waitTimeout, pollInterval)
	got := e.obs.reportsOf("d1")
	assert.Equal(t, []devicev1.ReportStatus{stInstalled, stInstalled}, statuses(got))
	after, _ := e.fleet.Device("d1")
	assert.Equal(t, before.BootCount, after.BootCount, "nothing installed twice")
	assert.Equal(t, 1, after.DuplicatesDropped)
}

func TestUpdateToTheRunningImageConfirmsWithoutInstalling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{ProgressReports: true}, spec("d1", BehaviorNormal))
	fw := e.fw.firmware("/fw/2.0.0.bin", "2.0.0")
	first := updateCmd(t, fw)
	e.obs.send("d1", first)
	e.obs.waitFinal("d1", first.GetCommandId())
	before, _ := e.fleet.Device("d1")

	again := updateCmd(t, fw)
	e.obs.send("d1", again)
	got := e.obs.waitFinal("d1", again.GetCommandId())
	assert.Equal(t, []devicev1.ReportStatus{stAccepted, stInstalled}, statuses(got))
	assert.Equal(t, "2.0.0", got[len(got)-1].GetFirmwareVersion())
	after, _ := e.fleet.Device("d1")
	assert.Equal(t, before.BootCount, after.BootCount, "no reboot: nothing was installed")
}

func TestBootLoopKeepsRebooting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorBootLoop))
	upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", upd)
	got := e.obs.waitFinal("d1", upd.GetCommandId())
	require.Equal(t, stInstalled, got[len(got)-1].GetStatus())
	installedAt := len(e.obs.heartbeatsOf("d1"))
	hbs := e.obs.waitHeartbeats("d1", installedAt+5)
	last := hbs[len(hbs)-1]
	assert.Greater(t, last.GetBootCount(), got[len(got)-1].GetBootCount()+2)
	assert.Equal(t, "2.0.0", last.GetFirmwareVersion())
}

func TestSlotFallbackRevertsToTheOldImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorSlotFallback))
	upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", upd)
	got := e.obs.waitFinal("d1", upd.GetCommandId())
	require.Equal(t, stInstalled, got[len(got)-1].GetStatus(), "the device reports the install first")
	require.Eventually(t, func() bool {
		st, _ := e.fleet.Device("d1")
		return st.FirmwareVersion == "1.0.0"
	}, waitTimeout, pollInterval)
	time.Sleep(2 * testHeartbeat)
	hbs := e.obs.heartbeatsOf("d1")
	assert.Equal(t, "1.0.0", hbs[len(hbs)-1].GetFirmwareVersion())
}

func TestLossyReportsStillAnswerStatusRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorLossyReports))
	upd := updateCmd(t, e.fw.firmware("/fw/2.0.0.bin", "2.0.0"))
	e.obs.send("d1", upd)
	require.Eventually(t, func() bool {
		st, _ := e.fleet.Device("d1")
		return st.CurrentDone
	}, waitTimeout, pollInterval)
	time.Sleep(quietPeriod)
	assert.Empty(t, e.obs.reportsOf("d1"), "the final report never reached the broker")
	req := statusRequestCmd(t)
	e.obs.send("d1", req)
	st := e.obs.waitStatus("d1", req.GetCommandId())
	assert.Equal(t, upd.GetCommandId(), st.GetCommandId())
	assert.Equal(t, stInstalled, st.GetCommandStatus())
	assert.Equal(t, "2.0.0", st.GetFirmwareVersion())
}

func TestDownloadRetriesAndResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorNormal))
	e.fw.mu.Lock()
	e.fw.flaky = true
	e.fw.mu.Unlock()
	fw := e.fw.firmware("/fw/2.0.0.bin", "2.0.0")
	upd := updateCmd(t, fw)
	e.obs.send("d1", upd)
	got := e.obs.waitFinalWithin("d1", upd.GetCommandId(), 30*time.Second)
	require.Equal(t, stInstalled, got[len(got)-1].GetStatus(), "a flaky link does not fail the update")
	assert.Equal(t, fw.GetSha256(), got[len(got)-1].GetImageSha256())
	e.fw.mu.Lock()
	defer e.fw.mu.Unlock()
	require.Len(t, e.fw.ranges, 3)
	assert.Equal(t, []string{"", ""}, e.fw.ranges[:2])
	assert.Equal(t, fmt.Sprintf("bytes=%d-", len(e.fw.images["/fw/2.0.0.bin"])/2), e.fw.ranges[2], "resumed where it broke")
}
