package lorawan

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.uber.org/cadence"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

const (
	testDevEUI  = "0102030405060708"
	testProfile = "11111111-2222-3333-4444-555555555555"
	testApp     = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

var createInput = otaflow.LoRaWANDeviceInput{
	TenantID: "tenant-1", Op: otaflow.LoRaWANCreate, DeviceID: "lora-1", Name: "lora one",
	Device:       model.Device{HardwareModel: "board", FirmwareVersion: "1.0.0", Labels: map[string]string{"site": "a"}},
	LoRaWAN:      model.LoRaWANDevice{DevEUI: testDevEUI, JoinEUI: "0000000000000000", DeviceProfileID: testProfile},
	SealedAppKey: "sealed",
	Policy:       otaflow.LoRaWANSyncPolicy{RetryWindow: 8 * time.Second},
}

func transient(msg string) error {
	return cadence.NewCustomError(otaflow.LoRaWANFailTransient, otaflow.LoRaWANFailure{Message: msg, Code: "Unavailable"})
}

type SyncSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	calls   map[string]int
	removed []otaflow.RemoveChirpStackRequest
	patched []otaflow.PatchChirpStackRequest
}

func TestSyncSuite(t *testing.T) { suite.Run(t, new(SyncSuite)) }

func (s *SyncSuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.calls = map[string]int{}
	s.removed, s.patched = nil, nil
}

func (s *SyncSuite) count(name string) { s.calls[name]++ }

func (s *SyncSuite) onCreate(fn func(n int) (otaflow.CreateChirpStackResult, error)) {
	s.env.OnActivity(otaflow.ActivityLoRaWANCreate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.CreateChirpStackRequest) (otaflow.CreateChirpStackResult, error) {
			s.count(otaflow.ActivityLoRaWANCreate)
			s.Equal(createInput.DeviceID, req.Tags[otaflow.TagDeviceID])
			return fn(s.calls[otaflow.ActivityLoRaWANCreate])
		})
}

func (s *SyncSuite) onKeys(err error) {
	s.env.OnActivity(otaflow.ActivityLoRaWANSetKeys, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.SetKeysRequest) error {
			s.count(otaflow.ActivityLoRaWANSetKeys)
			s.Equal("sealed", req.SealedAppKey)
			return err
		}).Maybe()
}

func (s *SyncSuite) onMirror(fn func(n int) error) {
	s.env.OnActivity(otaflow.ActivityLoRaWANMirror, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.MirrorRequest) (model.LoRaWANDeviceRecord, error) {
			s.count(otaflow.ActivityLoRaWANMirror)
			if err := fn(s.calls[otaflow.ActivityLoRaWANMirror]); err != nil {
				return model.LoRaWANDeviceRecord{}, err
			}
			d := req.Device
			d.Transport = model.TransportLoRaWAN
			return model.LoRaWANDeviceRecord{Device: d, LoRaWAN: req.LoRaWAN}, nil
		}).Maybe()
}

func (s *SyncSuite) onRemove(err error) {
	s.env.OnActivity(otaflow.ActivityLoRaWANRemove, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.RemoveChirpStackRequest) error {
			s.removed = append(s.removed, req)
			return err
		}).Maybe()
}

func (s *SyncSuite) onPatch() {
	s.env.OnActivity(otaflow.ActivityLoRaWANPatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.PatchChirpStackRequest) error {
			s.patched = append(s.patched, req)
			return nil
		}).Maybe()
}

// failure is the workflow's error reason and details.
func (s *SyncSuite) failure() (string, otaflow.LoRaWANFailure) {
	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	ce, ok := customError(err)
	s.Require().Truef(ok, "want a custom error, got %v", err)
	var f otaflow.LoRaWANFailure
	s.Require().NoError(ce.Details(&f))
	return ce.Reason(), f
}

func (s *SyncSuite) TestCreate() {
	s.onCreate(func(int) (otaflow.CreateChirpStackResult, error) {
		return otaflow.CreateChirpStackResult{ApplicationID: testApp}, nil
	})
	s.onKeys(nil)
	s.onMirror(func(int) error { return nil })
	s.onRemove(nil)
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, createInput)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res otaflow.LoRaWANDeviceResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(otaflow.LoRaWANCreate, res.Op)
	s.Require().NotNil(res.Device)
	s.Equal("lora-1", res.Device.ID)
	s.Equal(testApp, res.Device.LoRaWAN.ApplicationID, "the application comes from the settings ChirpStack used")
	s.Equal(testProfile, res.Device.LoRaWAN.DeviceProfileID)
	s.Empty(s.removed, "nothing to compensate")
}

