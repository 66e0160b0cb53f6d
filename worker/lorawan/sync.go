package lorawan

import (
	"fmt"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// attemptTimeout bounds one attempt of a device step (a few ChirpStack calls).
const attemptTimeout = time.Minute

// SyncFlow is LORAWAN_DEVICE_SYNC. It holds the activities only to run them as local
// activities; on replay their recorded results are used and nothing is called.
type SyncFlow struct {
	acts *Activities
}

// NewSyncFlow returns the workflow bound to its activities.
func NewSyncFlow(a *Activities) *SyncFlow { return &SyncFlow{acts: a} }

type syncRun struct {
	acts    *Activities
	in      otaflow.LoRaWANDeviceInput
	window  time.Duration
	bounded options
	durable options
}

// Run performs one operation (create, update or delete) on one device. ChirpStack
// changes come first and the database follows; when a later step fails the earlier
// ChirpStack changes are undone, so the run ends with both sides changed or neither.
func (f *SyncFlow) Run(ctx workflow.Context, in otaflow.LoRaWANDeviceInput) (otaflow.LoRaWANDeviceResult, error) {
	w := retryWindow(in.Policy)
	r := &syncRun{acts: f.acts, in: in, window: w,
		bounded: stepOptions(w, attemptTimeout), durable: stepOptions(durableWindow, attemptTimeout)}
	res := otaflow.LoRaWANDeviceResult{Op: in.Op, DeviceID: in.DeviceID}
	var err error
	switch in.Op {
	case otaflow.LoRaWANCreate:
		res.Device, err = r.create(ctx)
	case otaflow.LoRaWANUpdate:
		res.Device, err = r.update(ctx)
	case otaflow.LoRaWANDelete:
		err = r.delete(ctx)
	default:
		err = cadence.NewCustomError(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "op",
			Message: fmt.Sprintf("unknown operation %q", in.Op)})
	}
	if err != nil {
		workflow.GetLogger(ctx).Info("lorawan device operation failed")
		return otaflow.LoRaWANDeviceResult{}, err
	}
	return res, nil
}

func (r *syncRun) device() otaflow.ChirpStackDeviceRequest {
	return otaflow.ChirpStackDeviceRequest{TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, DevEUI: r.in.LoRaWAN.DevEUI}
}

func (r *syncRun) create(ctx workflow.Context) (*model.LoRaWANDeviceRecord, error) {
	in := r.in
	req := otaflow.CreateChirpStackRequest{
		TenantID: in.TenantID, DeviceID: in.DeviceID, DevEUI: in.LoRaWAN.DevEUI, JoinEUI: in.LoRaWAN.JoinEUI,
		DeviceProfileID: in.LoRaWAN.DeviceProfileID, Name: in.Name,
		Tags: map[string]string{otaflow.TagDeviceID: in.DeviceID, otaflow.TagHardwareModel: in.Device.HardwareModel,
			otaflow.TagFirmwareVersion: in.Device.FirmwareVersion},
	}
	var created otaflow.CreateChirpStackResult
	if err := step(ctx, otaflow.ActivityLoRaWANCreate, r.acts.CreateChirpStackDevice, req, &created, r.bounded); err != nil {
		if permanent(err) {
			return nil, fail(err, otaflow.LoRaWANFailUnavailable, "create the device", r.window)
		}
		// An attempt may have reached ChirpStack before its answer was lost: remove a
		// device it created (ours by its tag), never one that was there before.
		rm := otaflow.RemoveChirpStackRequest{TenantID: in.TenantID, DevEUI: in.LoRaWAN.DevEUI, OnlyIfCreatedFor: in.DeviceID}
		note := ""
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if cerr := step(dctx, otaflow.ActivityLoRaWANRemove, r.acts.RemoveChirpStackDevice, rm, nil, r.bounded); cerr != nil {
			note = "whether an attempt created the device in ChirpStack could not be checked; the reconcile run reports it if so"
		}
		return nil, withNote(fail(err, otaflow.LoRaWANFailUnavailable, "create the device", r.window), note)
	}

	keys := otaflow.SetKeysRequest{TenantID: in.TenantID, DevEUI: in.LoRaWAN.DevEUI, SealedAppKey: in.SealedAppKey}
	if err := step(ctx, otaflow.ActivityLoRaWANSetKeys, r.acts.SetKeys, keys, nil, r.bounded); err != nil {
		return nil, withNote(fail(err, otaflow.LoRaWANFailUnavailable, "set the device keys", r.window), r.undoCreate(ctx, created))
	}

	l := in.LoRaWAN
	l.DeviceID = in.DeviceID
	l.ApplicationID = created.ApplicationID
	d := in.Device
	d.ID = in.DeviceID
	var rec model.LoRaWANDeviceRecord
	mirror := otaflow.MirrorRequest{TenantID: in.TenantID, Device: d, LoRaWAN: l}
	if err := step(ctx, otaflow.ActivityLoRaWANMirror, r.acts.MirrorDevice, mirror, &rec, r.bounded); err != nil {
		return nil, withNote(fail(err, otaflow.LoRaWANFailDatabase, "record the device", r.window), r.undoCreate(ctx, created))
	}
	return &rec, nil
}

