package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/.gen/go/shared"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/simulator/chirpstacksim"
)

var euiSeq atomic.Uint32

// newEUI is a DevEUI no other test uses: ChirpStack's DevEUIs are global.
func newEUI() string {
	return fmt.Sprintf("%08x%08x", uint32(time.Now().UnixNano()), euiSeq.Add(1))
}

const testAppKey = "2b7e151628aed2a6abf7158809cf4f3c"

func loraBody(id, eui, profileID string) map[string]any {
	return map[string]any{"id": id, "dev_eui": eui, "join_eui": "0000000000000000", "app_key": testAppKey,
		"device_profile_id": profileID, "hardware_model": "lora-board", "firmware_version": "1.0.0",
		"labels": map[string]string{"site": "north"}, "name": id + " sensor"}
}

// chirpAPI talks to the ChirpStack stand-in directly, as an operator would, to make
// drift behind the control plane's back.
func chirpAPI(t *testing.T) api.DeviceServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(chirp.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return api.NewDeviceServiceClient(conn)
}

func chirpCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+chirpToken)
}

func errorOf(r response) map[string]any {
	e, _ := r.Body["error"].(map[string]any)
	return e
}

func TestLoRaWANDeviceLifecycle(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()

	settings := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/settings", nil)
	assert.Equal(t, true, settings["api_token_set"])
	assert.NotContains(t, settings, "api_token", "the token is never returned")
	assert.Equal(t, app.ApplicationID, settings["application_id"])
	assert.EqualValues(t, 10, settings["version_fport"])

	eui := newEUI()
	created := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("lc-1", eui, app.ProfileID))
	assert.Equal(t, "lc-1", created["id"])
	assert.Equal(t, "lorawan", created["transport"])
	lw := created["lorawan"].(map[string]any)
	assert.Equal(t, eui, lw["dev_eui"])
	assert.Equal(t, app.ApplicationID, lw["application_id"])
	assert.Equal(t, app.ProfileID, lw["device_profile_id"])
	assert.NotContains(t, string(mustJSON(t, created)), testAppKey)

	dev, ok := chirp.Device(eui)
	require.True(t, ok, "created in ChirpStack")
	assert.Equal(t, app.ApplicationID, dev.GetApplicationId())
	assert.Equal(t, "lc-1 sensor", dev.GetName())
	assert.Equal(t, "lc-1", dev.GetTags()[otaflow.TagDeviceID])
	keys, ok := chirp.DeviceKeys(eui)
	require.True(t, ok)
	assert.Equal(t, testAppKey, keys.GetNwkKey(), "LoRaWAN 1.0.x root key")

	// The key is never readable in Cadence's history either.
	assert.NotContains(t, workflowHistory(t, tn, otaflow.LoRaWANDeviceWorkflowID("lc-1")), testAppKey)

	got := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/lc-1", nil)
	assert.Equal(t, map[string]any{"site": "north"}, got["labels"])
	list := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices", nil)
	require.Len(t, list["devices"], 1)
	assert.Equal(t, "", list["next_after"])
	generic := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/lc-1", nil)
	assert.Equal(t, "lorawan", generic["transport"], "one device registry for every transport")

	updated := tn.mustDo(http.StatusOK, http.MethodPatch, "/api/v1/lorawan/devices/lc-1",
		map[string]any{"labels": map[string]string{"site": "south"}, "name": "renamed", "hardware_model": "lora-board-2"})
	assert.Equal(t, map[string]any{"site": "south"}, updated["labels"])
	assert.Equal(t, "lora-board-2", updated["hardware_model"])
	dev, _ = chirp.Device(eui)
	assert.Equal(t, "renamed", dev.GetName())
	assert.Equal(t, "lora-board-2", dev.GetTags()[otaflow.TagHardwareModel])

	r := tn.do(http.MethodDelete, "/api/v1/lorawan/devices/lc-1", nil)
	require.Equalf(t, http.StatusNoContent, r.Status, "%s", r.Raw)
	_, ok = chirp.Device(eui)
	assert.False(t, ok, "gone from ChirpStack")
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/devices/lc-1", nil)
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/devices/lc-1", nil)
	tn.mustDo(http.StatusNotFound, http.MethodDelete, "/api/v1/lorawan/devices/lc-1", nil)
}

// warmUp creates a device so the tenant's worker is known to be polling: the fleet
// picks up new tenants once a second, and timing tests must not count that wait.
func (tn tenant) warmUp(app chirpStackApp) {
	tn.t.Helper()
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("warm-up", newEUI(), app.ProfileID))
}

