package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

// Settings defaults and bounds.
const (
	defaultEventEncoding = "json"
	defaultVersionFPort  = 10
	// maxVersionFPort keeps the version fPort below the FUOTA packages' ports (200, 201).
	maxVersionFPort = 199
	maxTokenLength  = 4096
)

// LoRaWAN failure reasons the API adds to the workflows' (otaflow.LoRaWANFail*).
const (
	// ReasonOperationInProgress: another operation on the device is running.
	ReasonOperationInProgress = "operation_in_progress"
	// ReasonOperationFailed: the run ended without a result (terminated, timed out).
	ReasonOperationFailed = "operation_failed"
)

// LoRaWANError is a LoRaWAN operation that failed for a reason the client can act on.
// Reason is one of otaflow.LoRaWANFail* or the Reason* constants above.
type LoRaWANError struct {
	Reason  string
	Message string
	Field   string
	// Workflow is the run that failed or is in the way, when there is one.
	Workflow WorkflowRef
}

func (e *LoRaWANError) Error() string { return e.Message }

// WorkflowRef names one workflow run.
type WorkflowRef struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
}

// LoRaWANWorkflows is the API's view of the LoRaWAN workflows: start, and wait a
// bounded time for the result.
type LoRaWANWorkflows interface {
	// StartLoRaWANDeviceSync starts one operation on a device; a *LoRaWANError with
	// ReasonOperationInProgress when one is running.
	StartLoRaWANDeviceSync(ctx context.Context, domain string, in otaflow.LoRaWANDeviceInput) (WorkflowRef, error)
	// AwaitLoRaWANDeviceSync waits up to wait for the run; done is false while it runs.
	// A failed run is a *LoRaWANError.
	AwaitLoRaWANDeviceSync(ctx context.Context, domain string, ref WorkflowRef, wait time.Duration) (res otaflow.LoRaWANDeviceResult, done bool, err error)
	// EnsureReconcileSchedule starts the tenant's reconcile cron workflow unless it runs.
	EnsureReconcileSchedule(ctx context.Context, domain string, in otaflow.ReconcileInput, cron string) (WorkflowRef, error)
	// StartReconcile starts an on-demand reconcile run, or joins the one running.
	StartReconcile(ctx context.Context, domain string, in otaflow.ReconcileInput) (WorkflowRef, error)
	AwaitReconcile(ctx context.Context, domain string, ref WorkflowRef, wait time.Duration) (rep otaflow.ReconcileReport, done bool, err error)
}

// LoRaWANService is the use cases of LoRaWAN device management. Every change to
// ChirpStack goes through a workflow; the service validates, starts it and waits a
// bounded time for its result.
type LoRaWANService interface {
	PutSettings(ctx context.Context, t model.Tenant, in LoRaWANSettingsInput) (LoRaWANSettings, error)
	GetSettings(ctx context.Context, t model.Tenant) (LoRaWANSettings, error)

	CreateDevice(ctx context.Context, t model.Tenant, d NewLoRaWANDevice) (LoRaWANOutcome, error)
	UpdateDevice(ctx context.Context, t model.Tenant, id string, c otaflow.LoRaWANChange) (LoRaWANOutcome, error)
	DeleteDevice(ctx context.Context, t model.Tenant, id string) (LoRaWANOutcome, error)
	GetDevice(ctx context.Context, t model.Tenant, id string) (model.LoRaWANDeviceRecord, error)
	ListDevices(ctx context.Context, t model.Tenant, p store.Page) ([]model.LoRaWANDeviceRecord, error)

	// Reconcile runs a reconcile now; reportOnly leaves the drift unrepaired.
	Reconcile(ctx context.Context, t model.Tenant, reportOnly bool) (ReconcileOutcome, error)
}

// LoRaWANSettingsInput is a settings request; a nil VersionFPort takes the default,
// an empty APIToken keeps the stored one.
type LoRaWANSettingsInput struct {
	APIAddress         string
	APIToken           string
	ChirpStackTenantID string
	ApplicationID      string
	EventEncoding      string
	VersionFPort       *int
}