// undoCreate removes the device the run created from ChirpStack, or restores a device
// it adopted. It must complete, so it retries for a long time; the note says what
// happened for the failure message.
func (r *syncRun) undoCreate(ctx workflow.Context, created otaflow.CreateChirpStackResult) string {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	in := r.in
	if created.Existed && created.Previous != nil {
		p := created.Previous
		restore := otaflow.PatchChirpStackRequest{TenantID: in.TenantID, DevEUI: in.LoRaWAN.DevEUI, Name: &p.Name,
			DeviceProfileID: &p.DeviceProfileID, Tags: restoreTags(p.Tags, otaflow.TagHardwareModel, otaflow.TagFirmwareVersion)}
		if err := step(ctx, otaflow.ActivityLoRaWANPatch, r.acts.PatchChirpStackDevice, restore, nil, r.durable); err != nil {
			return "the ChirpStack device that existed before could not be restored: " + details(err).Message
		}
		return "the ChirpStack device that existed before was left as it was"
	}
	rm := otaflow.RemoveChirpStackRequest{TenantID: in.TenantID, DevEUI: in.LoRaWAN.DevEUI, OnlyIfCreatedFor: in.DeviceID}
	if err := step(ctx, otaflow.ActivityLoRaWANRemove, r.acts.RemoveChirpStackDevice, rm, nil, r.durable); err != nil {
		return "the device created in ChirpStack could not be removed: " + details(err).Message
	}
	return "the device was removed from ChirpStack again"
}

// restoreTags sets each key back to its previous value ("" removes a tag that did
// not exist).
func restoreTags(prev map[string]string, keys ...string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = prev[k]
	}
	return out
}

func (r *syncRun) update(ctx workflow.Context) (*model.LoRaWANDeviceRecord, error) {
	in := r.in
	var cur model.LoRaWANDeviceRecord
	if err := step(ctx, otaflow.ActivityLoRaWANLoad, r.acts.LoadDevice, r.device(), &cur, r.bounded); err != nil {
		return nil, fail(err, otaflow.LoRaWANFailDatabase, "read the device", r.window)
	}
	ch := in.Change
	var prev otaflow.ChirpStackDevice
	var patch *otaflow.PatchChirpStackRequest
	if ch.Name != nil || ch.DeviceProfileID != nil || ch.HardwareModel != nil {
		get := otaflow.ChirpStackDeviceRequest{TenantID: in.TenantID, DeviceID: in.DeviceID, DevEUI: cur.LoRaWAN.DevEUI}
		if err := step(ctx, otaflow.ActivityLoRaWANGet, r.acts.GetChirpStackDevice, get, &prev, r.bounded); err != nil {
			return nil, fail(err, otaflow.LoRaWANFailUnavailable, "read the device", r.window)
		}
		patch = changes(in.TenantID, prev, ch)
	}
	if patch != nil {
		if err := step(ctx, otaflow.ActivityLoRaWANPatch, r.acts.PatchChirpStackDevice, *patch, nil, r.bounded); err != nil {
			failed := fail(err, otaflow.LoRaWANFailUnavailable, "update the device", r.window)
			if permanent(err) {
				return nil, failed
			}
			// A lost answer may hide an applied update: put the old values back.
			return nil, withNote(failed, r.restore(ctx, prev, *patch))
		}
	}
	var rec model.LoRaWANDeviceRecord
	req := otaflow.UpdateMirrorRequest{TenantID: in.TenantID, DeviceID: in.DeviceID, Change: ch}
	if err := step(ctx, otaflow.ActivityLoRaWANUpdateMirror, r.acts.UpdateMirror, req, &rec, r.bounded); err != nil {
		failed := fail(err, otaflow.LoRaWANFailDatabase, "record the change", r.window)
		if patch == nil {
			return nil, failed
		}
		return nil, withNote(failed, r.restore(ctx, prev, *patch))
	}
	return &rec, nil
}

