package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/otaflow"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/simulator/devicesim"
)

// commandSpy shows the commands each simulated device received, with their QoS.
type commandSpy struct {
	sim *devicesim.Fleet
}

type seenCommand struct {
	QoS byte
	Cmd *devicev1.Command
}

func spyOn(sim *devicesim.Fleet) commandSpy { return commandSpy{sim: sim} }

func (s commandSpy) commands(device string) []seenCommand {
	var out []seenCommand
	for _, r := range s.sim.Received(device) {
		out = append(out, seenCommand{QoS: r.QoS, Cmd: r.Command})
	}
	return out
}

func statusCounts(body map[string]any) map[string]float64 {
	out := map[string]float64{}
	for k, v := range body["status_counts"].(map[string]any) {
		out[k] = v.(float64)
	}
	return out
}

// waitCampaign polls status until progress reaches 100 % and returns every distinct
// (progress, counts) snapshot it saw along the way.
func waitCampaign(t *testing.T, tn tenant, campaignID string, within time.Duration) (map[string]any, []string) {
	t.Helper()
	var snapshots []string
	deadline := time.Now().Add(within)
	for {
		st := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+campaignID+"/status", nil)
		snap := fmt.Sprintf("%v %v", st["progress_percent"], statusCounts(st))
		if len(snapshots) == 0 || snapshots[len(snapshots)-1] != snap {
			snapshots = append(snapshots, snap)
		}
		if st["progress_percent"].(float64) >= 100 && st["state"] == "COMPLETED" {
			return st, snapshots
		}
		if !time.Now().Before(deadline) {
			require.Failf(t, "campaign not finished", "within %s; last status %v%s", within, st,
				explainWorkflow(tn, otaflow.CampaignWorkflowID(campaignID)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCampaignUpdatesEveryDevice(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("dev", 5, "board-a", "1.0.0")
	tn.createDevices(fleet)
	sim := tn.startFleet(fleet)
	spy := spyOn(sim)
	fw := tn.uploadFirmware("1.1.0", "board-a", image(4000))

	camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns",
		map[string]any{"name": "rollout 1.1.0", "firmware_id": fw["id"], "device_ids": ids(fleet)})
	campaignID := camp["id"].(string)
	exec := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+campaignID+"/execute", nil)
	assert.EqualValues(t, 5, exec["workflows_submitted"])

	st, snapshots := waitCampaign(t, tn, campaignID, 2*time.Minute)
	counts := statusCounts(st)
	assert.EqualValues(t, 5, counts["SUCCEEDED"], "status %v", st)
	assert.EqualValues(t, 100, st["progress_percent"])
	assert.GreaterOrEqual(t, len(snapshots), 3, "status should move through intermediate states: %v", snapshots)

	for _, id := range ids(fleet) {
		cmds := spy.commands(id)
		require.NotEmptyf(t, cmds, "no command seen for %s", id)
		assert.EqualValues(t, 1, cmds[0].QoS, "commands are published with QoS 1")
		assert.Equal(t, devicev1.CommandType_COMMAND_TYPE_UPDATE, cmds[0].Cmd.GetType())
		assert.Equal(t, fw["sha256"], cmds[0].Cmd.GetFirmware().GetSha256())
		assert.NotEmpty(t, cmds[0].Cmd.GetCommandId())

		d, ok := sim.Device(id)
		require.True(t, ok)
		assert.Equal(t, "1.1.0", d.FirmwareVersion, "device %s runs the new image", id)

		dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+id, nil)
		assert.Equal(t, "1.1.0", dev["firmware_version"])

		hist := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+id+"/firmware-history", nil)
		rows := hist["history"].([]any)
		require.Lenf(t, rows, 1, "one history row per device: %v", rows)
		row := rows[0].(map[string]any)
		assert.Equal(t, "SUCCEEDED", row["outcome"])
		assert.Equal(t, "1.0.0", row["from_version"])
		assert.Equal(t, "1.1.0", row["to_version"])
		assert.Equal(t, campaignID, row["campaign_id"])
	}

	devs := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+campaignID+"/devices?limit=2", nil)
	page := devs["devices"].([]any)
	require.Len(t, page, 2)
	assert.NotEmpty(t, page[0].(map[string]any)["run_id"])
	assert.EqualValues(t, 2, devs["next_after_seq"])

	again := tn.do(http.MethodPost, "/api/v1/ota/campaigns/"+campaignID+"/execute", nil)
	assert.Equal(t, http.StatusConflict, again.Status, "a campaign executes once: %s", again.Raw)
}

