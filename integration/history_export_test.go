package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/stretchr/testify/require"
	cadence "go.uber.org/cadence/client"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/simulator/devicesim"
)

// TestExportReplayHistories refreshes the histories the workflow packages' replay tests
// replay. It runs only when asked: OTA_EXPORT_HISTORIES=1 go test -run TestExportReplayHistories
func TestExportReplayHistories(t *testing.T) {
	if os.Getenv("OTA_EXPORT_HISTORIES") == "" {
		t.Skip("set OTA_EXPORT_HISTORIES=1 to re-export replay histories")
	}

	t.Run("ota", func(t *testing.T) {
		tn := newTenant(t)
		fleet := specs("replay", 2, "board-r", "1.0.0")
		tn.createDevices(fleet)
		tn.startFleet(fleet)
		fw := tn.uploadFirmware("1.0.1", "board-r", image(100))
		// Two waves, so the history holds a finished wave and the gate after it.
		camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns",
			map[string]any{"name": "replay", "firmware_id": fw["id"], "device_ids": ids(fleet),
				"rollout": map[string]any{"waves": []map[string]any{{"count": 1}, {"percent": 100}}}})
		id := camp["id"].(string)
		exec := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
		waitCampaign(t, tn, id, time.Minute)

		c := tenantClient(tn)
		dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+id+"/devices", nil)["devices"].([]any)[0].(map[string]any)
		// Histories recorded by earlier versions stay beside it (see the replay tests).
		export(t, c, otaflow.CampaignWorkflowID(id), exec["run_id"].(string), "../worker/campaign/testdata/campaign_waves_history.json")
		require.True(t, otaflow.IsGroupWorkflowID(dev["workflow_id"].(string)), "campaigns run their devices in groups")
		export(t, c, dev["workflow_id"].(string), dev["run_id"].(string), "../worker/otaupdate/testdata/update_group_history.json")
	})

	t.Run("ota group", func(t *testing.T) {
		tn := newTenant(t)
		fleet := specs("replay-group", 3, "board-r", "1.0.0")
		fleet[1].Behavior = devicesim.BehaviorInstallFailure
		fleet[2].Behavior = devicesim.BehaviorLossyReports
		tn.createDevices(fleet)
		tn.startFleet(fleet)
		fw := tn.uploadFirmware("1.0.1", "board-r", image(100))
		id := tn.createCampaign(map[string]any{"name": "replay group", "firmware_id": fw["id"], "device_ids": ids(fleet)})
		tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
		waitCampaign(t, tn, id, 2*time.Minute)
		devs := tn.campaignDevices(id)
		wf, run := devs[fleet[0].ID]["workflow_id"].(string), devs[fleet[0].ID]["run_id"].(string)
		for _, d := range fleet {
			require.Equal(t, wf, devs[d.ID]["workflow_id"], "one group for all three")
		}
		export(t, tenantClient(tn), wf, run, "../worker/otaupdate/testdata/update_group_mixed_history.json")
	})

	t.Run("ota asks and soaks", func(t *testing.T) {
		tn := newTenant(t)
		lossy := devicesim.DeviceSpec{ID: "replay-lossy", HardwareModel: "board-r", FirmwareVersion: "1.0.0", BatteryPercent: 90,
			Behavior: devicesim.BehaviorLossyReports}
		tn.createDevices([]devicesim.DeviceSpec{lossy})
		tn.startFleet([]devicesim.DeviceSpec{lossy})
		fw := tn.uploadFirmware("1.0.1", "board-r", image(100))
		res := tn.mustDo(http.StatusAccepted, http.MethodPut, "/api/v1/devices/"+lossy.ID+"/ota/update",
			map[string]any{"firmware_id": fw["id"], "soak": "3s"})
		require.Equal(t, "SUCCEEDED", tn.waitRun(lossy.ID, time.Minute)["state"])
		export(t, tenantClient(tn), res["workflow_id"].(string), res["run_id"].(string),
			"../worker/otaupdate/testdata/update_device_probe_soak_history.json")
	})

	t.Run("lorawan", func(t *testing.T) {
		tn := newTenant(t)
		app := tn.setupLoRaWAN()
		tn.warmUp(app)
		c := tenantClient(tn)

		tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("replay-1", newEUI(), app.ProfileID))
		export(t, c, otaflow.LoRaWANDeviceWorkflowID("replay-1"), "", "../worker/lorawan/testdata/device_sync_history.json")

		// ChirpStack down: local attempts, regular-activity retries, cleanup, failure.
		chirp.SetDown(true)
		r := tn.do(http.MethodPost, "/api/v1/lorawan/devices", loraBody("replay-2", newEUI(), app.ProfileID))
		chirp.SetDown(false)
		require.Equalf(t, http.StatusServiceUnavailable, r.Status, "%s", r.Raw)
		export(t, c, otaflow.LoRaWANDeviceWorkflowID("replay-2"), "", "../worker/lorawan/testdata/device_sync_failed_history.json")

		_, err := chirpAPI(t).Create(chirpCtx(t), &api.CreateDeviceRequest{Device: &api.Device{DevEui: newEUI(), Name: "by hand",
			ApplicationId: app.ApplicationID, DeviceProfileId: app.ProfileID}})
		require.NoError(t, err)
		rep := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/lorawan/reconcile", nil)
		require.Len(t, rep["repaired"], 1)
		export(t, c, rep["workflow_id"].(string), rep["run_id"].(string), "../worker/lorawan/testdata/reconcile_history.json")
	})

	t.Run("fuota", func(t *testing.T) {
		tn := newTenant(t)
		app := tn.setupLoRaWAN()
		lora, fw := tn.loraFleetForUpdate(app, "replay-fu", "board-rf", "1.0.1", 1, 100)
		res := tn.mustDo(http.StatusAccepted, http.MethodPut, "/api/v1/devices/"+lora[0].ID+"/ota/update",
			map[string]any{"firmware_id": fw["id"]})
		require.Eventually(t, func() bool {
			dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+lora[0].ID, nil)
			return dev["firmware_version"] == "1.0.1"
		}, time.Minute, 250*time.Millisecond)
		export(t, tenantClient(tn), res["workflow_id"].(string), res["run_id"].(string), "../worker/fuota/testdata/fuota_history.json")
	})

	t.Run("fuota campaign", func(t *testing.T) {
		tn := newTenant(t)
		app := tn.setupLoRaWAN()
		lora, fw := tn.loraFleetForUpdate(app, "replay-fc", "board-rfc", "1.0.1", 2, 100)
		id := tn.createCampaign(map[string]any{"name": "replay", "firmware_id": fw["id"], "device_ids": loraIDs(lora)})
		tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
		tn.waitState(id, "COMPLETED", 2*time.Minute)
		c := tenantClient(tn)
		// Holds end when their deployment closes; wait for the first one's end.
		require.Eventually(t, func() bool {
			d, err := c.DescribeWorkflowExecution(context.Background(), otaflow.DeviceWorkflowID(lora[0].ID), "")
			return err == nil && d.GetWorkflowExecutionInfo().CloseStatus != nil
		}, time.Minute, 250*time.Millisecond)
		export(t, c, otaflow.FUOTAWorkflowID(id, app.ProfileID, 1), "", "../worker/fuota/testdata/fuota_campaign_history.json")
		export(t, c, otaflow.DeviceWorkflowID(lora[0].ID), "", "../worker/fuota/testdata/device_hold_history.json")
	})
}

func export(t *testing.T, c cadence.Client, wfID, runID, path string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := cadenceclient.History(ctx, c, wfID, runID)
	require.NoError(t, err)
	raw, err := json.MarshalIndent(events, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	t.Logf("wrote %d events of %s to %s", len(events), wfID, path)
}