// LoRaWANSettings answers the settings endpoints; the token is never shown.
type LoRaWANSettings struct {
	model.ChirpStackSettings
	APITokenSet bool `json:"api_token_set"`
	// APITokenProblem says why a stored token is unusable (it does not open with this
	// secrets.encryption_key); saving the settings with api_token fixes it.
	APITokenProblem string             `json:"api_token_problem,omitempty"`
	Reconcile       *ReconcileSchedule `json:"reconcile,omitempty"`
}

const unreadableToken = "the stored token cannot be opened with this secrets.encryption_key; save the settings again with api_token"

// ReconcileSchedule is the tenant's reconcile cron workflow.
type ReconcileSchedule struct {
	WorkflowRef
	CronSchedule string `json:"cron_schedule"`
}

// NewLoRaWANDevice is a create request.
type NewLoRaWANDevice struct {
	ID              string
	DevEUI          string
	JoinEUI         string
	AppKey          string
	DeviceProfileID string
	HardwareModel   string
	FirmwareVersion string
	Labels          map[string]string
	Name            string
}

// LoRaWANOutcome is a device operation's answer: done with the mirrored record (nil
// after a delete), or still running in Workflow.
type LoRaWANOutcome struct {
	Done     bool
	Device   *model.LoRaWANDeviceRecord
	Workflow WorkflowRef
}

// ReconcileOutcome is a reconcile run's report, or the run still going.
type ReconcileOutcome struct {
	Done     bool
	Report   otaflow.ReconcileReport
	Workflow WorkflowRef
}

type lorawanService struct {
	store     store.Store
	workflows LoRaWANWorkflows
	cfg       *config.Config
}

var _ LoRaWANService = (*lorawanService)(nil)

// NewLoRaWANService returns the LoRaWANService.
func NewLoRaWANService(st store.Store, wf LoRaWANWorkflows, cfg *config.Config) LoRaWANService {
	return &lorawanService{store: st, workflows: wf, cfg: cfg}
}

func (s *lorawanService) policy() otaflow.LoRaWANSyncPolicy {
	return otaflow.LoRaWANSyncPolicy{RetryWindow: s.cfg.LoRaWAN.SyncRetryWindow}
}

func notConfigured() error {
	return &LoRaWANError{Reason: otaflow.LoRaWANFailNotConfigured, Field: "settings",
		Message: "ChirpStack settings are not configured for this tenant: PUT /api/v1/lorawan/settings first"}
}

// validateToken: a ChirpStack API key travels in a gRPC metadata value, which takes
// printable ASCII only.
func validateToken(field, v string) error {
	if len(v) > maxTokenLength {
		return model.Fieldf(field, "must be at most %d characters", maxTokenLength)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return model.Fieldf(field, "must be printable ASCII without spaces")
		}
	}
	return nil
}

// checkSettings validates a request in field order and fills the defaults. A token is
// required unless one is stored already; allowLocal is lorawan.allow_local_addresses.
func checkSettings(in LoRaWANSettingsInput, tokenStored, allowLocal bool) (model.ChirpStackSettings, error) {
	out := model.ChirpStackSettings{
		APIAddress: strings.TrimSpace(in.APIAddress), APIToken: in.APIToken,
		ChirpStackTenantID: strings.ToLower(strings.TrimSpace(in.ChirpStackTenantID)),
		ApplicationID:      strings.ToLower(strings.TrimSpace(in.ApplicationID)),
		EventEncoding:      in.EventEncoding, VersionFPort: defaultVersionFPort,
	}
	if err := model.ValidateServiceAddress("api_address", out.APIAddress, allowLocal); err != nil {
		return out, err
	}
	if out.APIToken == "" && !tokenStored {
		return out, model.Fieldf("api_token", "is required (a ChirpStack API key)")
	}
	if err := validateToken("api_token", out.APIToken); err != nil {
		return out, err
	}
	if err := model.ValidateChirpStackID("chirpstack_tenant_id", out.ChirpStackTenantID); err != nil {
		return out, err
	}
	if err := model.ValidateChirpStackID("application_id", out.ApplicationID); err != nil {
		return out, err
	}
	switch out.EventEncoding {
	case "":
		out.EventEncoding = defaultEventEncoding
	case "json", "protobuf":
	default:
		return out, model.Fieldf("event_encoding", `must be "json" or "protobuf" (the MQTT integration's encoding)`)
	}
	if in.VersionFPort != nil {
		if *in.VersionFPort < 1 || *in.VersionFPort > maxVersionFPort {
			return out, model.Fieldf("version_fport", "must be from 1 to %d (200 and up are the FUOTA packages' ports)", maxVersionFPort)
		}
		out.VersionFPort = *in.VersionFPort
	}
	return out, nil
}

