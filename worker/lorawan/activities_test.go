package lorawan

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"sync"
	"testing"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/encoded"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/cadence/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/worker/chirpstack"
)

const (
	testSecret = "worker-test-secret-0123456789"
	testKey    = "00112233445566778899aabbccddeeff"
)

// fakeChirpStack answers the DeviceService and DeviceProfileService calls the
// activities make, with ChirpStack's codes; methods not overridden panic.
type fakeChirpStack struct {
	api.DeviceServiceClient

	mu       sync.Mutex
	devices  map[string]*api.Device
	keys     map[string]*api.DeviceKeys
	profiles map[string]*api.DeviceProfile
	down     bool
	calls    map[string]int
}

func newFake() *fakeChirpStack {
	return &fakeChirpStack{devices: map[string]*api.Device{}, keys: map[string]*api.DeviceKeys{}, calls: map[string]int{},
		profiles: map[string]*api.DeviceProfile{testProfile: {Id: testProfile, TenantId: "cs-tenant",
			MacVersion: common.MacVersion_LORAWAN_1_0_3, SupportsOtaa: true}}}
}

func (f *fakeChirpStack) enter(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	if f.down {
		return status.Error(codes.Unavailable, "connection refused")
	}
	return nil
}

func (f *fakeChirpStack) Create(_ context.Context, in *api.CreateDeviceRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	if err := f.enter("Create"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[in.GetDevice().GetDevEui()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Object already exists (id: %s)", in.GetDevice().GetDevEui())
	}
	f.devices[in.GetDevice().GetDevEui()] = proto.Clone(in.GetDevice()).(*api.Device)
	return &emptypb.Empty{}, nil
}

func (f *fakeChirpStack) Get(_ context.Context, in *api.GetDeviceRequest, _ ...grpc.CallOption) (*api.GetDeviceResponse, error) {
	if err := f.enter("Get"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[in.GetDevEui()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Object does not exist (id: %s)", in.GetDevEui())
	}
	return &api.GetDeviceResponse{Device: proto.Clone(d).(*api.Device)}, nil
}

func (f *fakeChirpStack) Update(_ context.Context, in *api.UpdateDeviceRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	if err := f.enter("Update"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[in.GetDevice().GetDevEui()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Object does not exist (id: %s)", in.GetDevice().GetDevEui())
	}
	f.devices[in.GetDevice().GetDevEui()] = proto.Clone(in.GetDevice()).(*api.Device)
	return &emptypb.Empty{}, nil
}

func (f *fakeChirpStack) Delete(_ context.Context, in *api.DeleteDeviceRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	if err := f.enter("Delete"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[in.GetDevEui()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Object does not exist (id: %s)", in.GetDevEui())
	}
	delete(f.devices, in.GetDevEui())
	return &emptypb.Empty{}, nil
}

// List takes limit literally, as ChirpStack does: no limit, no rows.
func (f *fakeChirpStack) List(_ context.Context, in *api.ListDevicesRequest, _ ...grpc.CallOption) (*api.ListDevicesResponse, error) {
	if err := f.enter("List"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var items []*api.DeviceListItem
	for _, d := range f.devices {
		if d.GetApplicationId() == in.GetApplicationId() {
			items = append(items, &api.DeviceListItem{DevEui: d.GetDevEui(), Name: d.GetName(),
				DeviceProfileId: d.GetDeviceProfileId(), Tags: maps.Clone(d.GetTags())})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].GetDevEui() < items[j].GetDevEui() })
	total := len(items)
	items = items[min(int(in.GetOffset()), len(items)):]
	items = items[:min(int(in.GetLimit()), len(items))]
	return &api.ListDevicesResponse{TotalCount: uint32(total), Result: items}, nil
}

func (f *fakeChirpStack) CreateKeys(_ context.Context, in *api.CreateDeviceKeysRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	if err := f.enter("CreateKeys"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	eui := in.GetDeviceKeys().GetDevEui()
	if _, ok := f.devices[eui]; !ok {
		return nil, status.Errorf(codes.NotFound, "Object does not exist (id: %s)", eui)
	}
	if _, ok := f.keys[eui]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Object already exists (id: %s)", eui)
	}
	f.keys[eui] = proto.Clone(in.GetDeviceKeys()).(*api.DeviceKeys)
	return &emptypb.Empty{}, nil
}

func (f *fakeChirpStack) UpdateKeys(_ context.Context, in *api.UpdateDeviceKeysRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	if err := f.enter("UpdateKeys"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[in.GetDeviceKeys().GetDevEui()] = proto.Clone(in.GetDeviceKeys()).(*api.DeviceKeys)
	return &emptypb.Empty{}, nil
}

func (f *fakeChirpStack) GetDeviceProfile(id string) (*api.DeviceProfile, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.profiles[id]
	return p, ok
}

// profileService is the fake's DeviceProfileService: its Get would clash with the
// DeviceService Get on one type.
type profileService struct {
	api.DeviceProfileServiceClient
	f *fakeChirpStack
}

func (p profileService) Get(_ context.Context, in *api.GetDeviceProfileRequest, _ ...grpc.CallOption) (*api.GetDeviceProfileResponse, error) {
	if err := p.f.enter("GetProfile"); err != nil {
		return nil, err
	}
	dp, ok := p.f.GetDeviceProfile(in.GetId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Object does not exist (id: %s)", in.GetId())
	}
	return &api.GetDeviceProfileResponse{DeviceProfile: proto.Clone(dp).(*api.DeviceProfile)}, nil
}

type fakeClients struct{ f *fakeChirpStack }

func (c fakeClients) For(model.ChirpStackSettings) (*chirpstack.Client, error) {
	return &chirpstack.Client{Devices: c.f, Profile: profileService{f: c.f}}, nil
}

// fakeStore keeps LoRaWAN devices in memory with the store's error semantics.
type fakeStore struct {
	mu       sync.Mutex
	settings map[string]model.ChirpStackSettings
	devices  map[string]model.LoRaWANDeviceRecord // by tenant/id
}

func newStore() *fakeStore {
	return &fakeStore{devices: map[string]model.LoRaWANDeviceRecord{}, settings: map[string]model.ChirpStackSettings{
		"tenant-1": {TenantID: "tenant-1", APIAddress: "cs:8080", APIToken: "t", ChirpStackTenantID: "cs-tenant",
			ApplicationID: testApp, EventEncoding: "json", VersionFPort: 10}}}
}

func (s *fakeStore) GetChirpStackSettings(_ context.Context, tenantID string) (model.ChirpStackSettings, error) {
	cs, ok := s.settings[tenantID]
	if !ok {
		return cs, store.ErrNotFound
	}
	return cs, nil
}

func (s *fakeStore) CreateLoRaWANDevice(_ context.Context, d model.Device, l model.LoRaWANDevice) (model.LoRaWANDeviceRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.devices {
		if r.TenantID == d.TenantID && (r.ID == d.ID || r.LoRaWAN.DevEUI == l.DevEUI) {
			return model.LoRaWANDeviceRecord{}, fmt.Errorf("create: %w", store.ErrConflict)
		}
	}
	l.DeviceID = d.ID
	rec := model.LoRaWANDeviceRecord{Device: d, LoRaWAN: l}
	s.devices[d.TenantID+"/"+d.ID] = rec
	return rec, nil
}

func (s *fakeStore) GetLoRaWANDevice(_ context.Context, tenantID, deviceID string) (model.LoRaWANDeviceRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.devices[tenantID+"/"+deviceID]
	if !ok {
		return r, store.ErrNotFound
	}
	return r, nil
}

func (s *fakeStore) LoRaWANDeviceByEUI(_ context.Context, tenantID, devEUI string) (model.LoRaWANDeviceRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.devices {
		if r.TenantID == tenantID && r.LoRaWAN.DevEUI == devEUI {
			return r, nil
		}
	}
	return model.LoRaWANDeviceRecord{}, store.ErrNotFound
}

func (s *fakeStore) ListLoRaWANDevices(_ context.Context, tenantID string, p store.Page) ([]model.LoRaWANDeviceRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []model.LoRaWANDeviceRecord
	for _, r := range s.devices {
		if r.TenantID == tenantID && r.ID > p.After {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out[:min(len(out), p.Limit)], nil
}

func (s *fakeStore) UpdateLoRaWANDevice(_ context.Context, tenantID, deviceID string, u store.LoRaWANUpdate) (model.LoRaWANDeviceRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.devices[tenantID+"/"+deviceID]
	if !ok {
		return r, store.ErrNotFound
	}
	if u.DeviceProfileID != nil {
		r.LoRaWAN.DeviceProfileID = *u.DeviceProfileID
	}
	s.devices[tenantID+"/"+deviceID] = r
	return r, nil
}

func (s *fakeStore) DeleteDevice(_ context.Context, tenantID, deviceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.devices[tenantID+"/"+deviceID]; !ok {
		return store.ErrNotFound
	}
	delete(s.devices, tenantID+"/"+deviceID)
	return nil
}

// activitiesOnly lets Register run on an activity test environment.
type activitiesOnly struct {
	*testsuite.TestActivityEnvironment
}

func (activitiesOnly) RegisterWorkflowWithOptions(interface{}, workflow.RegisterOptions) {}

type activityFixture struct {
	t   *testing.T
	env *testsuite.TestActivityEnvironment
	cs  *fakeChirpStack
	st  *fakeStore
}

func newActivityFixture(t *testing.T) *activityFixture {
	var ts testsuite.WorkflowTestSuite
	f := &activityFixture{t: t, env: ts.NewTestActivityEnvironment(), cs: newFake(), st: newStore()}
	Register(activitiesOnly{f.env}, &Activities{Store: f.st, Clients: fakeClients{f.cs}, KeySecret: testSecret})
	return f
}

// run executes an activity by its registered name and returns its failure reason and
// details ("" when it succeeded).
func (f *activityFixture) run(name string, arg interface{}, result interface{}) (string, otaflow.LoRaWANFailure) {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(name, arg)
	if err != nil {
		ce, ok := customError(err)
		require.Truef(f.t, ok, "want a custom error, got %v", err)
		return ce.Reason(), details(err)
	}
	if result != nil {
		require.NoError(f.t, v.(encoded.Value).Get(result))
	}
	return "", otaflow.LoRaWANFailure{}
}

func createReq() otaflow.CreateChirpStackRequest {
	return otaflow.CreateChirpStackRequest{TenantID: "tenant-1", DeviceID: "lora-1", DevEUI: testDevEUI,
		DeviceProfileID: testProfile, Name: "lora one",
		Tags: map[string]string{otaflow.TagDeviceID: "lora-1", otaflow.TagHardwareModel: "board"}}
}

func TestCreateIsIdempotentAndNeverHijacks(t *testing.T) {
	f := newActivityFixture(t)
	var res otaflow.CreateChirpStackResult
	reason, _ := f.run(otaflow.ActivityLoRaWANCreate, createReq(), &res)
	require.Empty(t, reason)
	assert.Equal(t, otaflow.CreateChirpStackResult{ApplicationID: testApp}, res)
	assert.Equal(t, "lora-1", f.cs.devices[testDevEUI].GetTags()[otaflow.TagDeviceID])

	// A retry after a lost answer finds its own device.
	reason, _ = f.run(otaflow.ActivityLoRaWANCreate, createReq(), &res)
	require.Empty(t, reason)
	assert.False(t, res.Existed)

	// The same DevEUI created for another device id is a conflict.
	other := createReq()
	other.DeviceID = "lora-2"
	reason, fl := f.run(otaflow.ActivityLoRaWANCreate, other, nil)
	assert.Equal(t, otaflow.LoRaWANFailConflict, reason)
	assert.Equal(t, "dev_eui", fl.Field)

	// In another application it is a conflict too.
	f.cs.devices[testDevEUI].ApplicationId = "99999999-bbbb-cccc-dddd-eeeeeeeeeeee"
	reason, fl = f.run(otaflow.ActivityLoRaWANCreate, createReq(), nil)
	assert.Equal(t, otaflow.LoRaWANFailConflict, reason)
	assert.Contains(t, fl.Message, "another ChirpStack application")
}

func TestCreateAdoptsAnUntaggedDeviceOfTheApplication(t *testing.T) {
	f := newActivityFixture(t)
	f.cs.devices[testDevEUI] = &api.Device{DevEui: testDevEUI, Name: "found", ApplicationId: testApp,
		DeviceProfileId: "other", Tags: map[string]string{"site": "x"}}
	var res otaflow.CreateChirpStackResult
	reason, _ := f.run(otaflow.ActivityLoRaWANCreate, createReq(), &res)
	require.Empty(t, reason)
	assert.True(t, res.Existed)
	require.NotNil(t, res.Previous)
	assert.Equal(t, "found", res.Previous.Name)
	assert.Equal(t, "other", res.Previous.DeviceProfileID)
	dev := f.cs.devices[testDevEUI]
	assert.Equal(t, "lora one", dev.GetName())
	assert.Equal(t, testProfile, dev.GetDeviceProfileId())
	assert.Equal(t, map[string]string{"site": "x", otaflow.TagHardwareModel: "board"}, dev.GetTags(),
		"no device-id tag: compensation must never delete a device that existed before")
}

func TestCreateChecksTheDeviceProfile(t *testing.T) {
	f := newActivityFixture(t)
	req := createReq()
	req.DeviceProfileID = "77777777-2222-3333-4444-555555555555"
	reason, fl := f.run(otaflow.ActivityLoRaWANCreate, req, nil)
	assert.Equal(t, otaflow.LoRaWANFailRejected, reason)
	assert.Equal(t, "device_profile_id", fl.Field)

	f.cs.profiles[testProfile].MacVersion = common.MacVersion_LORAWAN_1_1_0
	reason, fl = f.run(otaflow.ActivityLoRaWANCreate, createReq(), nil)
	assert.Equal(t, otaflow.LoRaWANFailRejected, reason)
	assert.Contains(t, fl.Message, "LoRaWAN 1.1")
	assert.Empty(t, f.cs.devices, "nothing created")
}

func TestChirpStackDownIsRetryable(t *testing.T) {
	f := newActivityFixture(t)
	f.cs.down = true
	reason, fl := f.run(otaflow.ActivityLoRaWANCreate, createReq(), nil)
	assert.Equal(t, otaflow.LoRaWANFailTransient, reason)
	assert.Equal(t, codes.Unavailable.String(), fl.Code)
	assert.Contains(t, fl.Message, "connection refused")
}

func TestSetKeysUsesNwkKeyAndUpdatesExistingKeys(t *testing.T) {
	f := newActivityFixture(t)
	f.cs.devices[testDevEUI] = &api.Device{DevEui: testDevEUI, ApplicationId: testApp}
	sealed, err := otaflow.SealAppKey(testSecret, testDevEUI, testKey)
	require.NoError(t, err)
	req := otaflow.SetKeysRequest{TenantID: "tenant-1", DevEUI: testDevEUI, SealedAppKey: sealed}
	reason, _ := f.run(otaflow.ActivityLoRaWANSetKeys, req, nil)
	require.Empty(t, reason)
	reason, _ = f.run(otaflow.ActivityLoRaWANSetKeys, req, nil)
	require.Empty(t, reason, "a retry updates the keys it created")
	assert.Equal(t, 1, f.cs.calls["UpdateKeys"])
	assert.Equal(t, testKey, f.cs.keys[testDevEUI].GetNwkKey(), "LoRaWAN 1.0.x AppKey goes in nwk_key")

	req.SealedAppKey = "garbage"
	reason, fl := f.run(otaflow.ActivityLoRaWANSetKeys, req, nil)
	assert.Equal(t, otaflow.LoRaWANFailRejected, reason)
	assert.Equal(t, "app_key", fl.Field)
}

func TestRemoveTreatsNotFoundAsDoneAndSparesForeignDevices(t *testing.T) {
	f := newActivityFixture(t)
	reason, _ := f.run(otaflow.ActivityLoRaWANRemove, otaflow.RemoveChirpStackRequest{TenantID: "tenant-1", DevEUI: testDevEUI}, nil)
	assert.Empty(t, reason, "NotFound counts as removed")

	f.cs.devices[testDevEUI] = &api.Device{DevEui: testDevEUI, ApplicationId: testApp, Tags: map[string]string{otaflow.TagDeviceID: "other"}}
	reason, _ = f.run(otaflow.ActivityLoRaWANRemove, otaflow.RemoveChirpStackRequest{TenantID: "tenant-1", DevEUI: testDevEUI,
		OnlyIfCreatedFor: "lora-1"}, nil)
	assert.Empty(t, reason)
	assert.Contains(t, f.cs.devices, testDevEUI, "compensation leaves a device that is not ours")

	reason, _ = f.run(otaflow.ActivityLoRaWANRemove, otaflow.RemoveChirpStackRequest{TenantID: "tenant-1", DevEUI: testDevEUI}, nil)
	assert.Empty(t, reason)
	assert.NotContains(t, f.cs.devices, testDevEUI)
}

func TestMirrorIsIdempotentAndNamesTheConflictingField(t *testing.T) {
	f := newActivityFixture(t)
	req := otaflow.MirrorRequest{TenantID: "tenant-1", Device: model.Device{ID: "lora-1", HardwareModel: "board", FirmwareVersion: "1.0.0"},
		LoRaWAN: model.LoRaWANDevice{DevEUI: testDevEUI, DeviceProfileID: testProfile, ApplicationID: testApp}}
	var rec model.LoRaWANDeviceRecord
	reason, _ := f.run(otaflow.ActivityLoRaWANMirror, req, &rec)
	require.Empty(t, reason)
	assert.Equal(t, model.TransportLoRaWAN, rec.Transport)
	reason, _ = f.run(otaflow.ActivityLoRaWANMirror, req, &rec)
	assert.Empty(t, reason, "the same device mirrored by an earlier attempt")

	other := req
	other.Device.ID = "lora-2"
	reason, fl := f.run(otaflow.ActivityLoRaWANMirror, other, nil)
	assert.Equal(t, otaflow.LoRaWANFailConflict, reason)
	assert.Equal(t, "dev_eui", fl.Field)

	other = req
	other.LoRaWAN.DevEUI = "0a0b0c0d0e0f0001"
	reason, fl = f.run(otaflow.ActivityLoRaWANMirror, other, nil)
	assert.Equal(t, otaflow.LoRaWANFailConflict, reason)
	assert.Equal(t, "id", fl.Field)
}

func TestScanPagesAndRepairMirrorsFromTags(t *testing.T) {
	f := newActivityFixture(t)
	// 600 ChirpStack devices (three List pages), 599 mirrored with one profile drift,
	// one only in ChirpStack and one only in the database.
	for i := range 600 {
		eui := fmt.Sprintf("00000000000%05x", i)
		f.cs.devices[eui] = &api.Device{DevEui: eui, ApplicationId: testApp, DeviceProfileId: testProfile}
		if i == 7 {
			f.cs.devices[eui].Tags = map[string]string{otaflow.TagDeviceID: "found-7", otaflow.TagHardwareModel: "x2",
				otaflow.TagFirmwareVersion: "2.1.0"}
			continue
		}
		profile := testProfile
		if i == 9 {
			profile = "old-profile"
		}
		_, err := f.st.CreateLoRaWANDevice(context.Background(), model.Device{TenantID: "tenant-1", ID: fmt.Sprintf("d-%04d", i)},
			model.LoRaWANDevice{DevEUI: eui, DeviceProfileID: profile})
		require.NoError(t, err)
	}
	_, err := f.st.CreateLoRaWANDevice(context.Background(), model.Device{TenantID: "tenant-1", ID: "db-only"},
		model.LoRaWANDevice{DevEUI: "ffffffffffffffff", DeviceProfileID: testProfile})
	require.NoError(t, err)

	var scan otaflow.ReconcileScan
	reason, _ := f.run(otaflow.ActivityReconcileScan, otaflow.ReconcileInput{TenantID: "tenant-1"}, &scan)
	require.Empty(t, reason)
	assert.Equal(t, 601, scan.Checked)
	assert.Equal(t, 3, f.cs.calls["List"])
	require.Len(t, scan.MissingInDB, 1)
	assert.Equal(t, "0000000000000007", scan.MissingInDB[0].DevEUI)
	require.Len(t, scan.MissingInChirpStack, 1)
	assert.Equal(t, "db-only", scan.MissingInChirpStack[0].DeviceID)
	require.Len(t, scan.ProfileMismatch, 1)
	assert.Equal(t, otaflow.ProfileMismatch{DeviceID: "d-0009", DevEUI: "0000000000000009", DBProfileID: "old-profile",
		ChirpStackProfileID: testProfile}, scan.ProfileMismatch[0])

	var repaired []otaflow.Repair
	req := otaflow.RepairRequest{TenantID: "tenant-1", MissingInDB: scan.MissingInDB, ProfileMismatch: scan.ProfileMismatch}
	reason, _ = f.run(otaflow.ActivityReconcileRepair, req, &repaired)
	require.Empty(t, reason)
	assert.Equal(t, []otaflow.Repair{
		{DeviceID: "found-7", DevEUI: "0000000000000007", Action: otaflow.RepairMirrored},
		{DeviceID: "d-0009", DevEUI: "0000000000000009", Action: otaflow.RepairProfileUpdated},
	}, repaired)
	rec, err := f.st.GetLoRaWANDevice(context.Background(), "tenant-1", "found-7")
	require.NoError(t, err)
	assert.Equal(t, "x2", rec.HardwareModel)
	assert.Equal(t, "2.1.0", rec.FirmwareVersion)
	assert.Equal(t, model.TransportLoRaWAN, rec.Transport)

	// Repeating the repair (a retry) reports the same and changes nothing.
	reason, _ = f.run(otaflow.ActivityReconcileRepair, req, &repaired)
	require.Empty(t, reason)
	assert.Len(t, repaired, 2)
}

func TestRepairFallsBackToUnknownModelAndDevEUIAsID(t *testing.T) {
	f := newActivityFixture(t)
	f.cs.devices[testDevEUI] = &api.Device{DevEui: testDevEUI, ApplicationId: testApp, DeviceProfileId: testProfile,
		JoinEui: "0102030405060709", Tags: map[string]string{otaflow.TagDeviceID: "taken", otaflow.TagHardwareModel: "bad model!",
			otaflow.TagFirmwareVersion: "v2"}}
	_, err := f.st.CreateLoRaWANDevice(context.Background(), model.Device{TenantID: "tenant-1", ID: "taken"},
		model.LoRaWANDevice{DevEUI: "ffffffffffffffff"})
	require.NoError(t, err)
	var repaired []otaflow.Repair
	reason, _ := f.run(otaflow.ActivityReconcileRepair, otaflow.RepairRequest{TenantID: "tenant-1",
		MissingInDB: []otaflow.DriftDevice{{DevEUI: testDevEUI}}}, &repaired)
	require.Empty(t, reason)
	require.Len(t, repaired, 1)
	assert.Equal(t, testDevEUI, repaired[0].DeviceID, "the tagged id is taken: the DevEUI names the device")
	rec, err := f.st.GetLoRaWANDevice(context.Background(), "tenant-1", testDevEUI)
	require.NoError(t, err)
	assert.Equal(t, otaflow.UnknownHardwareModel, rec.HardwareModel)
	assert.Equal(t, otaflow.UnknownVersion, rec.FirmwareVersion)
	assert.Equal(t, "0102030405060709", rec.LoRaWAN.JoinEUI)
}

func TestNotConfigured(t *testing.T) {
	f := newActivityFixture(t)
	delete(f.st.settings, "tenant-1")
	reason, fl := f.run(otaflow.ActivityReconcileScan, otaflow.ReconcileInput{TenantID: "tenant-1"}, nil)
	assert.Equal(t, otaflow.LoRaWANFailNotConfigured, reason)
	assert.Equal(t, "settings", fl.Field)
}

func TestFieldOf(t *testing.T) {
	for msg, field := range map[string]string{
		"device profile 1234 does not exist":                               "device_profile_id",
		"The application and device-profile must be under the same tenant": "device_profile_id",
		"join_eui: invalid EUI64":                                          "join_eui",
		"dev_eui: must be 16 hex characters":                               "dev_eui",
		"nwk_key: invalid AES128 key":                                      "app_key",
		"Object does not exist (id: 52f14cd4-c6f1-4fbd-8f87-4025e1d49242)": "",
		"application_id: malformed UUID":                                   "settings",
		"something else entirely":                                          "",
	} {
		assert.Equal(t, field, fieldOf(msg), msg)
	}
}
