package integration

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/topic"
	"github.com/otaplane/ota/simulator/devicesim"
)

// progressWatch follows a campaign's finished count and the longest stretch in which it
// did not grow.
type progressWatch struct {
	finished   int
	lastChange time.Time
	longest    time.Duration
}

func terminalCount(st map[string]any) int {
	c := statusCounts(st)
	return int(c["SUCCEEDED"] + c["FAILED"] + c["ROLLED_BACK"] + c["TIMED_OUT"] + c["CANCELED"] + c["REJECTED"])
}

// waitCompleted polls until the campaign is COMPLETED, measuring stalls from `from` on.
func (tn tenant) waitCompleted(id string, within time.Duration, from time.Time) (map[string]any, time.Duration) {
	tn.t.Helper()
	w := progressWatch{lastChange: from}
	deadline := time.Now().Add(within)
	for {
		st := tn.status(id)
		now := time.Now()
		if now.After(from) {
			w.longest = max(w.longest, now.Sub(w.lastChange))
		}
		if n := terminalCount(st); n != w.finished {
			w.finished = n
			if now.After(from) {
				w.lastChange = now
			}
		}
		if st["state"] == "COMPLETED" {
			return st, w.longest
		}
		if now.After(deadline) {
			require.FailNowf(tn.t, "campaign not completed", "within %s (longest stall %s); last status %v", within,
				w.longest, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// assertTruth compares what the control plane records for each device with what the
// device really runs.
func (tn tenant) assertTruth(sim *devicesim.Fleet, deviceIDs []string) {
	tn.t.Helper()
	for _, id := range deviceIDs {
		real, ok := sim.Device(id)
		require.True(tn.t, ok, id)
		rec := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+id, nil)
		assert.Equalf(tn.t, real.FirmwareVersion, rec["firmware_version"], "%s: record vs device", id)
		rows := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+id+"/firmware-history", nil)["history"].([]any)
		if len(rows) == 0 {
			continue
		}
		last := rows[0].(map[string]any)
		if last["outcome"] == "SUCCEEDED" {
			assert.Equalf(tn.t, last["to_version"], real.FirmwareVersion, "%s: SUCCEEDED but the device runs another image", id)
		}
	}
}

// updatesPerDevice counts the distinct UPDATE commands each device received.
func updatesPerDevice(sim *devicesim.Fleet, deviceIDs []string) map[string]int {
	out := map[string]int{}
	for _, id := range deviceIDs {
		seen := map[string]bool{}
		for _, c := range sim.Commands(id) {
			if c.GetType() == devicev1.CommandType_COMMAND_TYPE_UPDATE {
				seen[c.GetCommandId()] = true
			}
		}
		out[id] = len(seen)
	}
	return out
}

// busyDevices counts the devices in the middle of a command.
func busyDevices(sim *devicesim.Fleet, deviceIDs []string) int {
	n := 0
	for _, id := range deviceIDs {
		if st, _ := sim.Device(id); st.CurrentCommandID != "" && !st.CurrentDone {
			n++
		}
	}
	return n
}

// waitDevicesDone waits until every device that was sent an update has finished it.
func waitDevicesDone(t *testing.T, sim *devicesim.Fleet, deviceIDs []string, within time.Duration) int {
	t.Helper()
	var busy, done int
	require.Eventuallyf(t, func() bool {
		busy, done = 0, 0
		for _, id := range deviceIDs {
			st, _ := sim.Device(id)
			switch {
			case st.CurrentCommandID != "" && !st.CurrentDone:
				busy++
			case st.CurrentDone:
				done++
			}
		}
		return busy == 0
	}, within, 100*time.Millisecond, "%d devices still busy", busy)
	return done
}

// TestWorkerDownWhileDevicesFinish kills the only worker mid-campaign and keeps it down
// until every device it had commanded has finished: their reports reach their runs
// after the restart, within seconds, and every device ends SUCCEEDED on the new image.
func TestWorkerDownWhileDevicesFinish(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("down", 60, "board-w", "1.0.0")
	tn.createDevices(fleet)
	sim := tn.startFleetWith(fleet, 400*time.Millisecond)
	fw := tn.uploadFirmware("1.1.0", "board-w", image(100))
	id := tn.createCampaign(map[string]any{"name": "down", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"max_in_flight": 20, "step_timeout": "2m", "in_progress_timeout": "5m"}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	require.Eventually(t, func() bool {
		// The test configuration continues a campaign as new every 4 runs: 4 in flight at most.
		return terminalCount(tn.status(id)) >= 12 && busyDevices(sim, ids(fleet)) >= 3
	}, time.Minute, 50*time.Millisecond, "devices mid-update")

	worker.killForTest(t)
	finishedDown := waitDevicesDone(t, sim, ids(fleet), time.Minute)
	before := terminalCount(tn.status(id))
	require.Greater(t, finishedDown, before, "devices finished while no worker was listening")
	restarted := time.Now()
	require.NoError(t, worker.start())

	st, stall := tn.waitCompleted(id, 3*time.Minute, restarted)
	assert.EqualValues(t, 60, statusCounts(st)["SUCCEEDED"], "%v", st)
	assert.Less(t, stall, 30*time.Second, "longest stretch without a device finishing after the restart")
	tn.assertTruth(sim, ids(fleet))
	for dev, n := range updatesPerDevice(sim, ids(fleet)) {
		assert.Equalf(t, 1, n, "%s got %d UPDATE commands", dev, n)
	}
}

// TestWorkerReplicaLostForGood runs a second worker and kills it for good mid-campaign,
// as when a pod is rescheduled: the surviving worker finishes everything, including
// the runs and reports the lost one held.
func TestWorkerReplicaLostForGood(t *testing.T) {
	second, err := newWorkerProcess(worker.bin, filepath.Join(t.TempDir(), "worker-b.log"), cfg.MQTT.ClientID+"-b")
	require.NoError(t, err)
	require.NoError(t, second.start())
	lost := false
	t.Cleanup(func() {
		if !lost {
			second.kill()
		}
	})

	tn := newTenant(t)
	fleet := specs("replica", 60, "board-x", "1.0.0")
	tn.createDevices(fleet)
	sim := tn.startFleetWith(fleet, 400*time.Millisecond)
	fw := tn.uploadFirmware("1.1.0", "board-x", image(100))
	id := tn.createCampaign(map[string]any{"name": "replica", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"max_in_flight": 20, "step_timeout": "2m", "in_progress_timeout": "5m"}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	require.Eventually(t, func() bool { return terminalCount(tn.status(id)) >= 18 }, time.Minute, 100*time.Millisecond)

	second.kill()
	lost = true
	st, stall := tn.waitCompleted(id, 3*time.Minute, time.Now())
	assert.EqualValues(t, 60, statusCounts(st)["SUCCEEDED"], "%v", st)
	assert.Less(t, stall, 30*time.Second, "longest stretch without a device finishing after the loss")
	tn.assertTruth(sim, ids(fleet))
	for dev, n := range updatesPerDevice(sim, ids(fleet)) {
		assert.Equalf(t, 1, n, "%s got %d UPDATE commands", dev, n)
	}
}

// deviceClient connects with a registered device's own credentials and publishes
// whatever a test wants: a device that lies, or one whose credentials were stolen.
func deviceClient(t *testing.T, tn tenant, deviceID string) mqtt.Client {
	t.Helper()
	cred := tn.creds[deviceID]
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cfg.MQTT.Broker).SetClientID(cred.ClientID).
		SetUsername(cred.Username).SetPassword(cred.Password).SetCleanSession(true))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, top string, qos byte, msg proto.Message) {
	t.Helper()
	payload, err := proto.Marshal(msg)
	require.NoError(t, err)
	publishRaw(t, c, top, qos, payload)
}

func publishRaw(t *testing.T, c mqtt.Client, top string, qos byte, payload []byte) {
	t.Helper()
	tok := c.Publish(top, qos, false, payload)
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
}

// waitRun waits until the device's update run has ended and returns its state.
func (tn tenant) waitRun(deviceID string, within time.Duration) map[string]any {
	tn.t.Helper()
	var st map[string]any
	require.Eventuallyf(tn.t, func() bool {
		st = tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+deviceID+"/ota", nil)
		switch st["state"] {
		case "SUCCEEDED", "FAILED", "ROLLED_BACK", "TIMED_OUT", "CANCELED", "REJECTED":
			return true
		}
		return false
	}, within, 200*time.Millisecond, "run of %s never ended: %v", deviceID, st)
	return st
}

// TestHeartbeatClaimCannotEndAnUpdate: a device's heartbeats claim the target version
// (a lying device, or one whose credentials were stolen); the update still needs the
// device's answer to its command, which never comes.
func TestHeartbeatClaimCannotEndAnUpdate(t *testing.T) {
	tn := newTenant(t)
	dev := devicesim.DeviceSpec{ID: "claimed", HardwareModel: "board-f", FirmwareVersion: "1.0.0", BatteryPercent: 90}
	tn.createDevices([]devicesim.DeviceSpec{dev})
	fw := tn.uploadFirmware("1.1.0", "board-f", image(100))

	forger := deviceClient(t, tn, dev.ID)
	var mu sync.Mutex
	kinds := map[devicev1.CommandType]int{}
	tok := forger.Subscribe(topic.Commands(tn.ID, dev.ID), 1, func(_ mqtt.Client, m mqtt.Message) {
		var cmd devicev1.Command
		if proto.Unmarshal(m.Payload(), &cmd) == nil {
			mu.Lock()
			kinds[cmd.GetType()]++
			mu.Unlock()
		}
	})
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	claim, err := proto.Marshal(&devicev1.Heartbeat{FirmwareVersion: "1.1.0", BatteryPercent: 90})
	require.NoError(t, err)
	stop := make(chan struct{})
	forging := make(chan struct{})
	go func() { // the claim is repeated all along, outshouting the device's own heartbeats
		defer close(forging)
		for {
			forger.Publish(topic.Heartbeat(tn.ID, dev.ID), 0, false, claim)
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-forging }()
	require.Eventually(t, func() bool {
		d := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+dev.ID, nil)
		return d["reported_version"] == "1.1.0"
	}, 20*time.Second, 100*time.Millisecond, "the forged heartbeat was recorded as a claim")

	tn.mustDo(http.StatusAccepted, http.MethodPut, "/api/v1/devices/"+dev.ID+"/ota/update", map[string]any{"firmware_id": fw["id"]})
	st := tn.waitRun(dev.ID, time.Minute)
	assert.Equal(t, "TIMED_OUT", st["state"], "%v", st)
	rec := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+dev.ID, nil)
	assert.Equal(t, "1.0.0", rec["firmware_version"], "the record still says what the device runs")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, kinds[devicev1.CommandType_COMMAND_TYPE_UPDATE], "%v", kinds)
	assert.GreaterOrEqual(t, kinds[devicev1.CommandType_COMMAND_TYPE_STATUS_REQUEST], 1, "asked before timing out: %v", kinds)
}

