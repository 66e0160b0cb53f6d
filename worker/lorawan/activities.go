package lorawan

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
	"go.uber.org/cadence"
	"go.uber.org/cadence/activity"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/worker/chirpstack"
)

// defaultCallTimeout bounds a ChirpStack call when Activities.CallTimeout is unset.
const defaultCallTimeout = 10 * time.Second

// Store is the part of the store the LoRaWAN activities use.
type Store interface {
	GetChirpStackSettings(ctx context.Context, tenantID string) (model.ChirpStackSettings, error)
	CreateLoRaWANDevice(ctx context.Context, d model.Device, l model.LoRaWANDevice) (model.LoRaWANDeviceRecord, error)
	GetLoRaWANDevice(ctx context.Context, tenantID, deviceID string) (model.LoRaWANDeviceRecord, error)
	LoRaWANDeviceByEUI(ctx context.Context, tenantID, devEUI string) (model.LoRaWANDeviceRecord, error)
	ListLoRaWANDevices(ctx context.Context, tenantID string, p store.Page) ([]model.LoRaWANDeviceRecord, error)
	UpdateLoRaWANDevice(ctx context.Context, tenantID, deviceID string, u store.LoRaWANUpdate) (model.LoRaWANDeviceRecord, error)
	DeleteDevice(ctx context.Context, tenantID, deviceID string) error
}

// ClientSource gives the client for a tenant's ChirpStack (*chirpstack.Clients).
type ClientSource interface {
	For(s model.ChirpStackSettings) (*chirpstack.Client, error)
}

// Activities holds the dependencies of the LoRaWAN activities. Every activity is
// idempotent: a retry after a lost answer finds its own earlier work and succeeds.
type Activities struct {
	Store   Store
	Clients ClientSource
	// KeySecret opens the sealed app keys of workflow inputs (firmware.url_signing_key).
	KeySecret   string
	CallTimeout time.Duration
}

func failure(reason string, f otaflow.LoRaWANFailure) error { return cadence.NewCustomError(reason, f) }

func transientDB(what string, err error) error {
	return failure(otaflow.LoRaWANFailTransient, otaflow.LoRaWANFailure{Message: what + ": " + err.Error()})
}

// chirpStackError turns a ChirpStack error into a permanent or a retryable failure.
// NotFound and AlreadyExists mean different things per call; callers handle them first.
func chirpStackError(what string, err error) error {
	st := status.Convert(err)
	f := otaflow.LoRaWANFailure{Code: st.Code().String()}
	if !chirpstack.Permanent(err) {
		f.Message = fmt.Sprintf("ChirpStack %s: %s (%s)", what, st.Message(), st.Code())
		return failure(otaflow.LoRaWANFailTransient, f)
	}
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		f.Field = "settings"
		f.Message = fmt.Sprintf("ChirpStack refused the API token of the settings (%s): %s", st.Code(), st.Message())
	default:
		f.Field = fieldOf(st.Message())
		f.Message = fmt.Sprintf("ChirpStack rejected %s: %s", what, st.Message())
	}
	return failure(otaflow.LoRaWANFailRejected, f)
}

// fieldOf guesses which request field a ChirpStack message is about.
func fieldOf(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "device profile"), strings.Contains(m, "device-profile"), strings.Contains(m, "device_profile"):
		return "device_profile_id"
	case strings.Contains(m, "join_eui"), strings.Contains(m, "joineui"), strings.Contains(m, "join eui"):
		return "join_eui"
	case strings.Contains(m, "dev_eui"), strings.Contains(m, "deveui"), strings.Contains(m, "dev eui"):
		return "dev_eui"
	case strings.Contains(m, "key"):
		return "app_key"
	case strings.Contains(m, "application"), strings.Contains(m, "tenant"):
		return "settings"
	case strings.Contains(m, "name"):
		return "name"
	}
	return ""
}

func (a *Activities) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := a.CallTimeout
	if d <= 0 {
		d = defaultCallTimeout
	}
	return context.WithTimeout(ctx, d)
}

