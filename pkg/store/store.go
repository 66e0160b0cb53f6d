// Package store defines persistence behind an interface; postgres implements it.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

var (
	// ErrNotFound: no such row for this tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key already exists.
	ErrConflict = errors.New("already exists")
	// ErrUnavailable: the database cannot be reached; callers answer 503 and retry later.
	ErrUnavailable = errors.New("database unavailable")
	// ErrInvalidInput: the database refused a value (bytes text cannot hold, a number out
	// of range). Input is validated before it gets here; this is the backstop, and callers
	// answer 400.
	ErrInvalidInput = errors.New("value refused by the database")
	// ErrSecretUnreadable: a stored secret cannot be opened with the configured
	// secrets.encryption_key (it was changed, or the row was altered).
	ErrSecretUnreadable = errors.New("stored secret cannot be opened with this secrets.encryption_key")
)

// MissingDevicesError lists campaign device ids that do not exist in the tenant.
type MissingDevicesError struct{ IDs []string }

func (e *MissingDevicesError) Error() string { return "unknown devices" }

// Page selects a slice of a list ordered by a stable key.
type Page struct {
	After string
	Limit int
}

// Heartbeat is one device heartbeat to apply.
type Heartbeat struct {
	TenantID        string
	DeviceID        string
	FirmwareVersion string
	BatteryPercent  *int
	SeenAt          time.Time
	// BootCount is the device's boot counter (0 = it does not count: an uptime that
	// goes backwards then counts as a boot).
	BootCount     int64
	UptimeSeconds int64
}

// NewCredential is one device's next broker credential: the hash of its password, and
// how its username is made from the generation the store picks.
type NewCredential struct {
	DeviceID       string
	PasswordSHA256 []byte
	UsernameOf     func(generation int) string
}

// ReleaseFunc decides an image's release (counter and signature) given the highest
// release counter its hardware model has (0 when none). It runs while no other release
// of the model can be decided, and its counter must exceed highest.
type ReleaseFunc func(highest int64) (model.Release, error)

// Store is everything the control plane persists.
type Store interface {
	FleetStore
	LoRaWANStore
	KeyStore
	AuditStore
	WebhookStore

	Ping(ctx context.Context) error

	// CreateTenant stores the tenant, its first API key and its signing keys; beforeCommit
	// runs inside the transaction so a failure there (e.g. domain registration) leaves
	// nothing behind.
	CreateTenant(ctx context.Context, t model.Tenant, k model.APIKey, keys []model.SigningKey,
		beforeCommit func(context.Context) error) error
	ListTenants(ctx context.Context) ([]model.Tenant, error)

	CreateDevice(ctx context.Context, d model.Device) (model.Device, error)
	GetDevice(ctx context.Context, tenantID, deviceID string) (model.Device, error)
	// DevicesByID returns the tenant's devices among ids (unknown ids are left out).
	DevicesByID(ctx context.Context, tenantID string, ids []string) ([]model.Device, error)
	ListDevices(ctx context.Context, tenantID string, p Page) ([]model.Device, error)
	ApplyHeartbeats(ctx context.Context, hbs []Heartbeat) error
	DeviceHistory(ctx context.Context, tenantID, deviceID string, limit int) ([]model.FirmwareHistory, error)

	// CreateFirmware stores an image with the release release returns; see ReleaseFunc.
	CreateFirmware(ctx context.Context, fw model.Firmware, image io.Reader, release ReleaseFunc) (model.Firmware, error)
	GetFirmware(ctx context.Context, tenantID, firmwareID string) (model.Firmware, error)
	ListFirmware(ctx context.Context, tenantID string, p Page) ([]model.Firmware, error)
	// OpenFirmware streams an image; the caller closes it.
	OpenFirmware(ctx context.Context, fw model.Firmware) (io.ReadSeekCloser, error)

	CreateCampaign(ctx context.Context, c model.Campaign, deviceIDs []string) (model.Campaign, error)
	GetCampaign(ctx context.Context, tenantID, campaignID string) (model.Campaign, error)
	ListCampaigns(ctx context.Context, tenantID string, p Page) ([]model.Campaign, error)
	MarkCampaignStarted(ctx context.Context, tenantID, campaignID, workflowID, runID string, actor AuditEntry) error
	// SetCampaignState records the change, when there is one, in the audit log with
	// actor (the workflow run that made it) in the same transaction.
	SetCampaignState(ctx context.Context, r otaflow.SetCampaignStateRequest, actor AuditEntry) error
	CampaignStatus(ctx context.Context, tenantID, campaignID string) (model.CampaignStatus, error)
	ListCampaignDevices(ctx context.Context, tenantID, campaignID string, afterSeq, limit int) ([]model.CampaignDevice, error)
	// CampaignDeviceIDs lists every device of the campaign in dispatch order.
	CampaignDeviceIDs(ctx context.Context, tenantID, campaignID string) ([]string, error)
	CampaignDispatchPage(ctx context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error)
	MarkCampaignDevices(ctx context.Context, r otaflow.MarkCampaignDevicesRequest) error
	ResolveCampaignTargets(ctx context.Context, tenantID, campaignID string) (int, error)
	AssignWave(ctx context.Context, r otaflow.AssignWaveRequest) error
	RetryCampaignDevice(ctx context.Context, r otaflow.RetryDeviceRequest) error

	// AdvanceCampaignDevice moves one device forward (never backward) and records the run.
	AdvanceCampaignDevice(ctx context.Context, tenantID, campaignID, deviceID string, state model.DeviceState, reason, workflowID, runID string) error
	// AdvanceRun moves the device's row for one run forward (used by report consumers,
	// which know the run but not the campaign).
	AdvanceRun(ctx context.Context, tenantID, deviceID, runID string, state model.DeviceState) error
	// RecordRunProgress records a progress report on a quiet update command (see
	// otaflow.QuietProgress) and moves the run's campaign row forward.
	RecordRunProgress(ctx context.Context, tenantID, deviceID, runID, commandID string, state model.DeviceState, percent int) error
	// RunProgress is the progress recorded for the device's latest quiet update command.
	RunProgress(ctx context.Context, tenantID, deviceID string) (otaflow.RunProgress, error)
	// RecordOutcome writes a run's result in one transaction.
	RecordOutcome(ctx context.Context, r otaflow.OutcomeRequest) error
	// ClaimDevice claims a device for a run unless another run holds it; it returns the
	// claim as it stands after. RecordOutcome releases the run's claim.
	ClaimDevice(ctx context.Context, tenantID, deviceID, workflowID, runID string) (Claim, error)
	// DeviceClaim reads a device's claim: the run that holds it, or held it last.
	DeviceClaim(ctx context.Context, tenantID, deviceID string) (Claim, bool, error)
	// TakeOverClaim moves a claim whose run has closed to another run.
	TakeOverClaim(ctx context.Context, tenantID, deviceID string, from Claim, workflowID, runID string) (bool, error)
	// ReleaseClaim releases a device's claim if the run named holds it.
	ReleaseClaim(ctx context.Context, tenantID, deviceID, workflowID, runID string) error
}
