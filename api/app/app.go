// Package app holds the API's use cases. Handlers call the Service interface; the
// Service talks to the store and starts or queries workflows, never to devices.
package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/signing"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/proto/manifest"
)

var (
	// ErrConflict: the action collides with existing state (409).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a dependency (Cadence, Postgres) is down (503).
	ErrUnavailable = errors.New("service unavailable")
	// ErrUnauthorized: missing or unknown credentials (401).
	ErrUnauthorized = errors.New("unauthorized")
)

// UpdateInProgressError says a device already has a running update (409).
type UpdateInProgressError struct {
	WorkflowID string
	RunID      string
	CampaignID string
}

func (e *UpdateInProgressError) Error() string {
	return "an update is already running on this device"
}

// Workflows is the API's view of Cadence.
type Workflows interface {
	Ping(ctx context.Context) error
	RegisterDomain(ctx context.Context, domain, description string) error
	StartDeviceUpdate(ctx context.Context, domain string, in otaflow.UpdateDeviceInput) (runID string, err error)
	StartCampaign(ctx context.Context, domain string, in otaflow.CampaignInput) (runID string, err error)
	// StartDeviceFUOTA updates one LoRaWAN device through a FUOTA deployment, under the
	// device's update workflow id (one update per device at a time).
	StartDeviceFUOTA(ctx context.Context, domain string, in otaflow.FUOTAInput) (runID string, err error)
	QueryDeviceRun(ctx context.Context, domain, deviceID string) (otaflow.DeviceRunState, error)
	// QueryGroupMember is a device's state in the group run that updates (or updated) it.
	QueryGroupMember(ctx context.Context, domain, workflowID, runID, deviceID string) (otaflow.DeviceRunState, error)
	// SignalCampaign returns store.ErrNotFound when the campaign's run has closed.
	SignalCampaign(ctx context.Context, domain, campaignID string, c otaflow.CampaignControl) error
	QueryCampaign(ctx context.Context, domain, campaignID string) (otaflow.CampaignRunState, error)
}

// Service is every use case of the HTTP API.
type Service interface {
	Ready(ctx context.Context) map[string]error

	CreateTenant(ctx context.Context, name string) (model.Tenant, string, error)

	CreateDevice(ctx context.Context, t model.Tenant, d model.Device) (model.Device, error)
	GetDevice(ctx context.Context, t model.Tenant, id string) (model.Device, error)
	ListDevices(ctx context.Context, t model.Tenant, p store.Page) ([]model.Device, error)
	DeviceHistory(ctx context.Context, t model.Tenant, id string) ([]model.FirmwareHistory, error)
	StartDeviceUpdate(ctx context.Context, t model.Tenant, deviceID string, req DeviceUpdateRequest) (DeviceUpdateStarted, error)
	DeviceUpdateState(ctx context.Context, t model.Tenant, deviceID string) (otaflow.DeviceRunState, error)

	UploadFirmware(ctx context.Context, t model.Tenant, up FirmwareUpload) (model.Firmware, error)
	GetFirmware(ctx context.Context, t model.Tenant, id string) (model.Firmware, error)
	ListFirmware(ctx context.Context, t model.Tenant, p store.Page) ([]model.Firmware, error)
	OpenFirmware(ctx context.Context, tenantID, id string) (model.Firmware, io.ReadSeekCloser, error)
	// OpenDeviceFirmware opens an image for the device a download link names: the
	// device must exist in the tenant and be of the image's hardware model.
	OpenDeviceFirmware(ctx context.Context, tenantID, deviceID, id string) (model.Firmware, io.ReadSeekCloser, error)

	SigningKeys(ctx context.Context, t model.Tenant) ([]model.SigningKey, error)
	AddSigningKey(ctx context.Context, t model.Tenant, req NewSigningKey) (model.SigningKey, error)
	Trust(ctx context.Context, t model.Tenant) (manifest.TrustSet, error)

	CreateCampaign(ctx context.Context, t model.Tenant, c NewCampaign) (model.Campaign, error)
	GetCampaign(ctx context.Context, t model.Tenant, id string) (model.Campaign, error)
	ListCampaigns(ctx context.Context, t model.Tenant, p store.Page) ([]model.Campaign, error)
	// ExecuteCampaign and ControlCampaign take the caller's key for the four-eyes rule
	// (and, executing, as the actor of the campaign's change to RUNNING).
	ExecuteCampaign(ctx context.Context, t model.Tenant, id string, by model.APIKey) (CampaignExecution, error)
	ControlCampaign(ctx context.Context, t model.Tenant, id string, c otaflow.CampaignControl, actorKeyID string) (otaflow.CampaignRunState, error)
	DryRunCampaign(ctx context.Context, t model.Tenant, id string) (DryRun, error)
	CampaignStatus(ctx context.Context, t model.Tenant, id string) (CampaignStatus, error)
	CampaignDevices(ctx context.Context, t model.Tenant, id string, afterSeq, limit int) ([]model.CampaignDevice, error)
}

// DeviceUpdateStarted answers a single-device update.
type DeviceUpdateStarted struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	DeviceID   string `json:"device_id"`
	FirmwareID string `json:"firmware_id"`
}