// client reads the tenant's settings on every call, so a changed token or address
// applies to the next step.
func (a *Activities) client(ctx context.Context, tenantID string) (*chirpstack.Client, model.ChirpStackSettings, error) {
	s, err := a.Store.GetChirpStackSettings(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, s, failure(otaflow.LoRaWANFailNotConfigured, otaflow.LoRaWANFailure{Field: "settings",
			Message: "ChirpStack settings are not configured (PUT /api/v1/lorawan/settings)"})
	}
	if errors.Is(err, store.ErrSecretUnreadable) {
		return nil, s, failure(otaflow.LoRaWANFailNotConfigured, otaflow.LoRaWANFailure{Field: "settings",
			Message: "the stored ChirpStack API token cannot be opened with this secrets.encryption_key: save the settings again with api_token"})
	}
	if err != nil {
		return nil, s, transientDB("read ChirpStack settings", err)
	}
	cl, err := a.Clients.For(s)
	if err != nil {
		return nil, s, failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "settings",
			Message: fmt.Sprintf("ChirpStack API address %q is unusable: %v", s.APIAddress, err)})
	}
	return cl, s, nil
}

func (a *Activities) getDevice(ctx context.Context, cl *chirpstack.Client, devEUI string) (*api.Device, error) {
	cctx, cancel := a.callContext(ctx)
	defer cancel()
	resp, err := cl.Devices.Get(cctx, &api.GetDeviceRequest{DevEui: devEUI})
	if err != nil {
		return nil, err
	}
	return resp.GetDevice(), nil
}

// CreateChirpStackDevice is lorawan_create_device. The device profile must exist and
// be LoRaWAN 1.0.x (one root key). A device with this DevEUI already in the tenant's
// application counts as created: by an earlier attempt when it carries our device-id
// tag, otherwise it is adopted and set to the requested name and profile, and the
// result says so (compensation then restores it instead of deleting it).
func (a *Activities) CreateChirpStackDevice(ctx context.Context, req otaflow.CreateChirpStackRequest) (otaflow.CreateChirpStackResult, error) {
	cl, s, err := a.client(ctx, req.TenantID)
	if err != nil {
		return otaflow.CreateChirpStackResult{}, err
	}
	if err := a.checkProfile(ctx, cl, s, req.DeviceProfileID); err != nil {
		return otaflow.CreateChirpStackResult{}, err
	}
	dev := &api.Device{DevEui: req.DevEUI, Name: req.Name, ApplicationId: s.ApplicationID,
		DeviceProfileId: req.DeviceProfileID, JoinEui: req.JoinEUI, Tags: maps.Clone(req.Tags),
		Description: "managed by otaplane (device " + req.DeviceID + ")"}
	cctx, cancel := a.callContext(ctx)
	_, err = cl.Devices.Create(cctx, &api.CreateDeviceRequest{Device: dev})
	cancel()
	res := otaflow.CreateChirpStackResult{ApplicationID: s.ApplicationID}
	switch chirpstack.Code(err) {
	case codes.OK:
		return res, nil
	case codes.NotFound:
		return res, failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "settings", Code: codes.NotFound.String(),
			Message: fmt.Sprintf("ChirpStack application %s of the settings does not exist", s.ApplicationID)})
	case codes.AlreadyExists:
	default:
		return res, chirpStackError("the device", err)
	}

	existing, err := a.getDevice(ctx, cl, req.DevEUI)
	if err != nil {
		return res, chirpStackError("reading the existing device", err)
	}
	if existing.GetApplicationId() != s.ApplicationID {
		return res, failure(otaflow.LoRaWANFailConflict, otaflow.LoRaWANFailure{Field: "dev_eui", Code: codes.AlreadyExists.String(),
			Message: fmt.Sprintf("DevEUI %s is registered in another ChirpStack application", req.DevEUI)})
	}
	switch owner := existing.GetTags()[otaflow.TagDeviceID]; owner {
	case req.DeviceID:
		return res, nil
	case "":
	default:
		return res, failure(otaflow.LoRaWANFailConflict, otaflow.LoRaWANFailure{Field: "dev_eui", Code: codes.AlreadyExists.String(),
			Message: fmt.Sprintf("DevEUI %s belongs to the ChirpStack device created for device %q", req.DevEUI, owner)})
	}
	res.Existed = true
	res.Previous = &otaflow.ChirpStackDevice{DevEUI: existing.GetDevEui(), Name: existing.GetName(),
		DeviceProfileID: existing.GetDeviceProfileId(), Tags: maps.Clone(existing.GetTags())}
	activity.GetLogger(ctx).Info("adopting a ChirpStack device that already existed", zap.String("dev_eui", req.DevEUI),
		zap.String("device_id", req.DeviceID))
	existing.Name = req.Name
	existing.DeviceProfileId = req.DeviceProfileID
	if existing.Tags == nil {
		existing.Tags = map[string]string{}
	}
	for k, v := range req.Tags {
		if k != otaflow.TagDeviceID {
			existing.Tags[k] = v
		}
	}
	cctx, cancel = a.callContext(ctx)
	defer cancel()
	if _, err := cl.Devices.Update(cctx, &api.UpdateDeviceRequest{Device: existing}); err != nil {
		return res, chirpStackError("updating the existing device", err)
	}
	return res, nil
}

