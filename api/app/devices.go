package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
	"github.com/otaplane/ota/pkg/store"
)

// historyLimit caps one firmware-history answer.
const historyLimit = 200

// checkNewDevice applies the registry's rules to d and fills its defaults. It returns
// every problem in field order, so an import can report them all.
func checkNewDevice(d *model.Device) []error {
	var errs []error
	for _, err := range []error{
		model.ValidateIdent("id", d.ID),
		model.ValidateIdent("hardware_model", d.HardwareModel),
		model.ValidateVersion("firmware_version", d.FirmwareVersion),
	} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if err := model.ValidateLabels("labels", d.Labels); err != nil {
		errs = append(errs, err)
	}
	switch d.Transport {
	case "":
		d.Transport = model.TransportMQTT
	case model.TransportMQTT:
	default:
		errs = append(errs, model.Fieldf("transport", "must be %q (LoRaWAN devices are created under /api/v1/lorawan/devices)", model.TransportMQTT))
	}
	return errs
}

func (s *service) CreateDevice(ctx context.Context, t model.Tenant, d model.Device) (model.Device, error) {
	if errs := checkNewDevice(&d); len(errs) > 0 {
		return model.Device{}, errs[0]
	}
	d.TenantID = t.ID
	out, err := s.store.CreateDevice(ctx, d)
	if errors.Is(err, store.ErrConflict) {
		return model.Device{}, fmt.Errorf("device %q: %w", d.ID, ErrConflict)
	}
	return out, err
}

func (s *service) GetDevice(ctx context.Context, t model.Tenant, id string) (model.Device, error) {
	return s.store.GetDevice(ctx, t.ID, id)
}

func (s *service) ListDevices(ctx context.Context, t model.Tenant, p store.Page) ([]model.Device, error) {
	if err := checkDeviceCursor(p); err != nil {
		return nil, err
	}
	return s.store.ListDevices(ctx, t.ID, p)
}

func (s *service) DeviceHistory(ctx context.Context, t model.Tenant, id string) ([]model.FirmwareHistory, error) {
	if _, err := s.store.GetDevice(ctx, t.ID, id); err != nil {
		return nil, err
	}
	return s.store.DeviceHistory(ctx, t.ID, id, historyLimit)
}

func (s *service) policy(allowDowngrade bool) otaflow.UpdatePolicy {
	o := s.cfg.OTA
	return otaflow.UpdatePolicy{
		HeartbeatMaxAge: o.HeartbeatMaxAge, MinBatteryPercent: o.MinBatteryPercent,
		ReadyRetryWindow: o.ReadyRetryWindow, StepTimeout: o.StepTimeout, UpdateTimeout: o.UpdateTimeout,
		RollbackTimeout: o.RollbackTimeout, CommandTTL: o.CommandTTL, AllowDowngrade: allowDowngrade,
		ProbeAfter: o.StatusProbeAfter, Soak: o.Soak, SoakMaxReboots: o.SoakMaxReboots,
	}
}

func firmwareRef(fw model.Firmware) otaflow.FirmwareRef {
	return otaflow.FirmwareRef{ID: fw.ID, Version: fw.Version, HardwareModel: fw.HardwareModel,
		SHA256: fw.SHA256, SizeBytes: fw.SizeBytes}
}

func (s *service) StartDeviceUpdate(ctx context.Context, t model.Tenant, deviceID string, req DeviceUpdateRequest) (DeviceUpdateStarted, error) {
	firmwareID, allowDowngrade := req.FirmwareID, req.AllowDowngrade
	if !model.IsUUID(firmwareID) {
		return DeviceUpdateStarted{}, model.Fieldf("firmware_id", "must be a firmware id (UUID)")
	}
	overrides := otaflow.CampaignPolicy{Soak: req.Soak, SoakMaxReboots: req.SoakMaxReboots}
	if err := rollout.Validate(overrides, ""); err != nil {
		return DeviceUpdateStarted{}, err
	}
	d, err := s.store.GetDevice(ctx, t.ID, deviceID)
	if err != nil {
		return DeviceUpdateStarted{}, err
	}
	fw, err := s.store.GetFirmware(ctx, t.ID, firmwareID)
	if errors.Is(err, store.ErrNotFound) {
		return DeviceUpdateStarted{}, model.Fieldf("firmware_id", "no firmware %s in this tenant", firmwareID)
	}
	if err != nil {
		return DeviceUpdateStarted{}, err
	}
	if fw.HardwareModel != d.HardwareModel {
		return DeviceUpdateStarted{}, model.Fieldf("firmware_id", "firmware is for hardware model %q, device is %q",
			fw.HardwareModel, d.HardwareModel)
	}
	if d.Transport == model.TransportLoRaWAN {
		return s.startDeviceFUOTA(ctx, t, d, fw, allowDowngrade)
	}
	if err := s.notInGroup(ctx, t, d.ID); err != nil {
		return DeviceUpdateStarted{}, err
	}
	in := otaflow.UpdateDeviceInput{TenantID: t.ID, DeviceID: d.ID, Firmware: firmwareRef(fw),
		Policy: rollout.DevicePolicy(overrides, s.policy(allowDowngrade))}
	runID, err := s.workflows.StartDeviceUpdate(ctx, t.CadenceDomain, in)
	if err != nil {
		return DeviceUpdateStarted{}, err
	}
	return DeviceUpdateStarted{WorkflowID: otaflow.DeviceWorkflowID(d.ID), RunID: runID, DeviceID: d.ID, FirmwareID: fw.ID}, nil
}