func (s *SyncSuite) TestCreateRetriesWhileChirpStackIsDown() {
	s.onCreate(func(n int) (otaflow.CreateChirpStackResult, error) {
		if n <= 4 {
			return otaflow.CreateChirpStackResult{}, transient("connection refused")
		}
		return otaflow.CreateChirpStackResult{ApplicationID: testApp}, nil
	})
	s.onKeys(nil)
	s.onMirror(func(int) error { return nil })
	s.onRemove(nil)
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, createInput)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(5, s.calls[otaflow.ActivityLoRaWANCreate], "three local attempts, then the regular activity's retries")
	s.Empty(s.removed)
}

func (s *SyncSuite) TestCreateGivesUpAndCompensatesWhenChirpStackStaysDown() {
	s.onCreate(func(int) (otaflow.CreateChirpStackResult, error) {
		return otaflow.CreateChirpStackResult{}, transient("connection refused")
	})
	s.onKeys(nil)
	s.onMirror(func(int) error { return nil })
	s.onRemove(transient("connection refused"))
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, createInput)

	reason, f := s.failure()
	s.Equal(otaflow.LoRaWANFailUnavailable, reason)
	s.Contains(f.Message, "ChirpStack did not answer within the retry window (8s) to create the device")
	s.Contains(f.Message, "connection refused")
	s.Contains(f.Message, "could not be checked")
	s.Greater(s.calls[otaflow.ActivityLoRaWANCreate], 3, "retried beyond the local attempts")
	s.Require().NotEmpty(s.removed, "an attempt may have created the device: cleanup was tried")
	s.Equal(createInput.DeviceID, s.removed[0].OnlyIfCreatedFor, "cleanup removes only a device created for us")
	s.Zero(s.calls[otaflow.ActivityLoRaWANSetKeys])
	s.Zero(s.calls[otaflow.ActivityLoRaWANMirror], "nothing in the database")
}

func (s *SyncSuite) TestCreateRejectedByChirpStackIsNotRetried() {
	s.onCreate(func(int) (otaflow.CreateChirpStackResult, error) {
		return otaflow.CreateChirpStackResult{}, cadence.NewCustomError(otaflow.LoRaWANFailRejected,
			otaflow.LoRaWANFailure{Field: "device_profile_id", Message: "ChirpStack has no device profile", Code: "NotFound"})
	})
	s.onRemove(nil)
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, createInput)

	reason, f := s.failure()
	s.Equal(otaflow.LoRaWANFailRejected, reason)
	s.Equal("device_profile_id", f.Field)
	s.Equal(1, s.calls[otaflow.ActivityLoRaWANCreate])
	s.Empty(s.removed, "a rejected create created nothing")
}

func (s *SyncSuite) TestMirrorConflictRemovesTheChirpStackDevice() {
	s.onCreate(func(int) (otaflow.CreateChirpStackResult, error) {
		return otaflow.CreateChirpStackResult{ApplicationID: testApp}, nil
	})
	s.onKeys(nil)
	s.onMirror(func(int) error {
		return cadence.NewCustomError(otaflow.LoRaWANFailConflict, otaflow.LoRaWANFailure{Field: "id", Message: `device "lora-1" already exists`})
	})
	s.onRemove(nil)
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, createInput)

	reason, f := s.failure()
	s.Equal(otaflow.LoRaWANFailConflict, reason)
	s.Equal("id", f.Field)
	s.Contains(f.Message, "removed from ChirpStack again")
	s.Equal(1, s.calls[otaflow.ActivityLoRaWANMirror])
	s.Require().Len(s.removed, 1)
	s.Equal(otaflow.RemoveChirpStackRequest{TenantID: "tenant-1", DevEUI: testDevEUI, OnlyIfCreatedFor: "lora-1"}, s.removed[0])
}

func (s *SyncSuite) TestMirrorDatabaseDownRemovesTheChirpStackDevice() {
	s.onCreate(func(int) (otaflow.CreateChirpStackResult, error) {
		return otaflow.CreateChirpStackResult{ApplicationID: testApp}, nil
	})
	s.onKeys(nil)
	s.onMirror(func(int) error { return transient("database unavailable") })
	s.onRemove(nil)
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, createInput)

	reason, f := s.failure()
	s.Equal(otaflow.LoRaWANFailDatabase, reason)
	s.Contains(f.Message, "the database did not answer within the retry window")
	s.Greater(s.calls[otaflow.ActivityLoRaWANMirror], 3)
	s.Len(s.removed, 1)
}

func (s *SyncSuite) TestKeysRejectedRestoresAnAdoptedDevice() {
	prev := &otaflow.ChirpStackDevice{DevEUI: testDevEUI, Name: "found", DeviceProfileID: "other-profile",
		Tags: map[string]string{"hardware_model": "old"}}
	s.onCreate(func(int) (otaflow.CreateChirpStackResult, error) {
		return otaflow.CreateChirpStackResult{ApplicationID: testApp, Existed: true, Previous: prev}, nil
	})
	s.onKeys(cadence.NewCustomError(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "app_key", Message: "bad key"}))
	s.onRemove(nil)
	s.onPatch()
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, createInput)

	reason, f := s.failure()
	s.Equal(otaflow.LoRaWANFailRejected, reason)
	s.Equal("app_key", f.Field)
	s.Empty(s.removed, "a device that existed before is never deleted")
	s.Require().Len(s.patched, 1)
	s.Equal("found", *s.patched[0].Name)
	s.Equal("other-profile", *s.patched[0].DeviceProfileID)
	s.Equal(map[string]string{"hardware_model": "old", "firmware_version": ""}, s.patched[0].Tags)
}

