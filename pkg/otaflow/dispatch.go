package otaflow

import (
	"time"

	"github.com/otaplane/ota/pkg/model"
)

// Activities of a campaign that dispatches its device runs in batches (not as child
// workflows) and learns their outcomes from the database.
const (
	ActivityDispatchDeviceRuns = "dispatch_device_runs"
	ActivityCollectOutcomes    = "collect_campaign_outcomes"
	ActivityCancelDeviceRuns   = "cancel_device_runs"
	ActivityRecordDispatch     = "record_campaign_dispatch"
	ActivityRetryDevices       = "retry_campaign_devices"
	ActivityRecordWaveFinished = "record_wave_finished"
)

// WaveFinishedRequest is the input of record_wave_finished: Wave's devices all have their
// final outcome, counted in Wave.
type WaveFinishedRequest struct {
	TenantID   string
	CampaignID string
	Wave       WaveStats
}

// DispatchRequest is the input of dispatch_device_runs: start the runs of the devices in
// Retries, then of the campaign's next devices after AfterSeq up to ToSeq (the current
// wave's end), Limit in all. Starting is idempotent: a device whose run an earlier
// attempt started counts as started again, never twice.
type DispatchRequest struct {
	TenantID   string
	CampaignID string
	Firmware   FirmwareRef
	// Policy is each device run's policy.
	Policy   UpdatePolicy
	Retries  []CampaignDeviceRef
	AfterSeq int
	ToSeq    int
	Limit    int
	// DispatchID names this dispatch, the same on every retry of it: the groups it
	// starts are named after it (GroupKey), so a retry finds them instead of starting more.
	DispatchID string `json:",omitempty"`
}

// DispatchResult says what dispatch_device_runs did.
type DispatchResult struct {
	// Dispatched counts, per wave, the devices started or refused: each one's outcome
	// will be collected once.
	Dispatched []WaveCount
	// Refused counts devices another update holds: recorded REJECTED, not started.
	Refused int `json:",omitempty"`
	// AfterSeq is the last sequence number dispatched or passed over.
	AfterSeq int
	// LoRaWAN devices are not started here: they go out in FUOTA deployments, one per
	// device profile and wave.
	LoRaWAN []CampaignDeviceRef `json:",omitempty"`
}

// WaveCount is a number of devices of one wave.
type WaveCount struct {
	Wave int
	N    int
}

// CollectRequest is the input of collect_campaign_outcomes: take the outcomes of
// dispatched devices that finished since the last collection, acknowledging them as
// AckID. A repeated call with the same AckID returns the same outcomes.
type CollectRequest struct {
	TenantID   string
	CampaignID string
	AckID      string
	Limit      int
	// SweepIdle, when set, first ends the device runs in flight that have not been heard
	// of for that long and whose workflow has closed without recording an outcome (it
	// timed out, or was terminated): they count as CANCELED.
	SweepIdle time.Duration `json:",omitempty"`
}

// CollectResult is what collect_campaign_outcomes acknowledged: the devices that
// succeeded or were canceled as counts, the failures one by one (the campaign may retry
// them).
type CollectResult struct {
	Counts   []OutcomeCount  `json:",omitempty"`
	Failures []DeviceOutcome `json:",omitempty"`
	// More: the limit was reached; more outcomes are waiting.
	More bool `json:",omitempty"`
}

// OutcomeCount is how many devices of a wave ended in a state.
type OutcomeCount struct {
	Wave  int
	State model.DeviceState
	N     int
}

// DeviceOutcome is one device's failed run.
type DeviceOutcome struct {
	Seq      int
	DeviceID string
	Wave     int
	State    model.DeviceState
	Reason   string `json:",omitempty"`
	// Attempts is how many runs the device has had in this campaign.
	Attempts int
}

// CancelRunsRequest is the input of cancel_device_runs: ask every device run (and FUOTA
// deployment) the campaign has in flight to cancel.
type CancelRunsRequest struct {
	TenantID   string
	CampaignID string
}

// RecordDispatchRequest is the input of record_campaign_dispatch: the devices went out in
// the run WorkflowID (a FUOTA deployment), whose outcomes the campaign collects.
type RecordDispatchRequest struct {
	TenantID   string
	CampaignID string
	DeviceIDs  []string
	WorkflowID string
}

// RetryDevicesRequest is the input of retry_campaign_devices: the devices go back to
// PENDING for another run.
type RetryDevicesRequest struct {
	TenantID   string
	CampaignID string
	DeviceIDs  []string
}

// ReasonRunEnded: the device run closed (timed out, terminated) without recording an
// outcome.
const ReasonRunEnded = "run_ended_without_outcome"
