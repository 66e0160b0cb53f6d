// Package otaflow is the contract between the api (which starts and queries workflows)
// and the worker (which runs them): names, ids, inputs, signals and queries.
package otaflow

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/otaplane/ota/pkg/model"
)

// Registered names. They are part of the persisted histories: never rename one.
const (
	UpdateDeviceWorkflow = "OTA_UPDATE_DEVICE"
	CampaignWorkflow     = "OTA_CAMPAIGN"

	ActivityCheckDeviceReady = "check_device_ready"
	ActivitySendMQTTCommand  = "send_mqtt_command"
	ActivityVerifyFirmware   = "verify_firmware"
	ActivityUpdateDevice     = "update_device"
	ActivityRollback         = "rollback"
	// ActivityCheckDeviceHealth reads what the device's heartbeats said during a soak.
	ActivityCheckDeviceHealth = "check_device_health"

	ActivityListCampaignDevices = "list_campaign_devices"
	ActivitySetCampaignState    = "set_campaign_state"
	ActivityMarkCampaignDevices = "mark_campaign_devices"
	ActivityResolveTargets      = "resolve_campaign_targets"
	ActivityAssignWave          = "assign_wave"
	ActivityRetryDevice         = "retry_campaign_device"

	// SignalDeviceReport carries a DeviceReport from the MQTT consumer to the device run.
	SignalDeviceReport = "device_report"
	// QueryState answers a DeviceRunState (device run) or CampaignRunState (campaign).
	QueryState = "state"

	// MemoCampaignID lets the API name the campaign that holds a device when a second
	// update is refused.
	MemoCampaignID = "campaign_id"
)

// DeviceWorkflowID is the id of a device's update run. One id per device makes Cadence
// refuse a second concurrent update for the same device.
func DeviceWorkflowID(deviceID string) string { return "ota-device:" + deviceID }

// DecisionTimeout bounds one decision task of a device run or a campaign: a worker that
// dies holding one (local activities included) hands the run to another within this.
const DecisionTimeout = 10 * time.Second

// CampaignWorkflowID is the id of a campaign's orchestration run.
func CampaignWorkflowID(campaignID string) string { return "ota-campaign:" + campaignID }

// Command sequence numbers within one run. Status requests are numbered from
// CommandSeqStatusRequest up, one per request.
const (
	CommandSeqUpdate        = 1
	CommandSeqRollback      = 2
	CommandSeqCancel        = 3
	CommandSeqStatusRequest = 10
	// maxCommandSeq bounds the sequence part of a command id a device may name.
	maxCommandSeq = 9999
)

// CommandID is unique per command and stable across activity retries, so a device can
// drop a re-published duplicate. It embeds the run id, which routes the device's reports
// back to exactly the run that sent the command.
func CommandID(runID string, seq int) string { return fmt.Sprintf("%s:%d", runID, seq) }

// RunIDFromCommandID extracts the run id from a command id a device sent. It accepts only
// what CommandID makes from a Cadence run id (a UUID) or a GroupRoute: anything else
// cannot name a run.
func RunIDFromCommandID(commandID string) (string, bool) {
	r, ok := RouteFromCommandID(commandID)
	return r.RunID, ok
}

// commandPrefix is what CommandID was given: the part before a sequence number in range.
func commandPrefix(commandID string) (string, bool) {
	i := strings.LastIndexByte(commandID, ':')
	if i <= 0 {
		return "", false
	}
	prefix, seq := commandID[:i], commandID[i+1:]
	if len(seq) == 0 || len(seq) > 4 || seq[0] == '0' {
		return "", false
	}
	n, err := strconv.Atoi(seq)
	if err != nil || n < 1 || n > maxCommandSeq {
		return "", false
	}
	return prefix, true
}

// isUUID accepts the canonical 8-4-4-4-12 hex form Cadence gives run ids.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// FirmwareRef is the immutable image an update installs.
type FirmwareRef struct {
	ID            string
	Version       string
	HardwareModel string
	SHA256        string
	SizeBytes     int64
}