// checkProfile: one OTAA key is a LoRaWAN 1.0.x root key; 1.1 devices need two.
func (a *Activities) checkProfile(ctx context.Context, cl *chirpstack.Client, s model.ChirpStackSettings, profileID string) error {
	cctx, cancel := a.callContext(ctx)
	defer cancel()
	resp, err := cl.Profile.Get(cctx, &api.GetDeviceProfileRequest{Id: profileID})
	switch chirpstack.Code(err) {
	case codes.OK:
	case codes.NotFound:
		return failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "device_profile_id", Code: codes.NotFound.String(),
			Message: fmt.Sprintf("ChirpStack has no device profile %s", profileID)})
	default:
		return chirpStackError("reading the device profile", err)
	}
	p := resp.GetDeviceProfile()
	if p.GetTenantId() != "" && !strings.EqualFold(p.GetTenantId(), s.ChirpStackTenantID) {
		return failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "device_profile_id",
			Message: fmt.Sprintf("device profile %s belongs to another ChirpStack tenant", profileID)})
	}
	if p.GetMacVersion() == common.MacVersion_LORAWAN_1_1_0 {
		return failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "device_profile_id",
			Message: "device profile is LoRaWAN 1.1, which needs separate network and application root keys; only LoRaWAN 1.0.x devices (one app_key) are supported"})
	}
	if !p.GetSupportsOtaa() {
		return failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "device_profile_id",
			Message: "device profile does not support OTAA, which app_key is for"})
	}
	return nil
}

// SetKeys is lorawan_set_keys: the OTAA root key. LoRaWAN 1.0.x devices use
// ChirpStack's nwk_key field for their AppKey.
func (a *Activities) SetKeys(ctx context.Context, req otaflow.SetKeysRequest) error {
	appKey, err := otaflow.OpenAppKey(a.KeySecret, req.DevEUI, req.SealedAppKey)
	if err != nil {
		return failure(otaflow.LoRaWANFailRejected, otaflow.LoRaWANFailure{Field: "app_key",
			Message: "the app key cannot be read by the worker (firmware.url_signing_key differs between api and worker)"})
	}
	cl, _, err := a.client(ctx, req.TenantID)
	if err != nil {
		return err
	}
	keys := &api.DeviceKeys{DevEui: req.DevEUI, NwkKey: appKey}
	cctx, cancel := a.callContext(ctx)
	_, err = cl.Devices.CreateKeys(cctx, &api.CreateDeviceKeysRequest{DeviceKeys: keys})
	cancel()
	if chirpstack.Code(err) == codes.AlreadyExists {
		cctx, cancel = a.callContext(ctx)
		_, err = cl.Devices.UpdateKeys(cctx, &api.UpdateDeviceKeysRequest{DeviceKeys: keys})
		cancel()
	}
	switch chirpstack.Code(err) {
	case codes.OK:
		return nil
	case codes.NotFound:
		return failure(otaflow.LoRaWANFailDrift, otaflow.LoRaWANFailure{Field: "dev_eui", Code: codes.NotFound.String(),
			Message: fmt.Sprintf("device %s disappeared from ChirpStack while its keys were set", req.DevEUI)})
	default:
		return chirpStackError("the device keys", err)
	}
}