func TestFailingDevicesRollBackOrTimeOut(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("mix", 4, "board-b", "2.0.0")
	fleet[1].Behavior = devicesim.BehaviorInstallFailure
	fleet[2].Behavior = devicesim.BehaviorSilent
	fleet[3].Behavior = devicesim.BehaviorBadChecksum
	tn.createDevices(fleet)
	sim := tn.startFleet(fleet)
	spy := spyOn(sim)
	fw := tn.uploadFirmware("2.1.0", "board-b", image(1000))

	camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns",
		map[string]any{"name": "mixed", "firmware_id": fw["id"], "device_ids": ids(fleet)})
	campaignID := camp["id"].(string)
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+campaignID+"/execute", nil)
	st, _ := waitCampaign(t, tn, campaignID, 2*time.Minute)
	counts := statusCounts(st)
	assert.EqualValues(t, 1, counts["SUCCEEDED"], "%v", st)
	assert.EqualValues(t, 2, counts["ROLLED_BACK"], "install failure and bad checksum roll back: %v", st)
	assert.EqualValues(t, 1, counts["TIMED_OUT"], "the silent device times out: %v", st)

	for _, id := range []string{fleet[1].ID, fleet[3].ID} {
		d, _ := sim.Device(id)
		assert.Equal(t, "2.0.0", d.FirmwareVersion, "%s is back on its old image", id)
		var types []devicev1.CommandType
		for _, c := range spy.commands(id) {
			types = append(types, c.Cmd.GetType())
		}
		assert.Contains(t, types, devicev1.CommandType_COMMAND_TYPE_ROLLBACK, "%s got a rollback command", id)
		hist := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+id+"/firmware-history", nil)
		rows := hist["history"].([]any)
		require.Len(t, rows, 1)
		assert.Equal(t, "ROLLED_BACK", rows[0].(map[string]any)["outcome"])
		dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+id, nil)
		assert.Equal(t, "2.0.0", dev["firmware_version"])
	}
	live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[2].ID+"/ota", nil)
	assert.Equal(t, "TIMED_OUT", live["state"])
	assert.NotEmpty(t, live["history"])
}

func TestSingleDeviceUpdateAndSecondUpdateConflict(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("solo", 1, "board-c", "0.9.0")
	fleet[0].Behavior = devicesim.BehaviorSilent // keeps the first update running
	tn.createDevices(fleet)
	sim := tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.0.0", "board-c", image(100))
	path := "/api/v1/devices/" + fleet[0].ID + "/ota/update"

	first := tn.mustDo(http.StatusAccepted, http.MethodPut, path, map[string]any{"firmware_id": fw["id"]})
	assert.Equal(t, "ota-device:"+fleet[0].ID, first["workflow_id"])
	assert.NotEmpty(t, first["run_id"])

	second := tn.do(http.MethodPut, path, map[string]any{"firmware_id": fw["id"]})
	require.Equal(t, http.StatusConflict, second.Status, "%s", second.Raw)
	assert.Equal(t, first["run_id"], second.Body["run_id"])

	require.Eventually(t, func() bool {
		live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
		return live["state"] == "COMMANDED"
	}, 30*time.Second, 200*time.Millisecond)

	// The device comes back to life: the next update goes through once the first ended.
	require.NoError(t, sim.SetBehavior(fleet[0].ID, devicesim.BehaviorNormal))
	require.Eventually(t, func() bool {
		live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
		return live["state"] == "TIMED_OUT"
	}, time.Minute, 250*time.Millisecond)
	// TIMED_OUT shows while the run still sends its cancel command and records the
	// outcome; until it closes, a new update is refused.
	require.Eventually(t, func() bool {
		r := tn.do(http.MethodPut, path, map[string]any{"firmware_id": fw["id"]})
		require.Containsf(t, []int{http.StatusAccepted, http.StatusConflict}, r.Status, "%s", r.Raw)
		return r.Status == http.StatusAccepted
	}, 30*time.Second, 250*time.Millisecond)
	require.Eventually(t, func() bool {
		live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
		return live["state"] == "SUCCEEDED"
	}, time.Minute, 250*time.Millisecond)
	live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
	var states []string
	for _, h := range live["history"].([]any) {
		states = append(states, h.(map[string]any)["state"].(string))
	}
	assert.Equal(t, []string{"PENDING", "CHECKING", "COMMANDED", "DOWNLOADING", "INSTALLING", "VERIFYING", "SUCCEEDED"}, states)
}