// UpdatePolicy bounds every wait of a device run; the API fills it from configuration.
type UpdatePolicy struct {
	HeartbeatMaxAge   time.Duration
	MinBatteryPercent int
	// ReadyRetryWindow is how long an offline device is retried before it is rejected.
	ReadyRetryWindow time.Duration
	// StepTimeout bounds the wait for each next report from the device.
	StepTimeout time.Duration
	// UpdateTimeout bounds the whole run from command to verified.
	UpdateTimeout   time.Duration
	RollbackTimeout time.Duration
	CommandTTL      time.Duration
	AllowDowngrade  bool
	// ProbeAfter is how long a device may stay silent before the run asks it where it
	// stands (a status request); the asks back off, and the step timeout still decides
	// when an unanswering device has TIMED_OUT. 0 means never ask before the step timeout.
	ProbeAfter time.Duration
	// Soak is how long an installed device must stay healthy on the new image before its
	// run is SUCCEEDED (0 = no soak); SoakMaxReboots is how many reboots it may take in
	// that time.
	Soak           time.Duration
	SoakMaxReboots int
}

// RunTimeout bounds a whole device run (every wait plus slack for the activities); the
// starter sets it as the workflow's execution timeout.
func (p UpdatePolicy) RunTimeout() time.Duration {
	return p.ReadyRetryWindow + p.UpdateTimeout + p.Soak + p.RollbackTimeout + 20*time.Minute
}

// UpdateDeviceInput starts OTA_UPDATE_DEVICE.
type UpdateDeviceInput struct {
	TenantID   string
	DeviceID   string
	CampaignID string // empty for a single-device update
	Firmware   FirmwareRef
	Policy     UpdatePolicy
	// InGroup: the device runs within an OTA_UPDATE_GROUP, under no id of its own, so its
	// readiness check claims the device (see check_device_ready).
	InGroup bool `json:",omitempty"`
}

// UpdateDeviceResult is the run's outcome.
type UpdateDeviceResult struct {
	State       model.DeviceState
	Reason      string
	FromVersion string
	ToVersion   string
}

// ReportStatus mirrors the device protocol's report status.
type ReportStatus string

const (
	ReportAccepted    ReportStatus = "ACCEPTED"
	ReportDownloading ReportStatus = "DOWNLOADING"
	ReportDownloaded  ReportStatus = "DOWNLOADED"
	ReportInstalling  ReportStatus = "INSTALLING"
	ReportInstalled   ReportStatus = "INSTALLED"
	ReportFailed      ReportStatus = "FAILED"
	ReportRejected    ReportStatus = "REJECTED"
	ReportRolledBack  ReportStatus = "ROLLED_BACK"
	ReportCanceled    ReportStatus = "CANCELED"
)

// ProgressState is the device state a progress (non-final) report moves a run to; the
// workflow and the report consumer (which records it for campaign counts) share it.
func (s ReportStatus) ProgressState() (model.DeviceState, bool) {
	switch s {
	case ReportAccepted, ReportDownloading, ReportDownloaded:
		return model.StateDownloading, true
	case ReportInstalling:
		return model.StateInstalling, true
	}
	return "", false
}

// DeviceReport is the payload of SignalDeviceReport: a report, or a device's restatement
// (Restated) of where it stands on CommandID, answering RequestID when asked.
type DeviceReport struct {
	CommandID       string
	Status          ReportStatus
	ProgressPercent int
	FirmwareVersion string
	ImageSHA256     string
	ErrorCode       string
	ErrorMessage    string
	ReportedAt      time.Time
	// BootCount is the device's boot counter when it reported INSTALLED (0 = unknown).
	BootCount uint32 `json:",omitempty"`
	// Restated: from a status message rather than a report.
	Restated  bool   `json:",omitempty"`
	RequestID string `json:",omitempty"`
}

// Transition is one step in a run's history.
type Transition struct {
	State  model.DeviceState `json:"state"`
	At     time.Time         `json:"at"`
	Detail string            `json:"detail,omitempty"`
}

