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

func (tn tenant) createCampaign(body map[string]any) string {
	tn.t.Helper()
	return tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns", body)["id"].(string)
}

func (tn tenant) status(id string) map[string]any {
	tn.t.Helper()
	return tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+id+"/status", nil)
}

func (tn tenant) waitState(id, state string, within time.Duration) map[string]any {
	tn.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := tn.status(id)
		if st["state"] == state {
			return st
		}
		if !time.Now().Before(deadline) {
			require.Failf(tn.t, "campaign never reached "+state, "within %s; last status %v%s", within, st,
				explainWorkflow(tn, otaflow.CampaignWorkflowID(id)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (tn tenant) campaignDevices(id string) map[string]map[string]any {
	tn.t.Helper()
	out := map[string]map[string]any{}
	for _, d := range tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+id+"/devices?limit=1000", nil)["devices"].([]any) {
		m := d.(map[string]any)
		out[m["device_id"].(string)] = m
	}
	return out
}

func TestFailingCanaryAbortsTheRest(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("canary", 6, "board-s", "1.0.0")
	fleet[0].Behavior = devicesim.BehaviorInstallFailure
	fleet[1].Behavior = devicesim.BehaviorInstallFailure
	tn.createDevices(fleet)
	spy := spyOn(tn.startFleet(fleet))
	fw := tn.uploadFirmware("1.1.0", "board-s", image(100))
	id := tn.createCampaign(map[string]any{"name": "staged", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{
			"waves": []map[string]any{{"name": "canary", "count": 2}, {"percent": 50}, {"percent": 100}},
			"gate":  map[string]any{"mode": "auto", "success_threshold_percent": 100},
			"abort": map[string]any{"rules": []map[string]any{{"failure_type": "ALL", "threshold_percent": 50, "min_finished": 2}}},
		}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)

	st := tn.waitState(id, "ABORTED", time.Minute)
	assert.Contains(t, st["state_reason"], "ALL failures")
	assert.EqualValues(t, 100, st["progress_percent"], "every device ends in a terminal state: %v", st)
	counts := statusCounts(st)
	assert.EqualValues(t, 2, counts["ROLLED_BACK"])
	assert.EqualValues(t, 4, counts["CANCELED"])
	waves := st["waves"].([]any)
	require.NotEmpty(t, waves)
	assert.EqualValues(t, 2, waves[0].(map[string]any)["total"], "the canary wave holds 2 devices")

	devs := tn.campaignDevices(id)
	for _, s := range fleet[2:] {
		assert.Equal(t, "CANCELED", devs[s.ID]["state"])
		assert.Equal(t, "campaign_aborted", devs[s.ID]["reason"])
		assert.Empty(t, spy.commands(s.ID), "%s was never commanded", s.ID)
	}
}

func TestPauseThenResume(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("pause", 4, "board-p", "1.0.0")
	tn.createDevices(fleet)
	tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-p", image(100))
	id := tn.createCampaign(map[string]any{"name": "pausable", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"max_in_flight": 1, "rate": map[string]any{"per_minute": 30}}})

	early := tn.do(http.MethodPost, "/api/v1/ota/campaigns/"+id+"/pause", nil)
	assert.Equal(t, http.StatusConflict, early.Status, "a campaign not executed yet cannot be paused: %s", early.Raw)

	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	paused := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/pause", map[string]any{"reason": "checking dashboards"})
	assert.Equal(t, "PAUSED", paused["state"])
	assert.Equal(t, true, paused["paused"])

	// While paused, in-flight runs finish and nothing new starts.
	time.Sleep(8 * time.Second)
	st := tn.status(id)
	assert.Equal(t, "PAUSED", st["state"])
	frozen := statusCounts(st)["PENDING"]
	assert.GreaterOrEqual(t, frozen, 2.0, "dispatch stopped while paused: %v", st)
	time.Sleep(3 * time.Second)
	assert.Equal(t, frozen, statusCounts(tn.status(id))["PENDING"])

	resumed := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/resume", nil)
	assert.Equal(t, "RUNNING", resumed["state"])
	st = tn.waitState(id, "COMPLETED", 2*time.Minute)
	assert.EqualValues(t, 4, statusCounts(st)["SUCCEEDED"])

	again := tn.do(http.MethodPost, "/api/v1/ota/campaigns/"+id+"/resume", nil)
	assert.Equal(t, http.StatusConflict, again.Status, "a finished campaign takes no more commands")
}

func TestCancelMidWave(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("cancel", 5, "board-x", "1.0.0")
	for i := range fleet {
		fleet[i].Behavior = devicesim.BehaviorSilent // runs stay in flight until canceled
	}
	tn.createDevices(fleet)
	spy := spyOn(tn.startFleet(fleet))
	fw := tn.uploadFirmware("1.1.0", "board-x", image(100))
	id := tn.createCampaign(map[string]any{"name": "cancel me", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"max_in_flight": 2, "step_timeout": "10m", "in_progress_timeout": "20m"}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	require.Eventually(t, func() bool { return statusCounts(tn.status(id))["COMMANDED"] == 2 }, time.Minute, 200*time.Millisecond)

	res := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/cancel", map[string]any{"reason": "wrong image"})
	assert.Equal(t, "CANCELED", res["state"])
	st := tn.waitState(id, "CANCELED", 30*time.Second)
	assert.EqualValues(t, 100, st["progress_percent"])
	assert.EqualValues(t, 5, statusCounts(st)["CANCELED"], "every device ends CANCELED: %v", st)

	commanded := 0
	for _, s := range fleet {
		var types []devicev1.CommandType
		for _, c := range spy.commands(s.ID) {
			types = append(types, c.Cmd.GetType())
		}
		if len(types) > 0 {
			commanded++
			assert.Contains(t, types, devicev1.CommandType_COMMAND_TYPE_CANCEL, "%s was told to drop its update", s.ID)
		}
	}
	assert.Equal(t, 2, commanded, "only the in-flight devices were ever commanded")
}

func TestManualGateWaitsForApproval(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("gate", 3, "board-g", "1.0.0")
	tn.createDevices(fleet)
	tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-g", image(100))
	id := tn.createCampaign(map[string]any{"name": "gated", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"waves": []map[string]any{{"count": 1}, {"percent": 100}}, "gate": map[string]any{"mode": "manual"}}})
	early := tn.do(http.MethodPost, "/api/v1/ota/campaigns/"+id+"/approve", nil)
	assert.Equal(t, http.StatusConflict, early.Status)
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	st := tn.waitState(id, "WAITING_APPROVAL", time.Minute)
	assert.EqualValues(t, 1, statusCounts(st)["SUCCEEDED"])
	assert.EqualValues(t, 2, statusCounts(st)["PENDING"])
	res := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/approve", nil)
	assert.NotEqual(t, "WAITING_APPROVAL", res["state"])
	st = tn.waitState(id, "COMPLETED", time.Minute)
	assert.EqualValues(t, 3, statusCounts(st)["SUCCEEDED"])
}

func TestContinuousCampaignPicksUpLateDevice(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("cont", 2, "board-c2", "1.0.0")
	for _, s := range fleet {
		tn.keepCredentials(tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
			"id": s.ID, "hardware_model": s.HardwareModel, "firmware_version": s.FirmwareVersion,
			"labels": map[string]string{"region": "eu"}}))
	}
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
		"id": "cont-us", "hardware_model": "board-c2", "firmware_version": "1.0.0", "labels": map[string]string{"region": "us"}})
	sim := tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-c2", image(100))
	id := tn.createCampaign(map[string]any{"name": "eu forever", "firmware_id": fw["id"], "selector": "region=eu", "continuous": true})
	exec := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	assert.EqualValues(t, 2, exec["workflows_submitted"])
	require.Eventually(t, func() bool { return statusCounts(tn.status(id))["SUCCEEDED"] == 2 }, time.Minute, 250*time.Millisecond)
	assert.Equal(t, "RUNNING", tn.status(id)["state"], "a continuous campaign stays open")

	late := devicesim.DeviceSpec{ID: "cont-late", HardwareModel: "board-c2", FirmwareVersion: "1.0.0", BatteryPercent: 80}
	tn.keepCredentials(tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
		"id": late.ID, "hardware_model": late.HardwareModel, "firmware_version": late.FirmwareVersion,
		"labels": map[string]string{"region": "eu"}}))
	require.NoError(t, sim.AddDevice(tn.withCredentials([]devicesim.DeviceSpec{late})[0]))
	require.Eventually(t, func() bool {
		d, _ := sim.Device(late.ID)
		return d.FirmwareVersion == "1.1.0"
	}, time.Minute, 250*time.Millisecond, "the device that joined later was updated")
	devs := tn.campaignDevices(id)
	assert.Contains(t, devs, late.ID)
	assert.NotContains(t, devs, "cont-us", "devices outside the selector are never touched")

	res := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/cancel", nil)
	assert.Equal(t, "CANCELED", res["state"])
}