func TestLoRaWANCreateRetriesWhileChirpStackIsDown(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	tn.warmUp(app)
	chirp.SetDown(true)
	t.Cleanup(func() { chirp.SetDown(false) })
	before := chirp.Calls("DeviceProfileService/Get")
	time.AfterFunc(1500*time.Millisecond, func() { chirp.SetDown(false) })

	eui := newEUI()
	start := time.Now()
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("down-1", eui, app.ProfileID))
	assert.Greater(t, time.Since(start), 1500*time.Millisecond, "it waited for ChirpStack")
	assert.GreaterOrEqual(t, chirp.Calls("DeviceProfileService/Get")-before, 2, "failed while ChirpStack was down, then retried")
	_, ok := chirp.Device(eui)
	assert.True(t, ok)
	tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/down-1", nil)
}

func TestLoRaWANCreateFailsCleanlyWhenChirpStackStaysDown(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	tn.warmUp(app)
	chirp.SetDown(true)
	t.Cleanup(func() { chirp.SetDown(false) })

	eui := newEUI()
	r := tn.do(http.MethodPost, "/api/v1/lorawan/devices", loraBody("gone-1", eui, app.ProfileID))
	if r.Status != http.StatusServiceUnavailable {
		require.Failf(t, "want 503 once the retry window is over", "got %d %s%s", r.Status, r.Raw,
			explainWorkflow(tn, otaflow.LoRaWANDeviceWorkflowID("gone-1")))
	}
	chirp.SetDown(false)
	e := errorOf(r)
	assert.Equal(t, "chirpstack_unavailable", e["code"])
	assert.Contains(t, e["message"], "ChirpStack did not answer within the retry window")
	assert.Equal(t, otaflow.LoRaWANDeviceWorkflowID("gone-1"), r.Body["workflow_id"])

	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/devices/gone-1", nil)
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/devices/gone-1", nil)
	_, ok := chirp.Device(eui)
	assert.False(t, ok, "nothing in ChirpStack")

	// With ChirpStack back, the same request succeeds.
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("gone-1", eui, app.ProfileID))
}

func TestLoRaWANRejectedByChirpStackWritesNothing(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	eui := newEUI()
	unknownProfile := "0f0f0f0f-1111-2222-3333-444444444444"
	r := tn.do(http.MethodPost, "/api/v1/lorawan/devices", loraBody("rej-1", eui, unknownProfile))
	require.Equalf(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Raw)
	e := errorOf(r)
	assert.Equal(t, "chirpstack_rejected", e["code"])
	assert.Equal(t, "device_profile_id", e["field"])
	assert.Contains(t, e["message"], unknownProfile)
	_, ok := chirp.Device(eui)
	assert.False(t, ok)
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/devices/rej-1", nil)

	// A device created behind our back in another application holds the DevEUI.
	otherApp, err := chirp.AddApplication(&api.Application{TenantId: chirp.TenantID(), Name: t.Name() + "-other"})
	require.NoError(t, err)
	taken := newEUI()
	_, err = chirpAPI(t).Create(chirpCtx(t), &api.CreateDeviceRequest{Device: &api.Device{DevEui: taken, Name: "theirs",
		ApplicationId: otherApp, DeviceProfileId: app.ProfileID}})
	require.NoError(t, err)
	r = tn.do(http.MethodPost, "/api/v1/lorawan/devices", loraBody("rej-2", taken, app.ProfileID))
	require.Equalf(t, http.StatusConflict, r.Status, "%s", r.Raw)
	assert.Equal(t, "dev_eui", errorOf(r)["field"])
	dev, _ := chirp.Device(taken)
	assert.Equal(t, "theirs", dev.GetName(), "left alone")
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/devices/rej-2", nil)
}

