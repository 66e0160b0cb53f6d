// Package fuota holds LORAWAN_FUOTA_DEPLOYMENT: a firmware update of LoRaWAN devices
// through ChirpStack's FUOTA service, followed step by step and confirmed by each
// device's next uplink. Its state lives in Cadence's history, so a worker crash in the
// middle resumes where it was.
package fuota

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"go.uber.org/cadence"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/worker/chirpstack"
)

// Store is the part of the store the FUOTA activities use.
type Store interface {
	GetChirpStackSettings(ctx context.Context, tenantID string) (model.ChirpStackSettings, error)
	GetFirmware(ctx context.Context, tenantID, firmwareID string) (model.Firmware, error)
	OpenFirmware(ctx context.Context, fw model.Firmware) (io.ReadSeekCloser, error)
	DevicesByID(ctx context.Context, tenantID string, ids []string) ([]model.Device, error)
	AdvanceCampaignDevice(ctx context.Context, tenantID, campaignID, deviceID string, state model.DeviceState, reason, workflowID, runID string) error
	RecordOutcome(ctx context.Context, r otaflow.OutcomeRequest) error
}

// Activities holds the FUOTA activities' dependencies.
type Activities struct {
	Store   Store
	Clients *chirpstack.Clients
	// MaxPayload bounds an image sent over LoRaWAN multicast.
	MaxPayload int64
	Now        func() time.Time
	Logger     *zap.Logger
}

// Error reasons; permanent ones are not retried.
const (
	ErrReasonChirpStack = "chirpstack_rejected"
	ErrReasonPayload    = "payload_too_large"
	ErrReasonSettings   = "chirpstack_not_configured"
)

var permanentReasons = []string{ErrReasonChirpStack, ErrReasonPayload, ErrReasonSettings}