// changes is the ChirpStack patch an update needs, nil when ChirpStack already has it.
func changes(tenantID string, prev otaflow.ChirpStackDevice, ch otaflow.LoRaWANChange) *otaflow.PatchChirpStackRequest {
	p := otaflow.PatchChirpStackRequest{TenantID: tenantID, DevEUI: prev.DevEUI}
	changed := false
	if ch.Name != nil && *ch.Name != prev.Name {
		p.Name, changed = ch.Name, true
	}
	if ch.DeviceProfileID != nil && *ch.DeviceProfileID != prev.DeviceProfileID {
		p.DeviceProfileID, changed = ch.DeviceProfileID, true
	}
	if ch.HardwareModel != nil && *ch.HardwareModel != prev.Tags[otaflow.TagHardwareModel] {
		p.Tags, changed = map[string]string{otaflow.TagHardwareModel: *ch.HardwareModel}, true
	}
	if !changed {
		return nil
	}
	return &p
}

// restore undoes a patch with the values read before it.
func (r *syncRun) restore(ctx workflow.Context, prev otaflow.ChirpStackDevice, patch otaflow.PatchChirpStackRequest) string {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	undo := otaflow.PatchChirpStackRequest{TenantID: patch.TenantID, DevEUI: patch.DevEUI}
	if patch.Name != nil {
		undo.Name = &prev.Name
	}
	if patch.DeviceProfileID != nil {
		undo.DeviceProfileID = &prev.DeviceProfileID
	}
	if patch.Tags != nil {
		undo.Tags = restoreTags(prev.Tags, otaflow.TagHardwareModel)
	}
	if err := step(ctx, otaflow.ActivityLoRaWANPatch, r.acts.PatchChirpStackDevice, undo, nil, r.durable); err != nil {
		return "the previous ChirpStack values could not be restored: " + details(err).Message
	}
	return "ChirpStack was set back to the previous values"
}

func (r *syncRun) delete(ctx workflow.Context) error {
	var cur model.LoRaWANDeviceRecord
	if err := step(ctx, otaflow.ActivityLoRaWANLoad, r.acts.LoadDevice, r.device(), &cur, r.bounded); err != nil {
		return fail(err, otaflow.LoRaWANFailDatabase, "read the device", r.window)
	}
	rm := otaflow.RemoveChirpStackRequest{TenantID: r.in.TenantID, DevEUI: cur.LoRaWAN.DevEUI}
	if err := step(ctx, otaflow.ActivityLoRaWANRemove, r.acts.RemoveChirpStackDevice, rm, nil, r.bounded); err != nil {
		return fail(err, otaflow.LoRaWANFailUnavailable, "delete the device", r.window)
	}
	// The device is gone from ChirpStack: the database must follow, however long it takes.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := step(dctx, otaflow.ActivityLoRaWANDeleteMirror, r.acts.DeleteMirror, r.device(), nil, r.durable); err != nil {
		return fail(err, otaflow.LoRaWANFailDatabase, "delete the device record", durableWindow)
	}
	return nil
}