// DeviceRunState answers QueryState on a device run.
type DeviceRunState struct {
	DeviceID        string            `json:"device_id"`
	CampaignID      string            `json:"campaign_id,omitempty"`
	State           model.DeviceState `json:"state"`
	Reason          string            `json:"reason,omitempty"`
	FromVersion     string            `json:"from_version,omitempty"`
	TargetVersion   string            `json:"target_version"`
	CommandID       string            `json:"command_id,omitempty"`
	ProgressPercent int               `json:"progress_percent"`
	History         []Transition      `json:"history"`
	// HeldBy is set by a device hold (OTA_DEVICE_HOLD): the device's state lives in
	// that FUOTA deployment run.
	HeldBy string `json:"held_by,omitempty"`
	// WorkflowID and RunID name the run that answered: the device's own, or the group
	// run it is a member of.
	WorkflowID string `json:"workflow_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
}

// ReadyCheck is the result of check_device_ready.
type ReadyCheck struct {
	Ready          bool
	Reason         string // set when not ready
	CurrentVersion string
	// ReportsTarget: the device's heartbeats (or, lacking them, its record) name the
	// target version. Informational for MQTT devices, which must confirm it.
	ReportsTarget bool `json:",omitempty"`
	// AlreadyOnTarget was set by workers that ended such runs without asking the device;
	// it is kept only so their histories replay. Runs now always have the device confirm.
	AlreadyOnTarget bool
}

// CommandRequest is the input of send_mqtt_command and rollback.
type CommandRequest struct {
	TenantID        string
	DeviceID        string
	CampaignID      string
	CommandID       string
	Firmware        FirmwareRef
	RollbackVersion string
	CancelsCommand  string
	// RequestStatus makes the command a STATUS_REQUEST.
	RequestStatus bool `json:",omitempty"`
	// AllowDowngrade marks an UPDATE's manifest as an explicit rollback, which a device
	// installs even below the version and release counter it has (the run was started
	// with allow_downgrade). Omitted when false, so runs recorded before it replay as
	// they ran.
	AllowDowngrade bool `json:",omitempty"`
	TTL            time.Duration
	// IssuedAt comes from workflow time so a retried publish carries the same bytes.
	IssuedAt time.Time
}

// VerifyRequest is the input of verify_firmware.
type VerifyRequest struct {
	TenantID   string
	DeviceID   string
	CampaignID string
	Firmware   FirmwareRef
	Report     DeviceReport
}

// OutcomeRequest is the input of update_device: the run's final record.
type OutcomeRequest struct {
	TenantID    string
	DeviceID    string
	CampaignID  string
	Firmware    FirmwareRef
	State       model.DeviceState
	Reason      string
	FromVersion string
	// Installed is true when the device now runs Firmware.
	Installed bool
	// RunningVersion is the version the device last said it runs, when the run learned it
	// from a report tied to its commands (empty = unknown); the device record follows it.
	RunningVersion string `json:",omitempty"`
	WorkflowID     string
	RunID          string
}

// HealthRequest is the input of check_device_health.
type HealthRequest struct {
	TenantID   string
	DeviceID   string
	CampaignID string
}

// DeviceHealth is what the control plane last heard from a device: its heartbeats'
// version, time and boot counter.
type DeviceHealth struct {
	Found           bool
	ReportedVersion string
	LastSeenAt      *time.Time
	BootCount       int64
}

// CampaignInput starts (or continues as new) OTA_CAMPAIGN.
type CampaignInput struct {
	TenantID   string
	CampaignID string
	Firmware   FirmwareRef
	// Policy is the per-device update policy (waits and timeouts).
	Policy  UpdatePolicy
	Rollout CampaignPolicy
	// MaxInFlight is the effective concurrency (Rollout.MaxInFlight or the default).
	MaxInFlight int
	// ResolveTargets: the campaign targets a dynamic group or selector, evaluated when
	// dispatch starts (and again and again for a continuous campaign).
	ResolveTargets bool
	// ContinuousRefresh is how often a continuous campaign looks for new devices.
	ContinuousRefresh time.Duration
	// ChildrenPerRun is how many device runs one execution starts before it continues as
	// new, bounding its history (0 = the default).
	ChildrenPerRun int
	// FUOTA is how LoRaWAN devices are updated (defaults merged with the rollout's), and
	// LoRaWANPolicy their readiness rules (LoRaWAN devices speak rarely).
	FUOTA         FUOTAParams
	LoRaWANPolicy UpdatePolicy
	// Progress is nil on the first run and carried across continue-as-new.
	Progress *CampaignProgress
}

// CampaignProgress is everything a campaign run must remember across continue-as-new.
type CampaignProgress struct {
	AfterSeq   int
	Total      int
	Bounds     []int
	Wave       int
	Waves      []WaveStats
	State      model.CampaignState
	Reason     string
	Paused     bool
	Succeeded  int
	RateTokens float64
	RateAt     time.Time
	// FUOTASeq numbers the campaign's FUOTA deployments (their workflow ids).
	FUOTASeq int
	// A campaign that dispatches device runs in batches carries these across
	// continue-as-new (it does not wait for its runs to finish first): InFlight were
	// dispatched and their outcomes not collected yet, Retries wait for another run,
	// Aborted stops dispatching for good.
	InFlight int                 `json:",omitempty"`
	Retries  []CampaignDeviceRef `json:",omitempty"`
	Aborted  bool                `json:",omitempty"`
	// WavesReported counts the waves whose wave.finished event was recorded.
	WavesReported int `json:",omitempty"`
}

// CampaignDevicePage is one page of a campaign's devices in dispatch order.
type CampaignDevicePage struct {
	Devices []CampaignDeviceRef
}

// CampaignDeviceRef is one device to dispatch. LoRaWAN devices carry what a FUOTA
// deployment needs: they are grouped by device profile.
type CampaignDeviceRef struct {
	Seq             int
	DeviceID        string
	Wave            int             `json:",omitempty"`
	Transport       model.Transport `json:",omitempty"`
	DevEUI          string          `json:",omitempty"`
	DeviceProfileID string          `json:",omitempty"`
}

// ListCampaignDevicesRequest is the input of list_campaign_devices.
type ListCampaignDevicesRequest struct {
	TenantID   string
	CampaignID string
	AfterSeq   int
	Limit      int
}

// SetCampaignStateRequest is the input of set_campaign_state.
type SetCampaignStateRequest struct {
	TenantID   string
	CampaignID string
	State      model.CampaignState
	Reason     string
}

// MarkCampaignDevicesRequest records a terminal state for devices the campaign could not
// dispatch (e.g. another update already running on them). With AllPending, every device
// still PENDING is marked (cancel and abort).
type MarkCampaignDevicesRequest struct {
	TenantID   string
	CampaignID string
	DeviceIDs  []string
	AllPending bool
	State      model.DeviceState
	Reason     string
}

// CampaignRunState answers QueryState on a campaign run.
type CampaignRunState struct {
	CampaignID string              `json:"campaign_id"`
	State      model.CampaignState `json:"state"`
	Reason     string              `json:"reason,omitempty"`
	Paused     bool                `json:"paused"`
	Wave       int                 `json:"wave"`
	Total      int                 `json:"total"`
	Dispatched int                 `json:"dispatched"`
	Finished   int                 `json:"finished"`
	InFlight   int                 `json:"in_flight"`
	Waves      []WaveStats         `json:"waves"`
}

// ResolveTargetsRequest is the input of resolve_campaign_targets.
type ResolveTargetsRequest struct {
	TenantID   string
	CampaignID string
}

// AssignWaveRequest is the input of assign_wave: devices FromSeq..ToSeq belong to Wave.
type AssignWaveRequest struct {
	TenantID   string
	CampaignID string
	Wave       int
	FromSeq    int
	ToSeq      int
}

// RetryDeviceRequest is the input of retry_campaign_device: the device goes back to
// PENDING for another run.
type RetryDeviceRequest struct {
	TenantID   string
	CampaignID string
	DeviceID   string
}

// Reasons a run ends without installing.
const (
	ReasonDeviceNotFound   = "device_not_found"
	ReasonHardwareMismatch = "hardware_mismatch"
	ReasonOffline          = "offline"
	ReasonLowBattery       = "low_battery"
	ReasonDowngrade        = "downgrade_not_allowed"
	ReasonAlreadyOnTarget  = "already_on_target"
	ReasonUpdateInProgress = "update_in_progress"
	ReasonNoReport         = "no_report_within_step_timeout"
	// ReasonCommandNotReceived: asked, the device named no knowledge of the update.
	ReasonCommandNotReceived = "command_not_received"
	ReasonSoakFellBack       = "fell_back_to_previous_image"
	ReasonSoakRebootLoop     = "reboot_loop"
	ReasonSoakSilent         = "silent_during_soak"
	ReasonUpdateTimeout      = "update_timeout"
	ReasonVerifyMismatch     = "verification_mismatch"
	ReasonRollbackNoAnswer   = "rollback_not_confirmed"
	ReasonCanceledByRequest  = "canceled"
	ReasonCampaignAborted    = "campaign_aborted"
	ReasonCampaignCanceled   = "campaign_canceled"
)
