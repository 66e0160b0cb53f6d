package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

const (
	csTenant  = "52f14cd4-c6f1-4fbd-8f87-4025e1d49242"
	csApp     = "0a3c2a44-7b68-4d0c-9d1e-2f5b8d0c1e11"
	csProfile = "7c1f0b1e-3a5d-4c8e-9b0a-1d2e3f4a5b6c"
)

func TestCheckSettings(t *testing.T) {
	good := LoRaWANSettingsInput{APIAddress: "chirpstack:8080", APIToken: "tok", ChirpStackTenantID: strings.ToUpper(csTenant),
		ApplicationID: csApp}
	cs, err := checkSettings(good, false, false)
	require.NoError(t, err)
	assert.Equal(t, "json", cs.EventEncoding)
	assert.Equal(t, 10, cs.VersionFPort)
	assert.Equal(t, csTenant, cs.ChirpStackTenantID, "ids are lower-cased")

	port := func(n int) *int { return &n }
	for _, tt := range []struct {
		field  string
		mutate func(*LoRaWANSettingsInput)
	}{
		{"api_address", func(in *LoRaWANSettingsInput) { in.APIAddress = "http://chirpstack:8080" }},
		{"api_address", func(in *LoRaWANSettingsInput) { in.APIAddress = "chirpstack" }},
		{"api_address", func(in *LoRaWANSettingsInput) { in.APIAddress = "chirpstack:99999" }},
		{"api_token", func(in *LoRaWANSettingsInput) { in.APIToken = "" }},
		{"api_token", func(in *LoRaWANSettingsInput) { in.APIToken = "two words" }},
		{"chirpstack_tenant_id", func(in *LoRaWANSettingsInput) { in.ChirpStackTenantID = "tenant" }},
		{"application_id", func(in *LoRaWANSettingsInput) { in.ApplicationID = "" }},
		{"event_encoding", func(in *LoRaWANSettingsInput) { in.EventEncoding = "xml" }},
		{"version_fport", func(in *LoRaWANSettingsInput) { in.VersionFPort = port(0) }},
		{"version_fport", func(in *LoRaWANSettingsInput) { in.VersionFPort = port(200) }},
		{"api_address", func(in *LoRaWANSettingsInput) { in.APIAddress = "127.0.0.1:8080" }},
		{"api_address", func(in *LoRaWANSettingsInput) { in.APIAddress = "localhost:8080" }},
		{"api_address", func(in *LoRaWANSettingsInput) { in.APIAddress = "169.254.169.254:80" }},
		{"api_address", func(in *LoRaWANSettingsInput) { in.APIAddress = "cs\x00:8080" }},
		{"api_token", func(in *LoRaWANSettingsInput) { in.APIToken = "t\u00ffok" }},
		{"api_token", func(in *LoRaWANSettingsInput) { in.APIToken = "t\x00k" }},
	} {
		in := good
		tt.mutate(&in)
		_, err := checkSettings(in, false, false)
		assert.Equal(t, tt.field, fieldOf(t, err), "%+v", in)
	}
	in := good
	in.APIToken = ""
	_, err = checkSettings(in, true, false)
	assert.NoError(t, err, "the stored token is kept")
	in = good
	in.APIAddress = "127.0.0.1:8080"
	_, err = checkSettings(in, false, true)
	assert.NoError(t, err, "local addresses when the operator allows them")
}

func TestCheckNewLoRaWANDevice(t *testing.T) {
	good := func() NewLoRaWANDevice {
		return NewLoRaWANDevice{ID: "lora-1", DevEUI: "0102030405060A0B", JoinEUI: "", AppKey: strings.Repeat("AB", 16),
			DeviceProfileID: csProfile, HardwareModel: "board", FirmwareVersion: "1.0.0"}
	}
	d := good()
	require.NoError(t, checkNewLoRaWANDevice(&d))
	assert.Equal(t, "0102030405060a0b", d.DevEUI)
	assert.Equal(t, strings.Repeat("ab", 16), d.AppKey)
	assert.Equal(t, "lora-1", d.Name, "the name defaults to the id")
	assert.NotNil(t, d.Labels)

	for _, tt := range []struct {
		field  string
		mutate func(*NewLoRaWANDevice)
	}{
		{"id", func(d *NewLoRaWANDevice) { d.ID = "a/b" }},
		{"dev_eui", func(d *NewLoRaWANDevice) { d.DevEUI = "0102" }},
		{"join_eui", func(d *NewLoRaWANDevice) { d.JoinEUI = "xyz" }},
		{"app_key", func(d *NewLoRaWANDevice) { d.AppKey = "" }},
		{"app_key", func(d *NewLoRaWANDevice) { d.AppKey = strings.Repeat("zz", 16) }},
		{"device_profile_id", func(d *NewLoRaWANDevice) { d.DeviceProfileID = "class-c" }},
		{"hardware_model", func(d *NewLoRaWANDevice) { d.HardwareModel = "" }},
		{"firmware_version", func(d *NewLoRaWANDevice) { d.FirmwareVersion = "1.0" }},
		{"labels.Bad Key", func(d *NewLoRaWANDevice) { d.Labels = map[string]string{"Bad Key": "x"} }},
		{"name", func(d *NewLoRaWANDevice) { d.Name = strings.Repeat("n", 201) }},
	} {
		d := good()
		tt.mutate(&d)
		assert.Equal(t, tt.field, fieldOf(t, checkNewLoRaWANDevice(&d)))
	}
}