func TestLoRaWANBadInputNamesTheFieldAndWritesNothing(t *testing.T) {
	tn := newTenant(t)

	// Without settings, devices cannot be created.
	r := tn.do(http.MethodPost, "/api/v1/lorawan/devices", loraBody("bad-0", newEUI(), "0f0f0f0f-1111-2222-3333-444444444444"))
	require.Equalf(t, http.StatusConflict, r.Status, "%s", r.Raw)
	assert.Equal(t, "settings", errorOf(r)["field"])
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/settings", nil)

	goodSettings := func() map[string]any {
		return map[string]any{"api_address": chirp.Addr(), "api_token": chirpToken, "chirpstack_tenant_id": chirp.TenantID(),
			"application_id": "0a3c2a44-7b68-4d0c-9d1e-2f5b8d0c1e11"}
	}
	for _, tt := range []struct {
		field string
		set   func(map[string]any)
	}{
		{"api_address", func(m map[string]any) { m["api_address"] = "http://" + chirp.Addr() }},
		{"api_token", func(m map[string]any) { delete(m, "api_token") }},
		{"chirpstack_tenant_id", func(m map[string]any) { m["chirpstack_tenant_id"] = "tenant-1" }},
		{"application_id", func(m map[string]any) { m["application_id"] = 42 }},
		{"event_encoding", func(m map[string]any) { m["event_encoding"] = "xml" }},
		{"version_fport", func(m map[string]any) { m["version_fport"] = 0 }},
		{"version_fport", func(m map[string]any) { m["version_fport"] = 224 }},
		{"unexpected", func(m map[string]any) { m["unexpected"] = true }},
	} {
		body := goodSettings()
		tt.set(body)
		r := tn.do(http.MethodPut, "/api/v1/lorawan/settings", body)
		require.Equalf(t, http.StatusBadRequest, r.Status, "%v: %s", body, r.Raw)
		assert.Equal(t, tt.field, errorOf(r)["field"], "%s", r.Raw)
	}
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/settings", nil)

	app := tn.setupLoRaWAN()
	for _, tt := range []struct {
		field string
		set   func(map[string]any)
	}{
		{"id", func(m map[string]any) { m["id"] = "has space" }},
		{"dev_eui", func(m map[string]any) { m["dev_eui"] = "01020304" }},
		{"join_eui", func(m map[string]any) { m["join_eui"] = "not-hex-not-hex!" }},
		{"app_key", func(m map[string]any) { delete(m, "app_key") }},
		{"app_key", func(m map[string]any) { m["app_key"] = "00112233" }},
		{"device_profile_id", func(m map[string]any) { m["device_profile_id"] = "class-c" }},
		{"hardware_model", func(m map[string]any) { m["hardware_model"] = "" }},
		{"firmware_version", func(m map[string]any) { m["firmware_version"] = "one" }},
		{"labels.Bad", func(m map[string]any) { m["labels"] = map[string]string{"Bad": "x"} }},
		{"labels", func(m map[string]any) { m["labels"] = []string{"x"} }},
		{"name", func(m map[string]any) { m["name"] = strings.Repeat("n", 201) }},
	} {
		body := loraBody("bad-1", newEUI(), app.ProfileID)
		tt.set(body)
		r := tn.do(http.MethodPost, "/api/v1/lorawan/devices", body)
		require.Equalf(t, http.StatusBadRequest, r.Status, "%v: %s", body, r.Raw)
		assert.Equal(t, tt.field, errorOf(r)["field"], "%s", r.Raw)
	}
	list := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices", nil)
	assert.Empty(t, list["devices"], "nothing written")
	for _, d := range chirp.Devices() {
		assert.NotEqual(t, app.ApplicationID, d.GetApplicationId(), "nothing in ChirpStack")
	}

	// Taken ids and DevEUIs are conflicts naming the field.
	eui := newEUI()
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("bad-2", eui, app.ProfileID))
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices",
		map[string]any{"id": "mqtt-1", "hardware_model": "b", "firmware_version": "1.0.0"})
	for _, tt := range []struct{ id, eui, field string }{
		{"bad-2", newEUI(), "id"}, {"mqtt-1", newEUI(), "id"}, {"bad-3", strings.ToUpper(eui), "dev_eui"},
	} {
		r := tn.do(http.MethodPost, "/api/v1/lorawan/devices", loraBody(tt.id, tt.eui, app.ProfileID))
		require.Equalf(t, http.StatusConflict, r.Status, "%s", r.Raw)
		assert.Equal(t, tt.field, errorOf(r)["field"])
	}

	// Updates are validated the same way.
	for _, tt := range []struct {
		field string
		body  map[string]any
	}{
		{"body", map[string]any{}},
		{"device_profile_id", map[string]any{"device_profile_id": "x"}},
		{"hardware_model", map[string]any{"hardware_model": "a/b"}},
		{"labels.Bad", map[string]any{"labels": map[string]string{"Bad": "x"}}},
		{"dev_eui", map[string]any{"dev_eui": newEUI()}},
	} {
		r := tn.do(http.MethodPatch, "/api/v1/lorawan/devices/bad-2", tt.body)
		require.Equalf(t, http.StatusBadRequest, r.Status, "%v: %s", tt.body, r.Raw)
		assert.Equal(t, tt.field, errorOf(r)["field"])
	}
	got := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/bad-2", nil)
	assert.Equal(t, map[string]any{"site": "north"}, got["labels"], "unchanged")
}

