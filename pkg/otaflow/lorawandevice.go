package otaflow

import (
	"time"

	"github.com/otaplane/ota/pkg/model"
)

// Activities of LORAWAN_DEVICE_SYNC and LORAWAN_RECONCILE. Registered names are part of
// persisted histories: never rename one.
const (
	ActivityLoRaWANCreate       = "lorawan_create_device"
	ActivityLoRaWANSetKeys      = "lorawan_set_keys"
	ActivityLoRaWANMirror       = "lorawan_mirror_device"
	ActivityLoRaWANRemove       = "lorawan_remove_device"
	ActivityLoRaWANLoad         = "lorawan_load_device"
	ActivityLoRaWANGet          = "lorawan_get_device"
	ActivityLoRaWANPatch        = "lorawan_patch_device"
	ActivityLoRaWANUpdateMirror = "lorawan_update_mirror"
	ActivityLoRaWANDeleteMirror = "lorawan_delete_mirror"

	ActivityReconcileScan   = "lorawan_reconcile_scan"
	ActivityReconcileRepair = "lorawan_reconcile_repair"
)

// ReconcileOnDemandWorkflowID is the id of reconcile runs started through the API, so
// they never collide with the tenant's cron schedule (ReconcileWorkflowID).
const ReconcileOnDemandWorkflowID = ReconcileWorkflowID + "-ondemand"

// ChirpStack device tags the control plane writes and reads.
const (
	// TagDeviceID links a ChirpStack device to the device id it was created for; it
	// tells a device this control plane created from one it only found.
	TagDeviceID = "ota_device_id"
	// TagHardwareModel and TagFirmwareVersion describe a device found in ChirpStack
	// that reconcile mirrors into the database.
	TagHardwareModel   = "hardware_model"
	TagFirmwareVersion = "firmware_version"
)

// Fallbacks for a device mirrored from ChirpStack without usable tags.
const (
	UnknownHardwareModel = "unknown"
	UnknownVersion       = "0.0.0"
)

// LoRaWANOp is the one operation of a LORAWAN_DEVICE_SYNC run.
type LoRaWANOp string

const (
	LoRaWANCreate LoRaWANOp = "create"
	LoRaWANUpdate LoRaWANOp = "update"
	LoRaWANDelete LoRaWANOp = "delete"
)

// LoRaWANSyncPolicy bounds the retries of a device operation; the API fills it from
// configuration (lorawan.sync_retry_window).
type LoRaWANSyncPolicy struct {
	// RetryWindow is how long one step retries a transient failure before the
	// operation compensates and fails.
	RetryWindow time.Duration
}

// LoRaWANDeviceInput starts LORAWAN_DEVICE_SYNC.
type LoRaWANDeviceInput struct {
	TenantID string
	Op       LoRaWANOp
	DeviceID string
	// Create only: the device, its LoRaWAN side and name in ChirpStack.
	Device  model.Device
	LoRaWAN model.LoRaWANDevice
	Name    string
	// SealedAppKey is the OTAA key sealed with SealAppKey: it is never in clear in
	// Cadence's history, and never in our database.
	SealedAppKey string
	// Update only.
	Change LoRaWANChange
	Policy LoRaWANSyncPolicy
}

// LoRaWANChange is what an update changes (nil = unchanged).
type LoRaWANChange struct {
	Name            *string
	DeviceProfileID *string
	HardwareModel   *string
	Labels          map[string]string
}

// LoRaWANDeviceResult is a successful operation's outcome; Device is the mirrored
// record after a create or update, nil after a delete.
type LoRaWANDeviceResult struct {
	Op       LoRaWANOp
	DeviceID string
	Device   *model.LoRaWANDeviceRecord
}

// Failure reasons. A LoRaWAN workflow that fails returns a cadence.CustomError with one
// of these reasons and a LoRaWANFailure as details; the API maps them onto answers.
const (
	// LoRaWANFailRejected: ChirpStack refused the request (bad value, bad token).
	LoRaWANFailRejected = "chirpstack_rejected"
	// LoRaWANFailUnavailable: ChirpStack did not answer within the retry window.
	LoRaWANFailUnavailable = "chirpstack_unavailable"
	// LoRaWANFailDatabase: the database did not answer within the retry window.
	LoRaWANFailDatabase = "database_unavailable"
	// LoRaWANFailConflict: the id or DevEUI belongs to another device.
	LoRaWANFailConflict = "lorawan_conflict"
	// LoRaWANFailNotFound: the device does not exist (in the database).
	LoRaWANFailNotFound = "lorawan_not_found"
	// LoRaWANFailDrift: the device is in the database but no longer in ChirpStack.
	LoRaWANFailDrift = "lorawan_drift"
	// LoRaWANFailNotConfigured: the tenant has no ChirpStack settings.
	LoRaWANFailNotConfigured = "lorawan_not_configured"
	// LoRaWANFailTransient labels activity errors worth retrying; a workflow never
	// fails with it.
	LoRaWANFailTransient = "lorawan_transient"
)

// LoRaWANPermanentReasons are the activity error reasons no retry can fix.
var LoRaWANPermanentReasons = []string{LoRaWANFailRejected, LoRaWANFailConflict, LoRaWANFailNotFound,
	LoRaWANFailDrift, LoRaWANFailNotConfigured}