// TestPoisonMessagesBlockNoOne: a device floods its own topics with what no device may
// send — a version with a NUL byte, reports whose command id names no run, bytes that
// are no message — and tries topics not its own, while other devices heartbeat and update.
func TestPoisonMessagesBlockNoOne(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("clean", 3, "board-p", "1.0.0")
	tn.createDevices(append(fleet, devicesim.DeviceSpec{ID: "poisoned", HardwareModel: "board-p", FirmwareVersion: "1.0.0"}))
	other := newTenant(t)
	other.createDevices([]devicesim.DeviceSpec{{ID: "clean-001", HardwareModel: "board-p", FirmwareVersion: "1.0.0"}})
	sim := tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-p", image(100))

	seenBefore := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID, nil)["last_seen_at"].(string)
	poisoner := deviceClient(t, tn, "poisoned")
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			hb, _ := proto.Marshal(&devicev1.Heartbeat{FirmwareVersion: "1.0.0"})
			bad, _ := proto.Marshal(&devicev1.Heartbeat{FirmwareVersion: "1.0\x00.0"})
			// Not its own: the broker drops these (a sibling, another tenant, no tenant).
			poisoner.Publish(topic.Heartbeat(tn.ID, fleet[0].ID), 0, false, bad)
			poisoner.Publish(topic.Heartbeat(other.ID, "clean-001"), 0, false, hb)
			poisoner.Publish("acme/devices/x/heartbeat", 0, false, hb)
			poisoner.Publish(topic.Heartbeat(tn.ID, "poisoned"), 0, false, bad)
			for _, cmdID := range []string{"not-a-uuid:1", "garbage", fmt.Sprintf("0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c%04d:1", i%10000)} {
				rep, _ := proto.Marshal(&devicev1.Report{CommandId: cmdID, Status: devicev1.ReportStatus_REPORT_STATUS_INSTALLED})
				poisoner.Publish(topic.Reports(tn.ID, "poisoned"), 1, false, rep)
			}
			poisoner.Publish(topic.Reports(tn.ID, "poisoned"), 1, false, []byte{0xff, 0x01, 0x02})
		}
	}()
	defer func() { close(stop); <-flooded }()

	require.Eventually(t, func() bool {
		d := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID, nil)
		return d["last_seen_at"].(string) != seenBefore
	}, 20*time.Second, 200*time.Millisecond, "heartbeats of good devices are still recorded")
	id := tn.createCampaign(map[string]any{"name": "through poison", "firmware_id": fw["id"], "device_ids": ids(fleet)})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	st, _ := tn.waitCompleted(id, time.Minute, time.Now())
	assert.EqualValues(t, 3, statusCounts(st)["SUCCEEDED"], "%v", st)
	tn.assertTruth(sim, ids(fleet))
	poisoned := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/poisoned", nil)
	assert.Nil(t, poisoned["last_seen_at"], "a heartbeat with a NUL in its version is never recorded")
	victim := other.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/clean-001", nil)
	assert.Nil(t, victim["last_seen_at"], "another tenant's device never appears online from someone else's heartbeat")
}

