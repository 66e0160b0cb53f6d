package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loraDevice is one LoRaWAN device made through the API (so it exists in ChirpStack and
// in the database) that has spoken once, so it counts as online.
type loraDevice struct {
	ID     string
	DevEUI string
}

func (tn tenant) createLoRaWANDevices(app chirpStackApp, prefix, model, version string, n int) []loraDevice {
	tn.t.Helper()
	out := make([]loraDevice, n)
	for i := range out {
		d := loraDevice{ID: fmt.Sprintf("%s-%02d", prefix, i+1), DevEUI: fmt.Sprintf("%08x%08x", time.Now().UnixNano()&0xffffffff, i+1)}
		tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", map[string]any{
			"id": d.ID, "dev_eui": d.DevEUI, "join_eui": "0000000000000000", "app_key": strings.Repeat("ab", 16),
			"device_profile_id": app.ProfileID, "hardware_model": model, "firmware_version": version,
		})
		_, err := chirp.PublishUplink(context.Background(), d.DevEUI, versionFPort, versionPayload(version))
		require.NoError(tn.t, err)
		out[i] = d
	}
	for _, d := range out {
		require.Eventuallyf(tn.t, func() bool {
			dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+d.ID, nil)
			return dev["last_seen_at"] != nil
		}, 20*time.Second, 200*time.Millisecond, "no uplink recorded for %s", d.ID)
	}
	return out
}

// loraFleetForUpdate makes n LoRaWAN devices of model on 1.0.0 that report target after a
// FUOTA deployment, and uploads target's firmware for them.
func (tn tenant) loraFleetForUpdate(app chirpStackApp, prefix, model, target string, n, imageLen int) ([]loraDevice, map[string]any) {
	tn.t.Helper()
	lora := tn.createLoRaWANDevices(app, prefix, model, "1.0.0", n)
	for _, d := range lora {
		fuotaVersions.Store(d.DevEUI, target)
	}
	return lora, tn.uploadFirmware(target, model, image(imageLen))
}

// slowFUOTA keeps a deployment running for several seconds, long enough to act on it
// mid-way.
var slowFUOTA = map[string]any{"fuota": map[string]any{"multicast_timeout": 15, "deployment_timeout": "2m", "confirm_timeout": "1m"}}

func loraIDs(ds []loraDevice) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func TestMixedCampaignMQTTAndLoRaWAN(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	ipFleet := specs("mix-ip", 2, "board-mix", "1.0.0")
	tn.createDevices(ipFleet)
	tn.startFleet(ipFleet)
	lora, fw := tn.loraFleetForUpdate(app, "mix-lora", "board-mix", "2.0.0", 3, 150)
	id := tn.createCampaign(map[string]any{"name": "mixed", "firmware_id": fw["id"],
		"device_ids": append(ids(ipFleet), loraIDs(lora)...)})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)

	st, snapshots := waitCampaign(t, tn, id, 2*time.Minute)
	assert.EqualValues(t, 5, statusCounts(st)["SUCCEEDED"], "%v", st)
	assert.EqualValues(t, 100, st["progress_percent"])
	seen := strings.Join(snapshots, " ")
	for _, state := range []string{"DOWNLOADING", "SUCCEEDED"} {
		assert.Contains(t, seen, state, "LoRaWAN and MQTT devices share one status vocabulary")
	}
	// Every LoRaWAN device went out through a FUOTA deployment of its own device profile.
	deployed := map[string]bool{}
	for _, dep := range chirp.Deployments() {
		for _, d := range dep.Devices {
			for _, ld := range lora {
				if strings.EqualFold(d.GetDevEui(), ld.DevEUI) {
					deployed[ld.DevEUI] = true
					assert.Equal(t, app.ProfileID, dep.Deployment.GetDeviceProfileId())
				}
			}
		}
	}
	assert.Len(t, deployed, 3, "all three LoRaWAN devices were in a FUOTA deployment")
	for _, d := range lora {
		dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+d.ID, nil)
		assert.Equal(t, "2.0.0", dev["firmware_version"])
		rows := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+d.ID+"/firmware-history", nil)["history"].([]any)
		require.Len(t, rows, 1)
		assert.Equal(t, "SUCCEEDED", rows[0].(map[string]any)["outcome"])
	}
}

func TestFUOTADeviceThatNeverCompletesTimesOut(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	lora, fw := tn.loraFleetForUpdate(app, "silent", "board-fu", "1.1.0", 3, 100)
	chirp.SilenceDevice(lora[1].DevEUI)
	id := tn.createCampaign(map[string]any{"name": "fuota", "firmware_id": fw["id"], "device_ids": loraIDs(lora)})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	st := tn.waitState(id, "COMPLETED", 2*time.Minute)
	counts := statusCounts(st)
	assert.EqualValues(t, 2, counts["SUCCEEDED"], "%v", st)
	assert.EqualValues(t, 1, counts["TIMED_OUT"], "%v", st)
	devs := tn.campaignDevices(id)
	assert.Equal(t, "TIMED_OUT", devs[lora[1].ID]["state"])
	assert.Contains(t, devs[lora[1].ID]["reason"], "timeout")
}