// LoRaWANFailure details a failed step or operation.
type LoRaWANFailure struct {
	Message string
	// Field is the request field the failure concerns ("settings" for the tenant's
	// ChirpStack settings), when there is one.
	Field string
	// Code is ChirpStack's gRPC status code name, when ChirpStack answered.
	Code string
}

// ChirpStackDeviceRequest names one device in the tenant's ChirpStack.
type ChirpStackDeviceRequest struct {
	TenantID string
	DeviceID string
	DevEUI   string
}

// CreateChirpStackRequest is the input of lorawan_create_device.
type CreateChirpStackRequest struct {
	TenantID        string
	DeviceID        string
	DevEUI          string
	JoinEUI         string
	DeviceProfileID string
	Name            string
	Tags            map[string]string
}

// CreateChirpStackResult says whether the device was there already, put there by
// something else than this control plane: compensation then leaves it alone.
type CreateChirpStackResult struct {
	ApplicationID string
	Existed       bool
	// Previous is an existing device as it was before it was adopted.
	Previous *ChirpStackDevice
}

// RemoveChirpStackRequest is the input of lorawan_remove_device. OnlyIfCreatedFor
// (compensation) limits the removal to a device tagged with that device id.
type RemoveChirpStackRequest struct {
	TenantID         string
	DevEUI           string
	OnlyIfCreatedFor string
}

// SetKeysRequest is the input of lorawan_set_keys.
type SetKeysRequest struct {
	TenantID     string
	DevEUI       string
	SealedAppKey string
}

// MirrorRequest is the input of lorawan_mirror_device.
type MirrorRequest struct {
	TenantID string
	Device   model.Device
	LoRaWAN  model.LoRaWANDevice
}

// ChirpStackDevice is the part of a ChirpStack device an update may change.
type ChirpStackDevice struct {
	DevEUI          string
	Name            string
	DeviceProfileID string
	Tags            map[string]string
}

// PatchChirpStackRequest is the input of lorawan_patch_device: set these fields
// (nil = leave) and these tags, keep everything else.
type PatchChirpStackRequest struct {
	TenantID        string
	DevEUI          string
	Name            *string
	DeviceProfileID *string
	Tags            map[string]string
}

// UpdateMirrorRequest is the input of lorawan_update_mirror.
type UpdateMirrorRequest struct {
	TenantID string
	DeviceID string
	Change   LoRaWANChange
}

// ReconcileInput starts LORAWAN_RECONCILE (on demand, and every cron run).
type ReconcileInput struct {
	TenantID string
	// ReportOnly skips the repairs.
	ReportOnly bool
	Policy     LoRaWANSyncPolicy
}

// MaxReconcileItems bounds each list of a reconcile report (and the repairs of one
// run): a larger drift is counted in full and repaired over the next runs.
const MaxReconcileItems = 500

// DriftDevice is one device found on one side only.
type DriftDevice struct {
	DeviceID        string            `json:"device_id,omitempty"`
	DevEUI          string            `json:"dev_eui"`
	Name            string            `json:"name,omitempty"`
	DeviceProfileID string            `json:"device_profile_id,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// ProfileMismatch is a device whose device profile differs between the two sides.
type ProfileMismatch struct {
	DeviceID            string `json:"device_id"`
	DevEUI              string `json:"dev_eui"`
	DBProfileID         string `json:"db_profile_id"`
	ChirpStackProfileID string `json:"chirpstack_profile_id"`
}

// Repair is one drift the reconcile run fixed.
type Repair struct {
	DeviceID string `json:"device_id"`
	DevEUI   string `json:"dev_eui"`
	// Action is "mirrored" (a ChirpStack-only device added to the database) or
	// "profile_updated" (the database now follows ChirpStack).
	Action string `json:"action"`
}

// Repair actions.
const (
	RepairMirrored       = "mirrored"
	RepairProfileUpdated = "profile_updated"
)

// ReconcileScan is the drift found by lorawan_reconcile_scan; lists hold at most
// MaxReconcileItems entries, the counts are complete.
type ReconcileScan struct {
	Checked                  int
	MissingInChirpStack      []DriftDevice
	MissingInChirpStackCount int
	MissingInDB              []DriftDevice
	MissingInDBCount         int
	ProfileMismatch          []ProfileMismatch
	ProfileMismatchCount     int
}

// RepairRequest is the input of lorawan_reconcile_repair.
type RepairRequest struct {
	TenantID        string
	MissingInDB     []DriftDevice
	ProfileMismatch []ProfileMismatch
}

// ReconcileReport is the result of LORAWAN_RECONCILE.
type ReconcileReport struct {
	Checked             int               `json:"checked"`
	MissingInChirpStack []DriftDevice     `json:"missing_in_chirpstack"`
	MissingInDB         []DriftDevice     `json:"missing_in_db"`
	Repaired            []Repair          `json:"repaired"`
	ProfileMismatch     []ProfileMismatch `json:"profile_mismatch"`
	// Counts are complete even when the lists are cut at MaxReconcileItems.
	Counts    ReconcileCounts `json:"counts"`
	Truncated bool            `json:"truncated"`
	StartedAt time.Time       `json:"started_at"`
}

// ReconcileCounts counts a reconcile run's findings.
type ReconcileCounts struct {
	MissingInChirpStack int `json:"missing_in_chirpstack"`
	MissingInDB         int `json:"missing_in_db"`
	ProfileMismatch     int `json:"profile_mismatch"`
	Repaired            int `json:"repaired"`
}