func TestLoRaWANUplinkUpdatesDeviceState(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	eui := newEUI()
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("up-1", eui, app.ProfileID))
	before := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/up-1", nil)
	assert.Nil(t, before["last_seen_at"])

	ctx := context.Background()
	_, err := chirp.PublishJoin(ctx, eui)
	require.NoError(t, err)
	_, err = chirp.PublishUplink(ctx, eui, versionFPort, []byte{0x01, 1, 2, 3}, chirpstacksim.WithSignal(-87, 6.25))
	require.NoError(t, err)
	_, err = chirp.PublishStatus(ctx, eui, 9, 64)
	require.NoError(t, err)

	var got map[string]any
	require.Eventually(t, func() bool {
		got = tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/up-1", nil)
		return got["reported_version"] == "1.2.3" && got["battery_percent"] != nil
	}, 15*time.Second, 200*time.Millisecond, "uplink state never recorded")
	assert.NotNil(t, got["last_seen_at"])
	assert.EqualValues(t, 64, got["battery_percent"])
	assert.Equal(t, "1.0.0", got["firmware_version"], "a report is not an installed update")
	lw := got["lorawan"].(map[string]any)
	assert.EqualValues(t, -87, lw["rssi"])
	assert.InDelta(t, 6.25, lw["snr"], 0.01)
	assert.EqualValues(t, 9, lw["margin"])
	assert.InDelta(t, 64, lw["battery_level"], 0.01)
	assert.NotNil(t, lw["last_uplink_at"])

	// Text payloads on the version fPort work too; other fPorts are application data.
	_, err = chirp.PublishUplink(ctx, eui, 2, []byte("9.9.9"))
	require.NoError(t, err)
	_, err = chirp.PublishUplink(ctx, eui, versionFPort, []byte("1.3.0-rc.2"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got = tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/up-1", nil)
		return got["reported_version"] == "1.3.0-rc.2"
	}, 15*time.Second, 200*time.Millisecond)
	// The status was not repeated: battery stays as reported.
	assert.EqualValues(t, 64, got["battery_percent"])
}

func TestLoRaWANReconcileReportsAndRepairsDrift(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	otherProfile, err := chirp.AddDeviceProfile(chirpstacksim.FUOTADeviceProfile(chirp.TenantID(), t.Name()+"-2"))
	require.NoError(t, err)
	cs := chirpAPI(t)

	// a: profile changed in ChirpStack; c: deleted from ChirpStack; b: only in ChirpStack.
	euiA, euiB, euiC := newEUI(), newEUI(), newEUI()
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("rc-a", euiA, app.ProfileID))
	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("rc-c", euiC, app.ProfileID))
	devA, _ := chirp.Device(euiA)
	devA.DeviceProfileId = otherProfile
	_, err = cs.Update(chirpCtx(t), &api.UpdateDeviceRequest{Device: devA})
	require.NoError(t, err)
	_, err = cs.Delete(chirpCtx(t), &api.DeleteDeviceRequest{DevEui: euiC})
	require.NoError(t, err)
	_, err = cs.Create(chirpCtx(t), &api.CreateDeviceRequest{Device: &api.Device{DevEui: euiB, Name: "added by hand",
		ApplicationId: app.ApplicationID, DeviceProfileId: app.ProfileID,
		Tags: map[string]string{"hardware_model": "x9", "firmware_version": "3.0.1"}}})
	require.NoError(t, err)

	r := tn.do(http.MethodPost, "/api/v1/lorawan/reconcile?report_only=maybe", nil)
	require.Equalf(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
	assert.Equal(t, "report_only", errorOf(r)["field"])
	rep := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/lorawan/reconcile?report_only=true", nil)
	assert.Len(t, rep["missing_in_db"], 1)
	assert.Len(t, rep["profile_mismatch"], 1)
	assert.Empty(t, rep["repaired"], "report only")
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/devices/"+euiB, nil)

	rep = tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/lorawan/reconcile", nil)
	assert.Equal(t, otaflow.ReconcileOnDemandWorkflowID, rep["workflow_id"])
	assert.EqualValues(t, 3, rep["checked"])
	assert.Equal(t, []any{map[string]any{"device_id": "rc-c", "dev_eui": euiC, "device_profile_id": app.ProfileID}},
		rep["missing_in_chirpstack"])
	missing := rep["missing_in_db"].([]any)
	require.Len(t, missing, 1)
	assert.Equal(t, euiB, missing[0].(map[string]any)["dev_eui"])
	assert.Equal(t, []any{map[string]any{"device_id": "rc-a", "dev_eui": euiA, "db_profile_id": app.ProfileID,
		"chirpstack_profile_id": otherProfile}}, rep["profile_mismatch"])
	assert.ElementsMatch(t, []any{
		map[string]any{"device_id": euiB, "dev_eui": euiB, "action": "mirrored"},
		map[string]any{"device_id": "rc-a", "dev_eui": euiA, "action": "profile_updated"},
	}, rep["repaired"])

	b := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/"+euiB, nil)
	assert.Equal(t, "x9", b["hardware_model"])
	assert.Equal(t, "3.0.1", b["firmware_version"])
	assert.Equal(t, "lorawan", b["transport"])
	a := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/rc-a", nil)
	assert.Equal(t, otherProfile, a["lorawan"].(map[string]any)["device_profile_id"], "the database follows ChirpStack")

	// Once repaired, only the device that cannot be recreated is left.
	rep = tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/lorawan/reconcile", nil)
	assert.Len(t, rep["missing_in_chirpstack"], 1)
	assert.Empty(t, rep["missing_in_db"])
	assert.Empty(t, rep["profile_mismatch"])
	assert.Empty(t, rep["repaired"])

	// The tenant's cron schedule runs too (every hour by default).
	desc := describe(t, tn, otaflow.ReconcileWorkflowID)
	assert.Equal(t, otaflow.LoRaWANReconcileWorkflow, desc.GetWorkflowExecutionInfo().GetType().GetName())
	assert.Nil(t, desc.GetWorkflowExecutionInfo().CloseStatus, "the schedule is open")
	// Saving the settings again leaves the running schedule alone.
	s1 := tn.mustDo(http.StatusOK, http.MethodPut, "/api/v1/lorawan/settings", map[string]any{
		"api_address": chirp.Addr(), "chirpstack_tenant_id": chirp.TenantID(), "application_id": app.ApplicationID,
		"event_encoding": "json", "version_fport": versionFPort})
	assert.Equal(t, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), s1["reconcile"].(map[string]any)["run_id"])
	assert.Equal(t, true, s1["api_token_set"], "an omitted token keeps the stored one")
}