// loraStore serves the store calls the LoRaWAN service makes; others panic.
type loraStore struct {
	store.Store
	settings *model.ChirpStackSettings
	// unreadable: the stored token does not open (another secrets.encryption_key).
	unreadable bool
	devices    map[string]model.LoRaWANDeviceRecord
	put        []model.ChirpStackSettings
}

func (s *loraStore) GetChirpStackSettings(context.Context, string) (model.ChirpStackSettings, error) {
	if s.settings == nil {
		return model.ChirpStackSettings{}, store.ErrNotFound
	}
	if s.unreadable {
		cs := *s.settings
		cs.APIToken = ""
		return cs, fmt.Errorf("chirpstack settings: %w", store.ErrSecretUnreadable)
	}
	return *s.settings, nil
}

func (s *loraStore) PutChirpStackSettings(_ context.Context, cs model.ChirpStackSettings) error {
	s.put = append(s.put, cs)
	s.settings = &cs
	s.unreadable = false // sealed anew with the current key
	return nil
}

func (s *loraStore) GetDevice(_ context.Context, _, id string) (model.Device, error) {
	d, ok := s.devices[id]
	if !ok {
		return model.Device{}, store.ErrNotFound
	}
	return d.Device, nil
}

func (s *loraStore) GetLoRaWANDevice(_ context.Context, _, id string) (model.LoRaWANDeviceRecord, error) {
	d, ok := s.devices[id]
	if !ok {
		return d, store.ErrNotFound
	}
	return d, nil
}

func (s *loraStore) LoRaWANDeviceByEUI(_ context.Context, _, eui string) (model.LoRaWANDeviceRecord, error) {
	for _, d := range s.devices {
		if d.LoRaWAN.DevEUI == eui {
			return d, nil
		}
	}
	return model.LoRaWANDeviceRecord{}, store.ErrNotFound
}

func (s *loraStore) ListLoRaWANDevices(_ context.Context, _ string, p store.Page) ([]model.LoRaWANDeviceRecord, error) {
	var out []model.LoRaWANDeviceRecord
	for _, d := range s.devices {
		out = append(out, d)
	}
	return out[:min(len(out), p.Limit)], nil
}

// loraFlows records what the service starts; done says whether a run finishes in time.
type loraFlows struct {
	started []otaflow.LoRaWANDeviceInput
	done    bool
	err     error
}

func (f *loraFlows) StartLoRaWANDeviceSync(_ context.Context, _ string, in otaflow.LoRaWANDeviceInput) (WorkflowRef, error) {
	f.started = append(f.started, in)
	return WorkflowRef{WorkflowID: otaflow.LoRaWANDeviceWorkflowID(in.DeviceID), RunID: "run-1"}, nil
}

func (f *loraFlows) AwaitLoRaWANDeviceSync(context.Context, string, WorkflowRef, time.Duration) (otaflow.LoRaWANDeviceResult, bool, error) {
	return otaflow.LoRaWANDeviceResult{}, f.done, f.err
}

func (f *loraFlows) EnsureReconcileSchedule(context.Context, string, otaflow.ReconcileInput, string) (WorkflowRef, error) {
	return WorkflowRef{WorkflowID: otaflow.ReconcileWorkflowID, RunID: "cron-1"}, nil
}

func (f *loraFlows) StartReconcile(context.Context, string, otaflow.ReconcileInput) (WorkflowRef, error) {
	return WorkflowRef{}, nil
}

func (f *loraFlows) AwaitReconcile(context.Context, string, WorkflowRef, time.Duration) (otaflow.ReconcileReport, bool, error) {
	return otaflow.ReconcileReport{}, true, nil
}

func loraFixture(t *testing.T) (*lorawanService, *loraStore, *loraFlows) {
	cfg, err := config.Load("")
	require.NoError(t, err)
	st := &loraStore{devices: map[string]model.LoRaWANDeviceRecord{}, settings: &model.ChirpStackSettings{
		TenantID: tenantA.ID, APIAddress: "cs:8080", APIToken: "stored", ChirpStackTenantID: csTenant, ApplicationID: csApp}}
	wf := &loraFlows{done: true}
	return NewLoRaWANService(st, wf, cfg).(*lorawanService), st, wf
}

func newDevice() NewLoRaWANDevice {
	return NewLoRaWANDevice{ID: "lora-1", DevEUI: "0102030405060708", AppKey: strings.Repeat("ab", 16),
		DeviceProfileID: csProfile, HardwareModel: "board", FirmwareVersion: "1.0.0"}
}