// permanent turns a gRPC error ChirpStack will repeat into a non-retryable one.
func permanent(op string, err error) error {
	if err == nil {
		return nil
	}
	if chirpstack.Permanent(err) {
		return cadence.NewCustomError(ErrReasonChirpStack, fmt.Sprintf("%s: %v", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (a *Activities) client(ctx context.Context, tenantID string) (*chirpstack.Client, model.ChirpStackSettings, error) {
	s, err := a.Store.GetChirpStackSettings(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, s, cadence.NewCustomError(ErrReasonSettings, "tenant has no ChirpStack settings")
	}
	if errors.Is(err, store.ErrSecretUnreadable) {
		return nil, s, cadence.NewCustomError(ErrReasonSettings,
			"the stored ChirpStack API token cannot be opened with this secrets.encryption_key: save the settings again with api_token")
	}
	if err != nil {
		return nil, s, err
	}
	c, err := a.Clients.For(s)
	return c, s, err
}

// PrepareRequest is the input of fuota_prepare.
type PrepareRequest struct {
	Input otaflow.FUOTAInput
	// Name identifies the deployment in ChirpStack; a retried activity finds it again.
	Name   string
	Policy otaflow.UpdatePolicy
}

// Prepared is the output of fuota_prepare.
type Prepared struct {
	DeploymentID string
	// Eligible devices were added to the deployment; Rejected (same order as the input,
	// "" = eligible) says why the others were left out.
	Rejected []string
	From     []string
}

// Prepare is fuota_prepare: check each device (check_device_ready's rules, on uplink
// state), create the deployment with the image and add the eligible devices.
func (a *Activities) Prepare(ctx context.Context, req PrepareRequest) (Prepared, error) {
	in := req.Input
	out := Prepared{Rejected: make([]string, len(in.Devices)), From: make([]string, len(in.Devices))}
	ids := make([]string, len(in.Devices))
	for i, d := range in.Devices {
		ids[i] = d.DeviceID
	}
	devs, err := a.Store.DevicesByID(ctx, in.TenantID, ids)
	if err != nil {
		return out, err
	}
	byID := make(map[string]model.Device, len(devs))
	for _, d := range devs {
		byID[d.ID] = d
	}
	var eligible []string
	for i, d := range in.Devices {
		dev, ok := byID[d.DeviceID]
		if !ok {
			out.Rejected[i] = otaflow.ReasonDeviceNotFound
			continue
		}
		check := devicerun.Readiness(dev, in.Firmware, req.Policy, a.Now())
		out.From[i] = check.CurrentVersion
		switch {
		case check.ReportsTarget && check.Reason != otaflow.ReasonHardwareMismatch:
			out.Rejected[i] = otaflow.ReasonAlreadyOnTarget
		case !check.Ready:
			out.Rejected[i] = check.Reason
		default:
			eligible = append(eligible, d.DevEUI)
		}
	}
	if len(eligible) == 0 {
		return out, nil
	}
	c, settings, err := a.client(ctx, in.TenantID)
	if err != nil {
		return out, err
	}
	if in.ApplicationID == "" {
		in.ApplicationID = settings.ApplicationID
		req.Input = in
	}
	id, err := a.findDeployment(ctx, c, in.ApplicationID, req.Name)
	if err != nil {
		return out, err
	}
	if id == "" {
		if id, err = a.createDeployment(ctx, c, req); err != nil {
			return out, err
		}
	}
	_, err = c.Fuota.AddDevices(ctx, &api.AddDevicesToFuotaDeploymentRequest{FuotaDeploymentId: id, DevEuis: eligible})
	if err != nil && chirpstack.Code(err) != codes.AlreadyExists {
		return out, permanent("add devices to deployment", err)
	}
	out.DeploymentID = id
	return out, nil
}

func (a *Activities) findDeployment(ctx context.Context, c *chirpstack.Client, appID, name string) (string, error) {
	const page = 100
	for offset := uint32(0); ; offset += page {
		res, err := c.Fuota.ListDeployments(ctx, &api.ListFuotaDeploymentsRequest{ApplicationId: appID, Limit: page, Offset: offset})
		if err != nil {
			return "", permanent("list deployments", err)
		}
		for _, d := range res.GetResult() {
			if d.GetName() == name {
				return d.GetId(), nil
			}
		}
		if len(res.GetResult()) < page {
			return "", nil
		}
	}
}

func (a *Activities) createDeployment(ctx context.Context, c *chirpstack.Client, req PrepareRequest) (string, error) {
	in := req.Input
	fw, err := a.Store.GetFirmware(ctx, in.TenantID, in.Firmware.ID)
	if err != nil {
		return "", err
	}
	if fw.SizeBytes > a.MaxPayload {
		return "", cadence.NewCustomError(ErrReasonPayload,
			fmt.Sprintf("image is %d bytes; FUOTA images are limited to %d", fw.SizeBytes, a.MaxPayload))
	}
	r, err := a.Store.OpenFirmware(ctx, fw)
	if err != nil {
		return "", err
	}
	defer r.Close()
	payload, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("read image: %w", err)
	}
	dep := deploymentSpec(in, req.Name, payload)
	res, err := c.Fuota.CreateDeployment(ctx, &api.CreateFuotaDeploymentRequest{Deployment: dep})
	if err != nil {
		return "", permanent("create deployment", err)
	}
	a.Logger.Info("fuota deployment created", zap.String("tenant_id", in.TenantID), zap.String("campaign_id", in.CampaignID),
		zap.String("deployment_id", res.GetId()), zap.Int("devices", len(in.Devices)), zap.Int("payload_bytes", len(payload)))
	return res.GetId(), nil
}

// Defaults for a deployment when the campaign leaves them out: Class C multicast at
// EU868's RX2 settings, fragment size computed by ChirpStack from the data rate, 20 %
// redundancy, and a fragmentation status request after the fragments are enqueued.
const (
	defaultDataRate     = 5
	defaultFrequency    = 869525000
	defaultTimeoutExp   = 6 // 2^6 s Class C session
	defaultRedundancy   = 20
	defaultUnicastTries = 2
)

func deploymentSpec(in otaflow.FUOTAInput, name string, payload []byte) *api.FuotaDeployment {
	p := in.Params
	dep := &api.FuotaDeployment{
		ApplicationId:                     in.ApplicationID,
		DeviceProfileId:                   in.DeviceProfileID,
		Name:                              name,
		MulticastGroupType:                api.MulticastGroupType_CLASS_C,
		MulticastDr:                       uint32(orDefault(p.DataRate, defaultDataRate)),
		MulticastFrequency:                uint32(orDefault(p.Frequency, defaultFrequency)),
		MulticastTimeout:                  uint32(orDefault(p.MulticastTimeout, defaultTimeoutExp)),
		UnicastMaxRetryCount:              uint32(orDefault(p.UnicastMaxRetries, defaultUnicastTries)),
		FragmentationRedundancyPercentage: uint32(orDefault(p.RedundancyPercent, defaultRedundancy)),
		RequestFragmentationSessionStatus: api.RequestFragmentationSessionStatus_AFTER_FRAGMENT_ENQUEUE,
		Payload:                           payload,
		OnCompleteSetDeviceTags:           map[string]string{"firmware_version": in.Firmware.Version},
	}
	if strings.EqualFold(p.MulticastClass, "B") {
		dep.MulticastGroupType = api.MulticastGroupType_CLASS_B
		dep.MulticastClassBPingSlotPeriodicity = uint32(p.PingSlotPeriod)
	}
	if p.FragmentSize > 0 {
		dep.FragmentationFragmentSize = uint32(p.FragmentSize)
	} else {
		dep.CalculateFragmentationFragmentSize = true
		// ChirpStack computes the size from the data rate; this is the EU868 DR5 value
		// for servers that want one anyway.
		dep.FragmentationFragmentSize = 232
	}
	return dep
}

func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

// TenantDeployment names one deployment of one tenant.
type TenantDeployment struct {
	TenantID     string
	DeploymentID string
}

// Start is fuota_start; a deployment already started counts as started.
func (a *Activities) Start(ctx context.Context, req TenantDeployment) error {
	c, _, err := a.client(ctx, req.TenantID)
	if err != nil {
		return err
	}
	_, err = c.Fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: req.DeploymentID})
	if err != nil && chirpstack.Code(err) != codes.FailedPrecondition {
		return permanent("start deployment", err)
	}
	return nil
}

// Status is fuota_status: where ChirpStack says every device is.
func (a *Activities) Status(ctx context.Context, req TenantDeployment) (otaflow.FUOTAStatus, error) {
	c, _, err := a.client(ctx, req.TenantID)
	if err != nil {
		return otaflow.FUOTAStatus{}, err
	}
	dep, err := c.Fuota.GetDeployment(ctx, &api.GetFuotaDeploymentRequest{Id: req.DeploymentID})
	if err != nil {
		return otaflow.FUOTAStatus{}, permanent("get deployment", err)
	}
	out := otaflow.FUOTAStatus{DeploymentID: req.DeploymentID, Completed: dep.GetCompletedAt() != nil}
	const page = 500
	for offset := uint32(0); ; offset += page {
		res, err := c.Fuota.ListDevices(ctx, &api.ListFuotaDeploymentDevicesRequest{FuotaDeploymentId: req.DeploymentID,
			Limit: page, Offset: offset})
		if err != nil {
			return otaflow.FUOTAStatus{}, permanent("list deployment devices", err)
		}
		for _, d := range res.GetResult() {
			out.Devices = append(out.Devices, deviceStatus(d))
		}
		if len(res.GetResult()) < page {
			return out, nil
		}
	}
}

// deviceStatus maps ChirpStack's per-device step timestamps onto the device states every
// transport shares: setting up = DOWNLOADING, fragments sent = INSTALLING, deployment
// done = VERIFYING (until the device's own uplink confirms the version).
func deviceStatus(d *api.FuotaDeploymentDeviceListItem) otaflow.FUOTADeviceStatus {
	st := otaflow.FUOTADeviceStatus{DevEUI: strings.ToLower(d.GetDevEui()), Error: d.GetErrorMsg()}
	set := func(t *timestamppb.Timestamp) bool { return t != nil && t.IsValid() && t.AsTime().Unix() > 0 }
	switch {
	case st.Error != "":
		st.State = model.StateFailed
		if strings.Contains(strings.ToLower(st.Error), "timeout") {
			st.State = model.StateTimedOut
		}
	case set(d.GetCompletedAt()):
		st.State, st.Completed = model.StateVerifying, true
	case set(d.GetFragStatusCompletedAt()), set(d.GetMcSessionCompletedAt()):
		st.State = model.StateInstalling
	case set(d.GetFragSessionSetupCompletedAt()), set(d.GetMcGroupSetupCompletedAt()):
		st.State = model.StateDownloading
	default:
		st.State = model.StateCommanded
	}
	return st
}

// ProgressRequest records device states of a campaign's deployment for status counts.
type ProgressRequest struct {
	TenantID   string
	CampaignID string
	WorkflowID string
	RunID      string
	DeviceIDs  []string
	States     []model.DeviceState
}

// Progress is fuota_progress (writes only move devices forward).
func (a *Activities) Progress(ctx context.Context, req ProgressRequest) error {
	if req.CampaignID == "" {
		return nil
	}
	for i, id := range req.DeviceIDs {
		if err := a.Store.AdvanceCampaignDevice(ctx, req.TenantID, req.CampaignID, id, req.States[i], "",
			req.WorkflowID, req.RunID); err != nil {
			return err
		}
	}
	return nil
}

// ConfirmRequest asks which devices now report Version in an uplink after Since.
type ConfirmRequest struct {
	TenantID  string
	DeviceIDs []string
	Version   string
	Since     time.Time
}

// Confirm is fuota_confirm_versions: true for each device whose uplink reported the
// target version after the deployment finished.
func (a *Activities) Confirm(ctx context.Context, req ConfirmRequest) ([]bool, error) {
	devs, err := a.Store.DevicesByID(ctx, req.TenantID, req.DeviceIDs)
	if err != nil {
		return nil, err
	}
	ok := make(map[string]bool, len(devs))
	for _, d := range devs {
		ok[d.ID] = d.ReportedVersion == req.Version && d.LastSeenAt != nil && !d.LastSeenAt.Before(req.Since)
	}
	out := make([]bool, len(req.DeviceIDs))
	for i, id := range req.DeviceIDs {
		out[i] = ok[id]
	}
	return out, nil
}

// Record is fuota_record: each device's outcome in one transaction per device.
func (a *Activities) Record(ctx context.Context, outcomes []otaflow.OutcomeRequest) error {
	for _, o := range outcomes {
		if err := a.Store.RecordOutcome(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup is fuota_cleanup: remove the deployment from ChirpStack (stops a running one).
func (a *Activities) Cleanup(ctx context.Context, req TenantDeployment) error {
	c, _, err := a.client(ctx, req.TenantID)
	if err != nil {
		return err
	}
	_, err = c.Fuota.DeleteDeployment(ctx, &api.DeleteFuotaDeploymentRequest{Id: req.DeploymentID})
	if err != nil && chirpstack.Code(err) != codes.NotFound {
		return permanent("delete deployment", err)
	}
	return nil
}