// MirrorDevice is lorawan_mirror_device: the devices row (transport lorawan) and its
// LoRaWAN side. The same device already mirrored counts as done.
func (a *Activities) MirrorDevice(ctx context.Context, req otaflow.MirrorRequest) (model.LoRaWANDeviceRecord, error) {
	d := req.Device
	d.TenantID = req.TenantID
	d.Transport = model.TransportLoRaWAN
	rec, err := a.Store.CreateLoRaWANDevice(ctx, d, req.LoRaWAN)
	if err == nil {
		return rec, nil
	}
	if !errors.Is(err, store.ErrConflict) {
		return rec, transientDB("mirror the device", err)
	}
	existing, gerr := a.Store.GetLoRaWANDevice(ctx, req.TenantID, d.ID)
	switch {
	case gerr == nil && existing.LoRaWAN.DevEUI == req.LoRaWAN.DevEUI:
		return existing, nil
	case gerr == nil:
		return rec, failure(otaflow.LoRaWANFailConflict, otaflow.LoRaWANFailure{Field: "id",
			Message: fmt.Sprintf("device %q already exists", d.ID)})
	case !errors.Is(gerr, store.ErrNotFound):
		return rec, transientDB("mirror the device", gerr)
	}
	// No LoRaWAN device has the id: another device has the DevEUI, or a device of
	// another transport has the id.
	if _, err := a.Store.LoRaWANDeviceByEUI(ctx, req.TenantID, req.LoRaWAN.DevEUI); err == nil {
		return rec, failure(otaflow.LoRaWANFailConflict, otaflow.LoRaWANFailure{Field: "dev_eui",
			Message: fmt.Sprintf("DevEUI %s belongs to another device", req.LoRaWAN.DevEUI)})
	}
	return rec, failure(otaflow.LoRaWANFailConflict, otaflow.LoRaWANFailure{Field: "id",
		Message: fmt.Sprintf("device %q already exists", d.ID)})
}

// RemoveChirpStackDevice is lorawan_remove_device: deletes the device from ChirpStack;
// a device already gone counts as removed. With OnlyIfCreatedFor set (compensation), a
// device that does not carry that device-id tag is left alone: it is not ours.
func (a *Activities) RemoveChirpStackDevice(ctx context.Context, req otaflow.RemoveChirpStackRequest) error {
	cl, _, err := a.client(ctx, req.TenantID)
	if err != nil {
		return err
	}
	if req.OnlyIfCreatedFor != "" {
		dev, err := a.getDevice(ctx, cl, req.DevEUI)
		switch {
		case chirpstack.Code(err) == codes.NotFound:
			return nil
		case err != nil:
			return chirpStackError("reading the device", err)
		case dev.GetTags()[otaflow.TagDeviceID] != req.OnlyIfCreatedFor:
			activity.GetLogger(ctx).Info("ChirpStack device left alone: not created for this device",
				zap.String("dev_eui", req.DevEUI), zap.String("device_id", req.OnlyIfCreatedFor))
			return nil
		}
	}
	cctx, cancel := a.callContext(ctx)
	defer cancel()
	_, err = cl.Devices.Delete(cctx, &api.DeleteDeviceRequest{DevEui: req.DevEUI})
	if err == nil || chirpstack.Code(err) == codes.NotFound {
		return nil
	}
	return chirpStackError("deleting the device", err)
}

// LoadDevice is lorawan_load_device: the mirrored record.
func (a *Activities) LoadDevice(ctx context.Context, req otaflow.ChirpStackDeviceRequest) (model.LoRaWANDeviceRecord, error) {
	rec, err := a.Store.GetLoRaWANDevice(ctx, req.TenantID, req.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return rec, failure(otaflow.LoRaWANFailNotFound, otaflow.LoRaWANFailure{Field: "id",
			Message: fmt.Sprintf("no LoRaWAN device %q", req.DeviceID)})
	}
	if err != nil {
		return rec, transientDB("read the device", err)
	}
	return rec, nil
}