var existing = model.LoRaWANDeviceRecord{
	Device:  model.Device{ID: "lora-1", HardwareModel: "board", FirmwareVersion: "1.0.0", Transport: model.TransportLoRaWAN},
	LoRaWAN: model.LoRaWANDevice{DeviceID: "lora-1", DevEUI: testDevEUI, DeviceProfileID: testProfile, ApplicationID: testApp},
}

func (s *SyncSuite) onLoad() {
	s.env.OnActivity(otaflow.ActivityLoRaWANLoad, mock.Anything, mock.Anything).Return(existing, nil).Once()
}

func (s *SyncSuite) TestDelete() {
	s.onLoad()
	s.onRemove(nil)
	s.env.OnActivity(otaflow.ActivityLoRaWANDeleteMirror, mock.Anything, mock.Anything).Return(nil).Once()
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, otaflow.LoRaWANDeviceInput{TenantID: "tenant-1",
		Op: otaflow.LoRaWANDelete, DeviceID: "lora-1", Policy: createInput.Policy})

	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().Len(s.removed, 1)
	s.Equal(otaflow.RemoveChirpStackRequest{TenantID: "tenant-1", DevEUI: testDevEUI}, s.removed[0], "unconditional delete")
}

func (s *SyncSuite) TestDeleteKeepsTheRecordWhileChirpStackIsDown() {
	s.onLoad()
	s.onRemove(transient("connection refused"))
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, otaflow.LoRaWANDeviceInput{TenantID: "tenant-1",
		Op: otaflow.LoRaWANDelete, DeviceID: "lora-1", Policy: createInput.Policy})

	reason, _ := s.failure()
	s.Equal(otaflow.LoRaWANFailUnavailable, reason)
	s.Greater(len(s.removed), 3)
	// No lorawan_delete_mirror mock: calling it would fail the test.
}

func (s *SyncSuite) TestUpdateRestoresChirpStackWhenTheDatabaseFails() {
	s.onLoad()
	s.env.OnActivity(otaflow.ActivityLoRaWANGet, mock.Anything, mock.Anything).Return(otaflow.ChirpStackDevice{
		DevEUI: testDevEUI, Name: "old name", DeviceProfileID: testProfile, Tags: map[string]string{"hardware_model": "board"}}, nil).Once()
	s.onPatch()
	s.env.OnActivity(otaflow.ActivityLoRaWANUpdateMirror, mock.Anything, mock.Anything).Return(model.LoRaWANDeviceRecord{},
		cadence.NewCustomError(otaflow.LoRaWANFailNotFound, otaflow.LoRaWANFailure{Field: "id", Message: "gone"})).Once()
	name, profile := "new name", "99999999-2222-3333-4444-555555555555"
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, otaflow.LoRaWANDeviceInput{TenantID: "tenant-1",
		Op: otaflow.LoRaWANUpdate, DeviceID: "lora-1", Policy: createInput.Policy,
		Change: otaflow.LoRaWANChange{Name: &name, DeviceProfileID: &profile, Labels: map[string]string{"a": "b"}}})

	reason, f := s.failure()
	s.Equal(otaflow.LoRaWANFailNotFound, reason)
	s.Contains(f.Message, "set back to the previous values")
	s.Require().Len(s.patched, 2)
	s.Equal(name, *s.patched[0].Name)
	s.Equal(profile, *s.patched[0].DeviceProfileID)
	s.Nil(s.patched[0].Tags, "hardware model unchanged")
	s.Equal("old name", *s.patched[1].Name)
	s.Equal(testProfile, *s.patched[1].DeviceProfileID)
}

func (s *SyncSuite) TestUpdateOfLabelsOnlyLeavesChirpStackAlone() {
	s.onLoad()
	rec := existing
	rec.Labels = map[string]string{"a": "b"}
	s.env.OnActivity(otaflow.ActivityLoRaWANUpdateMirror, mock.Anything, mock.Anything).Return(rec, nil).Once()
	s.env.ExecuteWorkflow(otaflow.LoRaWANDeviceWorkflow, otaflow.LoRaWANDeviceInput{TenantID: "tenant-1",
		Op: otaflow.LoRaWANUpdate, DeviceID: "lora-1", Policy: createInput.Policy,
		Change: otaflow.LoRaWANChange{Labels: map[string]string{"a": "b"}}})

	s.Require().NoError(s.env.GetWorkflowError())
	var res otaflow.LoRaWANDeviceResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(map[string]string{"a": "b"}, res.Device.Labels)
}