func TestDryRunExplainsExclusions(t *testing.T) {
	tn := newTenant(t)
	devices := []devicesim.DeviceSpec{
		{ID: "dry-ok", HardwareModel: "board-d2", FirmwareVersion: "1.0.0", BatteryPercent: 80},
		{ID: "dry-model", HardwareModel: "board-other", FirmwareVersion: "1.0.0"},
		{ID: "dry-current", HardwareModel: "board-d2", FirmwareVersion: "2.0.0", BatteryPercent: 80},
		{ID: "dry-newer", HardwareModel: "board-d2", FirmwareVersion: "3.0.0"},
		{ID: "dry-offline", HardwareModel: "board-d2", FirmwareVersion: "1.0.0", Behavior: devicesim.BehaviorOffline},
	}
	tn.createDevices(devices)
	tn.startFleet(devices)
	fw := tn.uploadFirmware("2.0.0", "board-d2", image(100))
	id := tn.createCampaign(map[string]any{"name": "dry", "firmware_id": fw["id"], "device_ids": ids(devices),
		"rollout": map[string]any{"waves": []map[string]any{{"count": 1}, {"percent": 100}}}})
	res := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/dry-run", nil)
	assert.EqualValues(t, 5, res["total"])
	// dry-current reports the target already: it is commanded to confirm it, never skipped.
	assert.EqualValues(t, 2, res["eligible"])
	reasons := map[string]string{}
	for _, e := range res["excluded"].([]any) {
		m := e.(map[string]any)
		reasons[m["device_id"].(string)] = m["reason"].(string)
	}
	assert.Equal(t, map[string]string{
		"dry-model": "hardware_mismatch", "dry-newer": "downgrade_not_allowed", "dry-offline": "offline",
	}, reasons)
	waves := res["waves"].([]any)
	require.Len(t, waves, 2)
	assert.Equal(t, []any{"dry-ok"}, waves[0].(map[string]any)["devices"])
	assert.Equal(t, []any{"dry-current"}, waves[1].(map[string]any)["devices"])
	assert.Equal(t, []any{"dry-current"}, waves[1].(map[string]any)["confirm_only"])
	assert.Equal(t, "CREATED", tn.status(id)["state"], "a dry run changes nothing")
}