func (s *service) DeviceUpdateState(ctx context.Context, t model.Tenant, deviceID string) (otaflow.DeviceRunState, error) {
	if _, err := s.store.GetDevice(ctx, t.ID, deviceID); err != nil {
		return otaflow.DeviceRunState{}, err
	}
	st, err := s.latestRun(ctx, t, deviceID)
	if err != nil || !otaflow.QuietProgress(st.CommandID) {
		return st, err
	}
	// The run's device reports its progress into the database, not to the run.
	p, err := s.store.RunProgress(ctx, t.ID, deviceID)
	if err != nil {
		return otaflow.DeviceRunState{}, err
	}
	return devicerun.WithRecorded(st, p), nil
}

// notInGroup refuses a single update of a device that a campaign's group is updating, as
// Cadence refuses one while the device's own run is open. It is an early answer for the
// operator: the run's own check is what keeps the device to one update.
func (s *service) notInGroup(ctx context.Context, t model.Tenant, deviceID string) error {
	c, ok, err := s.store.DeviceClaim(ctx, t.ID, deviceID)
	if err != nil || !ok || !c.Held || !otaflow.IsGroupWorkflowID(c.WorkflowID) {
		return err
	}
	// A held claim means the group is updating the device unless the group says the
	// device is done (or Cadence no longer knows the group); a group that cannot answer
	// now still holds it.
	member, err := s.workflows.QueryGroupMember(ctx, t.CadenceDomain, c.WorkflowID, c.RunID, deviceID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && member.State.Terminal()) {
		return nil
	}
	return &UpdateInProgressError{WorkflowID: c.WorkflowID, RunID: c.RunID, CampaignID: member.CampaignID}
}

// latestRun is the state of the device's latest run: its own workflow's, or its place
// in the group that claimed it last. A group releases its claim when the device's
// outcome is recorded; a single update started after that claims only once it checks
// the device, so the run that started later wins, and one still running beats a group
// member that stood aside for it.
func (s *service) latestRun(ctx context.Context, t model.Tenant, deviceID string) (otaflow.DeviceRunState, error) {
	c, ok, err := s.store.DeviceClaim(ctx, t.ID, deviceID)
	if err != nil {
		return otaflow.DeviceRunState{}, err
	}
	if !ok || !otaflow.IsGroupWorkflowID(c.WorkflowID) {
		return s.workflows.QueryDeviceRun(ctx, t.CadenceDomain, deviceID)
	}
	member, err := s.workflows.QueryGroupMember(ctx, t.CadenceDomain, c.WorkflowID, c.RunID, deviceID)
	switch {
	case c.Held:
		return member, err
	case errors.Is(err, store.ErrNotFound):
		// The group is past its retention: the device's own runs are all there is.
		return s.workflows.QueryDeviceRun(ctx, t.CadenceDomain, deviceID)
	case err != nil:
		return otaflow.DeviceRunState{}, err
	}
	own, err := s.workflows.QueryDeviceRun(ctx, t.CadenceDomain, deviceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return member, nil
	case err != nil:
		return otaflow.DeviceRunState{}, err
	}
	return laterRun(member, own), nil
}

// laterRun is, of a group member that released its device and the device's own latest
// run, the one that tells where the device stands: its own run while it is running, else
// the one that started later.
func laterRun(member, own otaflow.DeviceRunState) otaflow.DeviceRunState {
	if !own.State.Terminal() || startedAt(own).After(startedAt(member)) {
		return own
	}
	return member
}

// startedAt is when a run entered its first state.
func startedAt(st otaflow.DeviceRunState) time.Time {
	if len(st.History) == 0 {
		return time.Time{}
	}
	return st.History[0].At
}