func driftError(devEUI string) error {
	return failure(otaflow.LoRaWANFailDrift, otaflow.LoRaWANFailure{Field: "id", Code: codes.NotFound.String(),
		Message: fmt.Sprintf("device %s is in the database but not in ChirpStack; POST /api/v1/lorawan/reconcile reports such drift", devEUI)})
}

// GetChirpStackDevice is lorawan_get_device: what an update may change, recorded so
// compensation can restore it.
func (a *Activities) GetChirpStackDevice(ctx context.Context, req otaflow.ChirpStackDeviceRequest) (otaflow.ChirpStackDevice, error) {
	cl, _, err := a.client(ctx, req.TenantID)
	if err != nil {
		return otaflow.ChirpStackDevice{}, err
	}
	dev, err := a.getDevice(ctx, cl, req.DevEUI)
	switch {
	case chirpstack.Code(err) == codes.NotFound:
		return otaflow.ChirpStackDevice{}, driftError(req.DevEUI)
	case err != nil:
		return otaflow.ChirpStackDevice{}, chirpStackError("reading the device", err)
	}
	return otaflow.ChirpStackDevice{DevEUI: dev.GetDevEui(), Name: dev.GetName(),
		DeviceProfileID: dev.GetDeviceProfileId(), Tags: maps.Clone(dev.GetTags())}, nil
}

// PatchChirpStackDevice is lorawan_patch_device: sets the given fields and tags (an
// empty tag value removes the tag) and keeps the rest of the device as it is.
func (a *Activities) PatchChirpStackDevice(ctx context.Context, req otaflow.PatchChirpStackRequest) error {
	cl, _, err := a.client(ctx, req.TenantID)
	if err != nil {
		return err
	}
	dev, err := a.getDevice(ctx, cl, req.DevEUI)
	switch {
	case chirpstack.Code(err) == codes.NotFound:
		return driftError(req.DevEUI)
	case err != nil:
		return chirpStackError("reading the device", err)
	}
	if req.Name != nil {
		dev.Name = *req.Name
	}
	if req.DeviceProfileID != nil {
		dev.DeviceProfileId = *req.DeviceProfileID
	}
	if len(req.Tags) > 0 && dev.Tags == nil {
		dev.Tags = map[string]string{}
	}
	for k, v := range req.Tags {
		if v == "" {
			delete(dev.Tags, k)
		} else {
			dev.Tags[k] = v
		}
	}
	cctx, cancel := a.callContext(ctx)
	defer cancel()
	_, err = cl.Devices.Update(cctx, &api.UpdateDeviceRequest{Device: dev})
	switch chirpstack.Code(err) {
	case codes.OK:
		return nil
	case codes.NotFound:
		return driftError(req.DevEUI)
	default:
		return chirpStackError("the device update", err)
	}
}

// UpdateMirror is lorawan_update_mirror.
func (a *Activities) UpdateMirror(ctx context.Context, req otaflow.UpdateMirrorRequest) (model.LoRaWANDeviceRecord, error) {
	rec, err := a.Store.UpdateLoRaWANDevice(ctx, req.TenantID, req.DeviceID, store.LoRaWANUpdate{
		DeviceProfileID: req.Change.DeviceProfileID, HardwareModel: req.Change.HardwareModel, Labels: req.Change.Labels})
	if errors.Is(err, store.ErrNotFound) {
		return rec, failure(otaflow.LoRaWANFailNotFound, otaflow.LoRaWANFailure{Field: "id",
			Message: fmt.Sprintf("no LoRaWAN device %q", req.DeviceID)})
	}
	if err != nil {
		return rec, transientDB("update the device", err)
	}
	return rec, nil
}

// DeleteMirror is lorawan_delete_mirror; a device already gone counts as deleted.
func (a *Activities) DeleteMirror(ctx context.Context, req otaflow.ChirpStackDeviceRequest) error {
	err := a.Store.DeleteDevice(ctx, req.TenantID, req.DeviceID)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return transientDB("delete the device", err)
}