func TestRolloutPolicyValidation(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices(specs("val", 1, "board-v", "1.0.0"))
	fw := tn.uploadFirmware("1.1.0", "board-v", image(10))
	cases := []struct {
		name, field string
		body        map[string]any
	}{
		{"percent out of range", "rollout.waves[0].percent", map[string]any{"waves": []map[string]any{{"percent": 120}}}},
		{"count and percent", "rollout.waves[0]", map[string]any{"waves": []map[string]any{{"count": 2, "percent": 10}}}},
		{"bad gate", "rollout.gate.mode", map[string]any{"gate": map[string]any{"mode": "sometimes"}}},
		{"bad failure type", "rollout.abort.rules[0].failure_type", map[string]any{"abort": map[string]any{"rules": []map[string]any{{"failure_type": "OOPS"}}}}},
		{"bad cron", "rollout.maintenance_window.cron", map[string]any{"maintenance_window": map[string]any{"cron": "every night", "duration": "1h", "time_zone": "UTC"}}},
		{"bad zone", "rollout.maintenance_window.time_zone", map[string]any{"maintenance_window": map[string]any{"cron": "0 2 * * *", "duration": "1h", "time_zone": "Mars/Olympus"}}},
		{"bad duration", "duration", map[string]any{"maintenance_window": map[string]any{"cron": "0 2 * * *", "duration": "soon", "time_zone": "UTC"}}},
		{"retry too high", "rollout.retry.failed", map[string]any{"retry": map[string]any{"failed": 11}}},
		{"exponential factor", "rollout.rate.exponential.increment_factor", map[string]any{"rate": map[string]any{"exponential": map[string]any{"base_per_minute": 10, "increment_factor": 9, "after_succeeded": 5}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tn.do(http.MethodPost, "/api/v1/ota/campaigns", map[string]any{"name": "v", "firmware_id": fw["id"],
				"device_ids": []string{"val-001"}, "rollout": tc.body})
			require.Equalf(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
			e := r.Body["error"].(map[string]any)
			assert.Contains(t, fmt.Sprint(e["field"]), tc.field, "%s", r.Raw)
		})
	}
	both := tn.do(http.MethodPost, "/api/v1/ota/campaigns", map[string]any{"name": "v", "firmware_id": fw["id"],
		"device_ids": []string{"val-001"}, "selector": "a=b"})
	assert.Equal(t, http.StatusBadRequest, both.Status)
	assert.Empty(t, tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns", nil)["campaigns"], "nothing was written")
}