func TestTenantsCannotSeeEachOther(t *testing.T) {
	a, b := newTenant(t), newTenant(t)
	fleet := specs("iso", 1, "board-d", "1.0.0")
	a.createDevices(fleet)
	fw := a.uploadFirmware("1.0.1", "board-d", image(10))
	camp := a.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns",
		map[string]any{"name": "a only", "firmware_id": fw["id"], "device_ids": ids(fleet)})
	id := camp["id"].(string)

	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/ota/campaigns/" + id},
		{http.MethodGet, "/api/v1/ota/campaigns/" + id + "/status"},
		{http.MethodPost, "/api/v1/ota/campaigns/" + id + "/execute"},
		{http.MethodGet, "/api/v1/ota/campaigns/" + id + "/devices"},
		{http.MethodGet, "/api/v1/devices/" + fleet[0].ID},
		{http.MethodGet, "/api/v1/devices/" + fleet[0].ID + "/firmware-history"},
		{http.MethodGet, "/api/v1/firmware/" + fw["id"].(string)},
		{http.MethodGet, "/api/v1/firmware/" + fw["id"].(string) + "/download"},
	} {
		r := b.do(req.method, req.path, nil)
		assert.Equalf(t, http.StatusNotFound, r.Status, "tenant B %s %s: %s", req.method, req.path, r.Raw)
	}
	r := b.do(http.MethodPut, "/api/v1/devices/"+fleet[0].ID+"/ota/update", map[string]any{"firmware_id": fw["id"]})
	assert.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
	st := a.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+id, nil)
	assert.Equal(t, "CREATED", st["state"], "tenant B's execute changed nothing")

	anon := client{t: t}
	assert.Equal(t, http.StatusUnauthorized, anon.do(http.MethodGet, "/api/v1/devices", nil).Status)
	bad := client{t: t, key: "ota_not-a-key"}
	assert.Equal(t, http.StatusUnauthorized, bad.do(http.MethodGet, "/api/v1/devices", nil).Status)
	assert.Equal(t, http.StatusUnauthorized, a.do(http.MethodPost, "/api/v1/tenants", map[string]any{"name": "x"}).Status,
		"a tenant key is not an admin key")
}

func TestBadInputNamesTheFieldAndWritesNothing(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices(specs("ok", 1, "board-e", "1.0.0"))
	fw := tn.uploadFirmware("1.2.0", "board-e", image(10))

	cases := []struct {
		name, method, path, field string
		body                      any
	}{
		{"device id with slash", http.MethodPost, "/api/v1/devices", "id",
			map[string]any{"id": "a/b", "hardware_model": "m", "firmware_version": "1.0.0"}},
		{"device bad version", http.MethodPost, "/api/v1/devices", "firmware_version",
			map[string]any{"id": "x1", "hardware_model": "m", "firmware_version": "one"}},
		{"device unknown field", http.MethodPost, "/api/v1/devices", "colour",
			map[string]any{"id": "x2", "hardware_model": "m", "firmware_version": "1.0.0", "colour": "red"}},
		{"device wrong type", http.MethodPost, "/api/v1/devices", "labels",
			map[string]any{"id": "x3", "hardware_model": "m", "firmware_version": "1.0.0", "labels": []int{1}}},
		{"campaign no devices", http.MethodPost, "/api/v1/ota/campaigns", "device_ids",
			map[string]any{"name": "c", "firmware_id": fw["id"], "device_ids": []string{}}},
		{"campaign unknown device", http.MethodPost, "/api/v1/ota/campaigns", "device_ids[1]",
			map[string]any{"name": "c", "firmware_id": fw["id"], "device_ids": []string{"ok-001", "ghost"}}},
		{"campaign duplicate device", http.MethodPost, "/api/v1/ota/campaigns", "device_ids[1]",
			map[string]any{"name": "c", "firmware_id": fw["id"], "device_ids": []string{"ok-001", "ok-001"}}},
		{"campaign bad firmware", http.MethodPost, "/api/v1/ota/campaigns", "firmware_id",
			map[string]any{"name": "c", "firmware_id": "nope", "device_ids": []string{"ok-001"}}},
		{"campaign no name", http.MethodPost, "/api/v1/ota/campaigns", "name",
			map[string]any{"firmware_id": fw["id"], "device_ids": []string{"ok-001"}}},
		{"update bad firmware", http.MethodPut, "/api/v1/devices/ok-001/ota/update", "firmware_id",
			map[string]any{"firmware_id": "00000000-0000-0000-0000-000000000000"}},
		{"list bad limit", http.MethodGet, "/api/v1/devices?limit=0", "limit", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tn.do(tc.method, tc.path, tc.body)
			require.Equalf(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
			e := r.Body["error"].(map[string]any)
			assert.Equal(t, tc.field, e["field"], "%s", r.Raw)
			assert.NotEmpty(t, e["message"])
		})
	}
	devs := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices", nil)
	assert.Len(t, devs["devices"].([]any), 1, "no device was written")
	camps := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns", nil)
	assert.Empty(t, camps["campaigns"].([]any), "no campaign was written")

	dup := tn.do(http.MethodPost, "/api/v1/devices", map[string]any{"id": "ok-001", "hardware_model": "board-e", "firmware_version": "1.0.0"})
	assert.Equal(t, http.StatusConflict, dup.Status)
}

func TestHealthAndReadiness(t *testing.T) {
	c := client{t: t}
	c.mustDo(http.StatusOK, http.MethodGet, "/healthz", nil)
	ready := c.mustDo(http.StatusOK, http.MethodGet, "/readyz", nil)
	checks := ready["checks"].(map[string]any)
	assert.Equal(t, "ok", checks["cadence"])
	assert.Equal(t, "ok", checks["postgres"])
}