func (s *lorawanService) PutSettings(ctx context.Context, t model.Tenant, in LoRaWANSettingsInput) (LoRaWANSettings, error) {
	cur, err := s.store.GetChirpStackSettings(ctx, t.ID)
	unreadable := errors.Is(err, store.ErrSecretUnreadable)
	exists := err == nil || unreadable
	if err != nil && !unreadable && !errors.Is(err, store.ErrNotFound) {
		return LoRaWANSettings{}, err
	}
	if unreadable && in.APIToken == "" {
		return LoRaWANSettings{}, model.Fieldf("api_token", "is required: %s", unreadableToken)
	}
	cs, err := checkSettings(in, exists, s.cfg.LoRaWAN.AllowLocalAddresses)
	if err != nil {
		return LoRaWANSettings{}, err
	}
	if cs.APIToken == "" {
		cs.APIToken = cur.APIToken
	}
	if exists && cur.ApplicationID != cs.ApplicationID {
		// Devices belong to the application they were created in.
		devs, err := s.store.ListLoRaWANDevices(ctx, t.ID, store.Page{Limit: 1})
		if err != nil {
			return LoRaWANSettings{}, err
		}
		if len(devs) > 0 {
			return LoRaWANSettings{}, &LoRaWANError{Reason: otaflow.LoRaWANFailConflict, Field: "application_id",
				Message: fmt.Sprintf("the tenant has LoRaWAN devices in ChirpStack application %s: delete them before switching applications", cur.ApplicationID)}
		}
	}
	cs.TenantID = t.ID
	if err := s.store.PutChirpStackSettings(ctx, cs); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return LoRaWANSettings{}, &LoRaWANError{Reason: otaflow.LoRaWANFailConflict, Field: "application_id",
				Message: fmt.Sprintf("ChirpStack application %s is linked to another tenant", cs.ApplicationID)}
		}
		return LoRaWANSettings{}, err
	}
	cron := s.cfg.LoRaWAN.ReconcileCron
	ref, err := s.workflows.EnsureReconcileSchedule(ctx, t.CadenceDomain,
		otaflow.ReconcileInput{TenantID: t.ID, Policy: s.policy()}, cron)
	if err != nil {
		return LoRaWANSettings{}, fmt.Errorf("settings saved, reconcile schedule not started (repeat the request): %w", err)
	}
	saved, err := s.store.GetChirpStackSettings(ctx, t.ID)
	if err != nil {
		return LoRaWANSettings{}, err
	}
	return LoRaWANSettings{ChirpStackSettings: saved, APITokenSet: saved.APIToken != "",
		Reconcile: &ReconcileSchedule{WorkflowRef: ref, CronSchedule: cron}}, nil
}

func (s *lorawanService) GetSettings(ctx context.Context, t model.Tenant) (LoRaWANSettings, error) {
	cs, err := s.store.GetChirpStackSettings(ctx, t.ID)
	if errors.Is(err, store.ErrSecretUnreadable) {
		return LoRaWANSettings{ChirpStackSettings: cs, APITokenProblem: unreadableToken}, nil
	}
	if err != nil {
		return LoRaWANSettings{}, err
	}
	return LoRaWANSettings{ChirpStackSettings: cs, APITokenSet: cs.APIToken != ""}, nil
}