func TestCreateLoRaWANDeviceSealsTheKeyAndMayStillRun(t *testing.T) {
	svc, _, wf := loraFixture(t)
	wf.done = false
	out, err := svc.CreateDevice(context.Background(), tenantA, newDevice())
	require.NoError(t, err)
	assert.False(t, out.Done, "still running: the handler answers 202")
	assert.Equal(t, WorkflowRef{WorkflowID: "lorawan-device:lora-1", RunID: "run-1"}, out.Workflow)

	require.Len(t, wf.started, 1)
	in := wf.started[0]
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), strings.Repeat("ab", 16), "no clear key in the workflow input")
	key, err := otaflow.OpenAppKey(svc.cfg.Firmware.URLSigningKey, in.LoRaWAN.DevEUI, in.SealedAppKey)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("ab", 16), key)
	assert.Equal(t, svc.cfg.LoRaWAN.SyncRetryWindow, in.Policy.RetryWindow)
}

func TestCreateLoRaWANDeviceRefusalsStartNothing(t *testing.T) {
	svc, st, wf := loraFixture(t)
	st.devices["lora-1"] = model.LoRaWANDeviceRecord{Device: model.Device{ID: "lora-1"},
		LoRaWAN: model.LoRaWANDevice{DevEUI: "0a0a0a0a0a0a0a0a"}}
	for _, tt := range []struct {
		mutate func(*NewLoRaWANDevice)
		reason string
		field  string
	}{
		{func(d *NewLoRaWANDevice) {}, otaflow.LoRaWANFailConflict, "id"},
		{func(d *NewLoRaWANDevice) { d.ID, d.DevEUI = "lora-2", "0A0A0A0A0A0A0A0A" }, otaflow.LoRaWANFailConflict, "dev_eui"},
	} {
		d := newDevice()
		tt.mutate(&d)
		_, err := svc.CreateDevice(context.Background(), tenantA, d)
		var le *LoRaWANError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, tt.reason, le.Reason)
		assert.Equal(t, tt.field, le.Field)
	}
	st.settings = nil
	d := newDevice()
	d.ID, d.DevEUI = "lora-3", "0b0b0b0b0b0b0b0b"
	_, err := svc.CreateDevice(context.Background(), tenantA, d)
	var le *LoRaWANError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, otaflow.LoRaWANFailNotConfigured, le.Reason)
	assert.Equal(t, "settings", le.Field)
	assert.Empty(t, wf.started)
}

func TestPutSettingsKeepsTheTokenAndGuardsTheApplication(t *testing.T) {
	svc, st, _ := loraFixture(t)
	out, err := svc.PutSettings(context.Background(), tenantA, LoRaWANSettingsInput{APIAddress: "cs:8080",
		ChirpStackTenantID: csTenant, ApplicationID: csApp})
	require.NoError(t, err)
	assert.Equal(t, "stored", st.put[0].APIToken)
	assert.True(t, out.APITokenSet)
	assert.Equal(t, otaflow.ReconcileWorkflowID, out.Reconcile.WorkflowID)
	raw, err := json.Marshal(out)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "stored")

	st.devices["lora-1"] = model.LoRaWANDeviceRecord{Device: model.Device{ID: "lora-1"}}
	_, err = svc.PutSettings(context.Background(), tenantA, LoRaWANSettingsInput{APIAddress: "cs:8080",
		ChirpStackTenantID: csTenant, ApplicationID: "99999999-7b68-4d0c-9d1e-2f5b8d0c1e11"})
	var le *LoRaWANError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "application_id", le.Field)
	assert.Len(t, st.put, 1, "nothing written")
}

func TestSettingsWithATokenThatDoesNotOpen(t *testing.T) {
	svc, st, wf := loraFixture(t)
	st.unreadable = true
	ctx := context.Background()

	got, err := svc.GetSettings(ctx, tenantA)
	require.NoError(t, err, "the settings can still be read")
	assert.False(t, got.APITokenSet)
	assert.Contains(t, got.APITokenProblem, "secrets.encryption_key")
	assert.Equal(t, csApp, got.ApplicationID)

	_, err = svc.CreateDevice(ctx, tenantA, newDevice())
	var le *LoRaWANError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, otaflow.LoRaWANFailNotConfigured, le.Reason)
	assert.Equal(t, "settings", le.Field)
	assert.Empty(t, wf.started)

	in := LoRaWANSettingsInput{APIAddress: "cs:8080", ChirpStackTenantID: csTenant, ApplicationID: csApp}
	_, err = svc.PutSettings(ctx, tenantA, in)
	assert.Equal(t, "api_token", fieldOf(t, err), "a token that does not open cannot be kept")
	assert.Empty(t, st.put)

	in.APIToken = "new-token"
	out, err := svc.PutSettings(ctx, tenantA, in)
	require.NoError(t, err, "a new token replaces it")
	assert.Equal(t, "new-token", st.put[0].APIToken)
	assert.True(t, out.APITokenSet)
}