func (s *service) UploadFirmware(ctx context.Context, t model.Tenant, up FirmwareUpload) (model.Firmware, error) {
	if err := model.ValidateVersion("version", up.Version); err != nil {
		return model.Firmware{}, err
	}
	if err := model.ValidateIdent("hardware_model", up.HardwareModel); err != nil {
		return model.Firmware{}, err
	}
	if up.Size <= 0 {
		return model.Firmware{}, model.Fieldf("file", "must not be empty")
	}
	if up.Size > s.cfg.HTTP.MaxFirmwareSize {
		return model.Firmware{}, model.Fieldf("file", "is %d bytes; the limit is %d", up.Size, s.cfg.HTTP.MaxFirmwareSize)
	}
	h := sha256.New()
	n, err := io.Copy(h, up.Image)
	if err != nil {
		return model.Firmware{}, fmt.Errorf("hash image: %w", err)
	}
	if _, err := up.Image.Seek(0, io.SeekStart); err != nil {
		return model.Firmware{}, fmt.Errorf("rewind image: %w", err)
	}
	fw := model.Firmware{ID: uuid.NewString(), TenantID: t.ID, Version: up.Version, HardwareModel: up.HardwareModel,
		SHA256: hex.EncodeToString(h.Sum(nil)), SizeBytes: n}
	release, err := s.releaseOf(ctx, fw, up)
	if err != nil {
		return model.Firmware{}, err
	}
	out, err := s.store.CreateFirmware(ctx, fw, up.Image, release)
	if errors.Is(err, store.ErrConflict) {
		return model.Firmware{}, model.Fieldf("version", "version %s for hardware model %s already exists (firmware is immutable)",
			up.Version, up.HardwareModel)
	}
	return out, err
}

func (s *service) GetFirmware(ctx context.Context, t model.Tenant, id string) (model.Firmware, error) {
	if !model.IsUUID(id) {
		return model.Firmware{}, fmt.Errorf("firmware %q: %w", id, store.ErrNotFound)
	}
	return s.store.GetFirmware(ctx, t.ID, id)
}

func (s *service) ListFirmware(ctx context.Context, t model.Tenant, p store.Page) ([]model.Firmware, error) {
	if err := checkUUIDCursor(p, "firmware"); err != nil {
		return nil, err
	}
	return s.store.ListFirmware(ctx, t.ID, p)
}

func (s *service) OpenFirmware(ctx context.Context, tenantID, id string) (model.Firmware, io.ReadSeekCloser, error) {
	if !model.IsUUID(id) {
		return model.Firmware{}, nil, fmt.Errorf("firmware %q: %w", id, store.ErrNotFound)
	}
	fw, err := s.store.GetFirmware(ctx, tenantID, id)
	if err != nil {
		return model.Firmware{}, nil, err
	}
	r, err := s.store.OpenFirmware(ctx, fw)
	return fw, r, err
}

func (s *service) OpenDeviceFirmware(ctx context.Context, tenantID, deviceID, id string) (model.Firmware, io.ReadSeekCloser, error) {
	if !model.IsUUID(id) {
		return model.Firmware{}, nil, fmt.Errorf("firmware %q: %w", id, store.ErrNotFound)
	}
	fw, err := s.store.GetFirmware(ctx, tenantID, id)
	if err != nil {
		return model.Firmware{}, nil, err
	}
	d, err := s.store.GetDevice(ctx, tenantID, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return model.Firmware{}, nil, model.Fieldf("device", "device %q is no longer registered", deviceID)
	}
	if err != nil {
		return model.Firmware{}, nil, err
	}
	if d.HardwareModel != fw.HardwareModel {
		return model.Firmware{}, nil, model.Fieldf("device", "device %q is a %s, the image is for %s",
			deviceID, d.HardwareModel, fw.HardwareModel)
	}
	r, err := s.store.OpenFirmware(ctx, fw)
	return fw, r, err
}

// startDeviceFUOTA runs a one-device FUOTA deployment for a LoRaWAN device.
func (s *service) startDeviceFUOTA(ctx context.Context, t model.Tenant, d model.Device, fw model.Firmware, allowDowngrade bool) (DeviceUpdateStarted, error) {
	rec, err := s.store.GetLoRaWANDevice(ctx, t.ID, d.ID)
	if err != nil {
		return DeviceUpdateStarted{}, err
	}
	params, policy := s.fuotaSettings(nil)
	policy.AllowDowngrade = allowDowngrade
	in := otaflow.FUOTAInput{TenantID: t.ID, Firmware: firmwareRef(fw), DeviceProfileID: rec.LoRaWAN.DeviceProfileID,
		ApplicationID: rec.LoRaWAN.ApplicationID, Params: params, Policy: policy,
		Devices: []otaflow.FUOTADevice{{DeviceID: d.ID, DevEUI: rec.LoRaWAN.DevEUI}}}
	runID, err := s.workflows.StartDeviceFUOTA(ctx, t.CadenceDomain, in)
	if err != nil {
		return DeviceUpdateStarted{}, err
	}
	return DeviceUpdateStarted{WorkflowID: otaflow.DeviceWorkflowID(d.ID), RunID: runID, DeviceID: d.ID, FirmwareID: fw.ID}, nil
}