// checkNewLoRaWANDevice validates a create request in field order and normalizes it.
func checkNewLoRaWANDevice(d *NewLoRaWANDevice) error {
	if err := model.ValidateIdent("id", d.ID); err != nil {
		return err
	}
	var err error
	if d.DevEUI, err = model.NormalizeEUI("dev_eui", d.DevEUI); err != nil {
		return err
	}
	if d.JoinEUI != "" {
		if d.JoinEUI, err = model.NormalizeEUI("join_eui", d.JoinEUI); err != nil {
			return err
		}
	}
	if d.AppKey, err = model.NormalizeKey("app_key", d.AppKey); err != nil {
		return err
	}
	d.DeviceProfileID = strings.ToLower(strings.TrimSpace(d.DeviceProfileID))
	if err := model.ValidateChirpStackID("device_profile_id", d.DeviceProfileID); err != nil {
		return err
	}
	if err := model.ValidateIdent("hardware_model", d.HardwareModel); err != nil {
		return err
	}
	if err := model.ValidateVersion("firmware_version", d.FirmwareVersion); err != nil {
		return err
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if err := model.ValidateLabels("labels", d.Labels); err != nil {
		return err
	}
	if d.Name == "" {
		d.Name = d.ID
	}
	return model.ValidateName("name", d.Name)
}

func (s *lorawanService) settings(ctx context.Context, t model.Tenant) (model.ChirpStackSettings, error) {
	cs, err := s.store.GetChirpStackSettings(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return cs, notConfigured()
	}
	if errors.Is(err, store.ErrSecretUnreadable) {
		return cs, &LoRaWANError{Reason: otaflow.LoRaWANFailNotConfigured, Field: "settings",
			Message: "ChirpStack settings: " + unreadableToken}
	}
	return cs, err
}

func (s *lorawanService) CreateDevice(ctx context.Context, t model.Tenant, d NewLoRaWANDevice) (LoRaWANOutcome, error) {
	if err := checkNewLoRaWANDevice(&d); err != nil {
		return LoRaWANOutcome{}, err
	}
	if _, err := s.settings(ctx, t); err != nil {
		return LoRaWANOutcome{}, err
	}
	_, err := s.store.GetDevice(ctx, t.ID, d.ID)
	switch {
	case err == nil:
		return LoRaWANOutcome{}, &LoRaWANError{Reason: otaflow.LoRaWANFailConflict, Field: "id",
			Message: fmt.Sprintf("device %q already exists", d.ID)}
	case !errors.Is(err, store.ErrNotFound):
		return LoRaWANOutcome{}, err
	}
	other, err := s.store.LoRaWANDeviceByEUI(ctx, t.ID, d.DevEUI)
	switch {
	case err == nil:
		return LoRaWANOutcome{}, &LoRaWANError{Reason: otaflow.LoRaWANFailConflict, Field: "dev_eui",
			Message: fmt.Sprintf("DevEUI %s belongs to device %q", d.DevEUI, other.ID)}
	case !errors.Is(err, store.ErrNotFound):
		return LoRaWANOutcome{}, err
	}
	sealed, err := otaflow.SealAppKey(s.cfg.Firmware.URLSigningKey, d.DevEUI, d.AppKey)
	if err != nil {
		return LoRaWANOutcome{}, fmt.Errorf("seal app key: %w", err)
	}
	in := otaflow.LoRaWANDeviceInput{
		TenantID: t.ID, Op: otaflow.LoRaWANCreate, DeviceID: d.ID, Name: d.Name, SealedAppKey: sealed, Policy: s.policy(),
		Device: model.Device{ID: d.ID, Transport: model.TransportLoRaWAN, HardwareModel: d.HardwareModel,
			FirmwareVersion: d.FirmwareVersion, Labels: d.Labels},
		LoRaWAN: model.LoRaWANDevice{DeviceID: d.ID, DevEUI: d.DevEUI, JoinEUI: d.JoinEUI, DeviceProfileID: d.DeviceProfileID},
	}
	return s.run(ctx, t, in)
}

func (s *lorawanService) UpdateDevice(ctx context.Context, t model.Tenant, id string, c otaflow.LoRaWANChange) (LoRaWANOutcome, error) {
	if c.Labels == nil && c.HardwareModel == nil && c.DeviceProfileID == nil && c.Name == nil {
		return LoRaWANOutcome{}, model.Fieldf("body", "nothing to change: give labels, hardware_model, device_profile_id or name")
	}
	if c.Labels != nil {
		if err := model.ValidateLabels("labels", c.Labels); err != nil {
			return LoRaWANOutcome{}, err
		}
	}
	if c.HardwareModel != nil {
		if err := model.ValidateIdent("hardware_model", *c.HardwareModel); err != nil {
			return LoRaWANOutcome{}, err
		}
	}
	if c.DeviceProfileID != nil {
		p := strings.ToLower(strings.TrimSpace(*c.DeviceProfileID))
		if err := model.ValidateChirpStackID("device_profile_id", p); err != nil {
			return LoRaWANOutcome{}, err
		}
		c.DeviceProfileID = &p
	}
	if c.Name != nil {
		if err := model.ValidateName("name", *c.Name); err != nil {
			return LoRaWANOutcome{}, err
		}
	}
	if _, err := s.store.GetLoRaWANDevice(ctx, t.ID, id); err != nil {
		return LoRaWANOutcome{}, err
	}
	if _, err := s.settings(ctx, t); err != nil {
		return LoRaWANOutcome{}, err
	}
	return s.run(ctx, t, otaflow.LoRaWANDeviceInput{TenantID: t.ID, Op: otaflow.LoRaWANUpdate, DeviceID: id,
		Change: c, Policy: s.policy()})
}

func (s *lorawanService) DeleteDevice(ctx context.Context, t model.Tenant, id string) (LoRaWANOutcome, error) {
	if _, err := s.store.GetLoRaWANDevice(ctx, t.ID, id); err != nil {
		return LoRaWANOutcome{}, err
	}
	if _, err := s.settings(ctx, t); err != nil {
		return LoRaWANOutcome{}, err
	}
	return s.run(ctx, t, otaflow.LoRaWANDeviceInput{TenantID: t.ID, Op: otaflow.LoRaWANDelete, DeviceID: id,
		Policy: s.policy()})
}

// run starts one device operation and waits for it up to lorawan.sync_wait.
func (s *lorawanService) run(ctx context.Context, t model.Tenant, in otaflow.LoRaWANDeviceInput) (LoRaWANOutcome, error) {
	ref, err := s.workflows.StartLoRaWANDeviceSync(ctx, t.CadenceDomain, in)
	if err != nil {
		return LoRaWANOutcome{}, err
	}
	res, done, err := s.workflows.AwaitLoRaWANDeviceSync(ctx, t.CadenceDomain, ref, s.cfg.LoRaWAN.SyncWait)
	if err != nil {
		return LoRaWANOutcome{Workflow: ref}, err
	}
	return LoRaWANOutcome{Done: done, Device: res.Device, Workflow: ref}, nil
}

func (s *lorawanService) GetDevice(ctx context.Context, t model.Tenant, id string) (model.LoRaWANDeviceRecord, error) {
	return s.store.GetLoRaWANDevice(ctx, t.ID, id)
}

func (s *lorawanService) ListDevices(ctx context.Context, t model.Tenant, p store.Page) ([]model.LoRaWANDeviceRecord, error) {
	if err := checkDeviceCursor(p); err != nil {
		return nil, err
	}
	return s.store.ListLoRaWANDevices(ctx, t.ID, p)
}

func (s *lorawanService) Reconcile(ctx context.Context, t model.Tenant, reportOnly bool) (ReconcileOutcome, error) {
	if _, err := s.settings(ctx, t); err != nil {
		return ReconcileOutcome{}, err
	}
	ref, err := s.workflows.StartReconcile(ctx, t.CadenceDomain, otaflow.ReconcileInput{TenantID: t.ID,
		ReportOnly: reportOnly, Policy: s.policy()})
	if err != nil {
		return ReconcileOutcome{}, err
	}
	rep, done, err := s.workflows.AwaitReconcile(ctx, t.CadenceDomain, ref, s.cfg.LoRaWAN.SyncWait)
	if err != nil {
		return ReconcileOutcome{Workflow: ref}, err
	}
	return ReconcileOutcome{Done: done, Report: rep, Workflow: ref}, nil
}