func TestSingleLoRaWANDeviceUpdate(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	lora, fw := tn.loraFleetForUpdate(app, "one", "board-one", "1.0.5", 1, 50)
	res := tn.mustDo(http.StatusAccepted, http.MethodPut, "/api/v1/devices/"+lora[0].ID+"/ota/update",
		map[string]any{"firmware_id": fw["id"]})
	assert.Equal(t, "ota-device:"+lora[0].ID, res["workflow_id"])
	require.Eventually(t, func() bool {
		live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+lora[0].ID+"/ota", nil)
		return live["state"] == "SUCCEEDED"
	}, time.Minute, 250*time.Millisecond)
	require.Eventually(t, func() bool {
		dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+lora[0].ID, nil)
		return dev["firmware_version"] == "1.0.5"
	}, 10*time.Second, 200*time.Millisecond, "the outcome is recorded right after the run says SUCCEEDED")
}

func TestWorkerKilledMidFUOTAResumes(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	lora, fw := tn.loraFleetForUpdate(app, "kill", "board-kill", "3.0.0", 2, 100)
	// Slow enough that the deployment is mid-way when the worker dies.
	id := tn.createCampaign(map[string]any{"name": "kill", "firmware_id": fw["id"], "device_ids": loraIDs(lora),
		"rollout": slowFUOTA})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	require.Eventually(t, func() bool {
		for _, dep := range chirp.Deployments() {
			for _, d := range dep.Devices {
				if strings.EqualFold(d.GetDevEui(), lora[0].DevEUI) {
					return true
				}
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "deployment created")
	worker.killForTest(t)
	time.Sleep(2 * time.Second)
	require.NoError(t, worker.start())
	st := tn.waitState(id, "COMPLETED", 4*time.Minute)
	assert.EqualValues(t, 2, statusCounts(st)["SUCCEEDED"], "%v", st)
	deployments := 0
	for _, dep := range chirp.Deployments() {
		for _, d := range dep.Devices {
			if strings.EqualFold(d.GetDevEui(), lora[0].DevEUI) {
				deployments++
			}
		}
	}
	assert.Equal(t, 1, deployments, "the resumed run found its deployment instead of making a second")
	for _, d := range lora {
		rows := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+d.ID+"/firmware-history", nil)["history"].([]any)
		assert.Len(t, rows, 1, "%s recorded once", d.ID)
	}
}

// A LoRaWAN device in a campaign's FUOTA deployment has one update at a time, as an MQTT
// device does: a single update answers 409 with the campaign, and another campaign
// leaves the device out.
func TestLoRaWANDeviceHasOneUpdateAtATime(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	lora, fw := tn.loraFleetForUpdate(app, "one", "board-one-at-a-time", "4.0.0", 3, 100)
	// Slow enough to still run while the other requests come.
	first := tn.createCampaign(map[string]any{"name": "first", "firmware_id": fw["id"], "device_ids": loraIDs(lora[:2]),
		"rollout": slowFUOTA})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+first+"/execute", nil)
	require.Eventually(t, func() bool {
		live := tn.do(http.MethodGet, "/api/v1/devices/"+lora[0].ID+"/ota", nil)
		return live.Status == http.StatusOK && live.Body["campaign_id"] == first
	}, time.Minute, 100*time.Millisecond, "the device is held by the first campaign")
	live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+lora[0].ID+"/ota", nil)
	assert.Contains(t, live["held_by"], "fuota:"+first)
	assert.NotEmpty(t, live["state"], "the live state comes from the deployment")

	single := tn.do(http.MethodPut, "/api/v1/devices/"+lora[0].ID+"/ota/update", map[string]any{"firmware_id": fw["id"]})
	require.Equalf(t, http.StatusConflict, single.Status, "%s", single.Raw)
	assert.Equal(t, first, single.Body["campaign_id"])

	second := tn.createCampaign(map[string]any{"name": "second", "firmware_id": fw["id"],
		"device_ids": []string{lora[0].ID, lora[2].ID}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+second+"/execute", nil)
	tn.waitState(second, "COMPLETED", 2*time.Minute)
	devs := tn.campaignDevices(second)
	assert.Equal(t, "REJECTED", devs[lora[0].ID]["state"], "%v", devs)
	assert.Equal(t, "update_in_progress", devs[lora[0].ID]["reason"])
	assert.Equal(t, "SUCCEEDED", devs[lora[2].ID]["state"], "%v", devs)

	st := tn.waitState(first, "COMPLETED", 3*time.Minute)
	assert.EqualValues(t, 2, statusCounts(st)["SUCCEEDED"], "%v", st)
}