// TestSoakAndLostReports: SUCCEEDED means healthy on the new image for the whole soak;
// a final report that never arrived is recovered by asking the device.
func TestSoakAndLostReports(t *testing.T) {
	tn := newTenant(t)
	devices := []devicesim.DeviceSpec{
		{ID: "soak-ok", Behavior: devicesim.BehaviorNormal},
		{ID: "soak-fallback", Behavior: devicesim.BehaviorSlotFallback},
		{ID: "soak-loop", Behavior: devicesim.BehaviorBootLoop},
		{ID: "soak-lossy", Behavior: devicesim.BehaviorLossyReports},
	}
	for i := range devices {
		devices[i].HardwareModel, devices[i].FirmwareVersion, devices[i].BatteryPercent = "board-s", "1.0.0", 90
	}
	tn.createDevices(devices)
	sim := tn.startFleet(devices)
	fw := tn.uploadFirmware("1.1.0", "board-s", image(100))
	id := tn.createCampaign(map[string]any{"name": "soak", "firmware_id": fw["id"], "device_ids": ids(devices),
		"rollout": map[string]any{"soak": "8s", "soak_max_reboots": 1}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	require.Eventually(t, func() bool { return statusCounts(tn.status(id))["SOAKING"] > 0 }, time.Minute, 100*time.Millisecond,
		"devices are seen soaking")
	tn.waitCompleted(id, 2*time.Minute, time.Now())

	want := map[string]string{"soak-ok": "SUCCEEDED", "soak-fallback": "FAILED", "soak-loop": "FAILED", "soak-lossy": "SUCCEEDED"}
	reasons := map[string]string{"soak-fallback": "fell_back_to_previous_image", "soak-loop": "reboot_loop"}
	for dev, state := range want {
		rows := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+dev+"/firmware-history", nil)["history"].([]any)
		require.Lenf(t, rows, 1, dev)
		row := rows[0].(map[string]any)
		assert.Equalf(t, state, row["outcome"], "%s: %v", dev, row)
		if r, ok := reasons[dev]; ok {
			assert.Containsf(t, row["reason"], r, dev)
		}
	}
	tn.assertTruth(sim, ids(devices))
}
