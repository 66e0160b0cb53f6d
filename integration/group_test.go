package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/simulator/devicesim"
)

// A campaign updates its MQTT devices in group runs, and a device in a group still has
// one update at a time: its live state comes from the group, a single update answers
// 409 with the campaign, and another campaign leaves the device out. A device a single
// update holds is left out of a campaign's group the same way.
func TestGroupedDeviceHasOneUpdateAtATime(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("grouped", 4, "board-grp", "1.0.0")
	fleet[0].Behavior = devicesim.BehaviorSilent // keeps its group open
	fleet[3].Behavior = devicesim.BehaviorSilent // keeps its single update open
	tn.createDevices(fleet)
	sim := tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-grp", image(100))

	single := tn.mustDo(http.StatusAccepted, http.MethodPut, "/api/v1/devices/"+fleet[3].ID+"/ota/update",
		map[string]any{"firmware_id": fw["id"]})
	first := tn.createCampaign(map[string]any{"name": "first", "firmware_id": fw["id"],
		"device_ids": []string{fleet[0].ID, fleet[1].ID, fleet[3].ID},
		"rollout":    map[string]any{"step_timeout": "10m", "in_progress_timeout": "20m"}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+first+"/execute", nil)
	require.Eventually(t, func() bool {
		live := tn.do(http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
		return live.Status == http.StatusOK && live.Body["campaign_id"] == first && live.Body["state"] == "COMMANDED"
	}, time.Minute, 100*time.Millisecond, "the silent device's state comes from its group")
	devs := tn.campaignDevices(first)
	group := devs[fleet[0].ID]["workflow_id"].(string)
	assert.True(t, strings.HasPrefix(group, "ota-group:"), "%v", devs)
	require.Eventually(t, func() bool { return tn.campaignDevices(first)[fleet[1].ID]["state"] == "SUCCEEDED" },
		time.Minute, 200*time.Millisecond)
	assert.Equal(t, group, tn.campaignDevices(first)[fleet[1].ID]["workflow_id"], "both ran in one group")
	live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[1].ID+"/ota", nil)
	assert.Equal(t, "SUCCEEDED", live["state"], "a finished member's state comes from its group: %v", live)
	d, _ := sim.Device(fleet[1].ID)
	assert.Equal(t, "1.1.0", d.FirmwareVersion)

	// The device a single update held was left out, and its single update goes on.
	require.Eventually(t, func() bool { return tn.campaignDevices(first)[fleet[3].ID]["state"] == "REJECTED" },
		time.Minute, 200*time.Millisecond)
	assert.Equal(t, "update_in_progress", tn.campaignDevices(first)[fleet[3].ID]["reason"])
	live = tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[3].ID+"/ota", nil)
	assert.Equal(t, single["run_id"], runOf(live), "the live state is the single update's: %v", live)
	assert.Equal(t, "COMMANDED", live["state"])

	busy := tn.do(http.MethodPut, "/api/v1/devices/"+fleet[0].ID+"/ota/update", map[string]any{"firmware_id": fw["id"]})
	require.Equalf(t, http.StatusConflict, busy.Status, "%s", busy.Raw)
	assert.Equal(t, first, busy.Body["campaign_id"])
	assert.Equal(t, group, busy.Body["workflow_id"])

	second := tn.createCampaign(map[string]any{"name": "second", "firmware_id": fw["id"],
		"device_ids": []string{fleet[0].ID, fleet[2].ID}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+second+"/execute", nil)
	tn.waitState(second, "COMPLETED", 2*time.Minute)
	devs = tn.campaignDevices(second)
	assert.Equal(t, "REJECTED", devs[fleet[0].ID]["state"], "%v", devs)
	assert.Equal(t, "update_in_progress", devs[fleet[0].ID]["reason"])
	assert.Equal(t, "SUCCEEDED", devs[fleet[2].ID]["state"], "%v", devs)
	live = tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
	assert.Equal(t, first, live["campaign_id"], "the refused campaign does not hide the running one: %v", live)

	// Once the group's device ends, the device is free again.
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+first+"/cancel", map[string]any{"reason": "test over"})
	tn.waitState(first, "CANCELED", time.Minute)
	require.NoError(t, sim.SetBehavior(fleet[0].ID, devicesim.BehaviorNormal))
	again := tn.mustDo(http.StatusAccepted, http.MethodPut, "/api/v1/devices/"+fleet[0].ID+"/ota/update",
		map[string]any{"firmware_id": fw["id"]})
	require.Equal(t, "SUCCEEDED", tn.waitRun(fleet[0].ID, time.Minute)["state"])
	live = tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
	assert.Equal(t, again["run_id"], runOf(live), "the newer single update shows, not the group: %v", live)
}

// runOf is the run a live device state belongs to, from its command id.
func runOf(live map[string]any) string {
	id, _ := live["command_id"].(string)
	run, _ := otaflow.RunIDFromCommandID(id)
	return run
}