// FirmwareUpload is a validated upload; Image must be seekable (hashed, then stored).
type FirmwareUpload struct {
	Version       string
	HardwareModel string
	Image         io.ReadSeeker
	Size          int64
	// ReleaseCounter and Signature (base64 Ed25519 over the release statement) are the
	// form fields of an upload signed offline; empty when the control plane signs.
	ReleaseCounter string
	Signature      string
}

// NewCampaign is a campaign request: exactly one of DeviceIDs, GroupID, Selector.
type NewCampaign struct {
	Name       string
	FirmwareID string
	DeviceIDs  []string
	GroupID    string
	Selector   string
	Continuous bool
	Rollout    otaflow.CampaignPolicy
	// CreatedByKey is the id of the API key that creates it (four-eyes rule).
	CreatedByKey string
}

// DryRun says what executing a campaign would do now.
// DeviceUpdateRequest starts one device's update.
type DeviceUpdateRequest struct {
	FirmwareID     string `json:"firmware_id"`
	AllowDowngrade bool   `json:"allow_downgrade"`
	// Soak and SoakMaxReboots override the configured health soak (as in a rollout).
	Soak           otaflow.Duration `json:"soak"`
	SoakMaxReboots *int             `json:"soak_max_reboots"`
}

type DryRun struct {
	CampaignID string         `json:"campaign_id"`
	Total      int            `json:"total"`
	Eligible   int            `json:"eligible"`
	Waves      []DryRunWave   `json:"waves"`
	Excluded   []DryRunDevice `json:"excluded"`
}

// DryRunWave lists the devices one wave would update.
type DryRunWave struct {
	Wave    int      `json:"wave"`
	Name    string   `json:"name,omitempty"`
	Devices []string `json:"devices"`
	// ConfirmOnly lists the wave's MQTT devices that already report the target version:
	// they are commanded like the others and only confirm what they run.
	ConfirmOnly []string `json:"confirm_only"`
}

// DryRunDevice is a device that would not be updated, and why.
type DryRunDevice struct {
	DeviceID string `json:"device_id"`
	Wave     int    `json:"wave"`
	Reason   string `json:"reason"`
}

// CampaignExecution answers execute.
type CampaignExecution struct {
	CampaignID         string `json:"campaign_id"`
	WorkflowsSubmitted int    `json:"workflows_submitted"`
	WorkflowID         string `json:"workflow_id"`
	RunID              string `json:"run_id"`
}

// CampaignStatus answers status.
type CampaignStatus struct {
	CampaignID      string                    `json:"campaign_id"`
	State           model.CampaignState       `json:"state"`
	StateReason     string                    `json:"state_reason,omitempty"`
	ProgressPercent float64                   `json:"progress_percent"`
	StatusCounts    map[model.DeviceState]int `json:"status_counts"`
	Total           int                       `json:"total"`
	Finished        int                       `json:"finished"`
	Succeeded       int                       `json:"succeeded"`
	Failed          int                       `json:"failed"`
	Waves           []model.WaveStatus        `json:"waves"`
}

type service struct {
	store     store.Store
	workflows Workflows
	keys      *signing.Keys
	cfg       *config.Config
	now       func() time.Time
	statuses  *statusCache
}

// statusTTL is how stale a campaign status may be; well under a dashboard's refresh.
const statusTTL = 250 * time.Millisecond

// New returns the Service; keys holds the tenants' signing keys.
func New(st store.Store, wf Workflows, keys *signing.Keys, cfg *config.Config) Service {
	return &service{store: st, workflows: wf, keys: keys, cfg: cfg, now: time.Now, statuses: newStatusCache(statusTTL)}
}

func (s *service) Ready(ctx context.Context) map[string]error {
	return map[string]error{"postgres": s.store.Ping(ctx), "cadence": s.workflows.Ping(ctx)}
}

func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CreateTenant stores the tenant, its first key and its managed signing keys and
// registers its Cadence domain, all or nothing; the domain registration is idempotent, so
// a retry after a failure is safe.
func (s *service) CreateTenant(ctx context.Context, name string) (model.Tenant, string, error) {
	if err := model.ValidateName("name", name); err != nil {
		return model.Tenant{}, "", err
	}
	id := uuid.NewString()
	t := model.Tenant{ID: id, Name: name, CadenceDomain: cadenceclient.DomainName(s.cfg.Cadence.DomainPrefix, id),
		CreatedAt: s.now().UTC()}
	key, k, err := newKeySecret(id, t.CreatedAt)
	if err != nil {
		return model.Tenant{}, "", err
	}
	k.Name, k.Role = "first key", access.RoleAdmin // the tenant's first key is its admin
	signingKeys, err := s.keys.NewTenantKeys(id)
	if err != nil {
		return model.Tenant{}, "", err
	}
	err = s.store.CreateTenant(ctx, t, k, signingKeys, func(ctx context.Context) error {
		return s.workflows.RegisterDomain(ctx, t.CadenceDomain, "OTA tenant "+name)
	})
	if errors.Is(err, store.ErrConflict) {
		return model.Tenant{}, "", model.Fieldf("name", "a tenant named %q already exists", name)
	}
	if err != nil {
		return model.Tenant{}, "", err
	}
	return t, key, nil
}