func TestLoRaWANTenantIsolation(t *testing.T) {
	a := newTenant(t)
	appA := a.setupLoRaWAN()
	eui := newEUI()
	a.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("iso-1", eui, appA.ProfileID))

	b := newTenant(t)
	// B cannot take over A's application.
	r := b.do(http.MethodPut, "/api/v1/lorawan/settings", map[string]any{"api_address": chirp.Addr(), "api_token": chirpToken,
		"chirpstack_tenant_id": chirp.TenantID(), "application_id": appA.ApplicationID})
	require.Equalf(t, http.StatusConflict, r.Status, "%s", r.Raw)
	assert.Equal(t, "application_id", errorOf(r)["field"])

	appB := b.setupLoRaWAN()
	b.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/devices/iso-1", nil)
	b.mustDo(http.StatusNotFound, http.MethodPatch, "/api/v1/lorawan/devices/iso-1", map[string]any{"name": "mine"})
	b.mustDo(http.StatusNotFound, http.MethodDelete, "/api/v1/lorawan/devices/iso-1", nil)
	assert.Empty(t, b.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices", nil)["devices"])
	// A's DevEUI is in A's application: B gets a conflict, A's device stays.
	r = b.do(http.MethodPost, "/api/v1/lorawan/devices", loraBody("iso-b", eui, appB.ProfileID))
	require.Equalf(t, http.StatusConflict, r.Status, "%s", r.Raw)
	assert.Equal(t, "dev_eui", errorOf(r)["field"])
	// B's reconcile sees only B's application.
	rep := b.mustDo(http.StatusOK, http.MethodPost, "/api/v1/lorawan/reconcile", nil)
	assert.EqualValues(t, 0, rep["checked"])

	dev, ok := chirp.Device(eui)
	require.True(t, ok)
	assert.Equal(t, appA.ApplicationID, dev.GetApplicationId())
	a.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/iso-1", nil)
	// A's uplinks land in A only.
	_, err := chirp.PublishUplink(context.Background(), eui, versionFPort, []byte{0x01, 4, 5, 6})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return a.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/devices/iso-1", nil)["reported_version"] == "4.5.6"
	}, 15*time.Second, 200*time.Millisecond)
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// workflowHistory is the latest run's full history as JSON.
func workflowHistory(t *testing.T, tn tenant, wfID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := cadenceclient.History(ctx, tenantClient(tn), wfID, "")
	require.NoError(t, err)
	require.NotEmpty(t, events)
	return string(mustJSON(t, events))
}

func describe(t *testing.T, tn tenant, wfID string) *shared.DescribeWorkflowExecutionResponse {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := tenantClient(tn).DescribeWorkflowExecution(ctx, wfID, "")
	require.NoError(t, err)
	return desc
}
