package otaflow

// CampaignPolicy says how a campaign rolls out. The zero value is one wave, unlimited
// rate, no gate, no abort rule, no retries, no window.
type CampaignPolicy struct {
	Waves       []Wave             `json:"waves,omitempty"`
	MaxInFlight int                `json:"max_in_flight,omitempty"`
	Rate        RatePolicy         `json:"rate"`
	Gate        GatePolicy         `json:"gate"`
	Abort       AbortPolicy        `json:"abort"`
	Retry       RetryBudget        `json:"retry"`
	Window      *MaintenanceWindow `json:"maintenance_window,omitempty"`
	// Continuous keeps a campaign on a dynamic target open: devices that match later are
	// updated too, until the campaign is canceled.
	Continuous bool `json:"continuous,omitempty"`
	// StepTimeout and InProgressTimeout override the per-device waits (0 = defaults).
	StepTimeout       Duration `json:"step_timeout,omitempty"`
	InProgressTimeout Duration `json:"in_progress_timeout,omitempty"`
	// Soak keeps each installed device under watch this long before it counts as
	// SUCCEEDED (0 = the configured default); SoakMaxReboots is how many reboots it may
	// take meanwhile (nil = the configured default).
	Soak           Duration `json:"soak,omitempty"`
	SoakMaxReboots *int     `json:"soak_max_reboots,omitempty"`
	// FUOTA overrides the LoRaWAN deployment settings for this campaign.
	FUOTA *FUOTAParams `json:"fuota,omitempty"`
}

// Wave is one stage. Count is a number of devices in this wave; Percent is the share of
// the whole campaign reached by the end of this wave (cumulative, like "10 %, 50 %,
// 100 %"). Exactly one is set. The last wave always runs to 100 %.
type Wave struct {
	Name    string  `json:"name,omitempty"`
	Count   int     `json:"count,omitempty"`
	Percent float64 `json:"percent,omitempty"`
}

// RatePolicy limits dispatches per minute: fixed, or exponential (AWS IoT Jobs' model:
// the rate grows by IncrementFactor after every AfterSucceeded successes). 0 = unlimited.
type RatePolicy struct {
	PerMinute   int              `json:"per_minute,omitempty"`
	Exponential *ExponentialRate `json:"exponential,omitempty"`
}

type ExponentialRate struct {
	BasePerMinute   int     `json:"base_per_minute"`
	IncrementFactor float64 `json:"increment_factor"`
	AfterSucceeded  int     `json:"after_succeeded"`
	MaxPerMinute    int     `json:"max_per_minute,omitempty"`
}

// GateMode decides how a campaign moves from one wave to the next.
type GateMode string

const (
	// GateAuto advances when the wave's success ratio reaches the threshold, and waits
	// for approval otherwise.
	GateAuto GateMode = "auto"
	// GateManual always waits for an explicit approval.
	GateManual GateMode = "manual"
)

type GatePolicy struct {
	Mode                    GateMode `json:"mode,omitempty"`
	SuccessThresholdPercent float64  `json:"success_threshold_percent,omitempty"`
}

// FailureType groups terminal states for abort rules and retry budgets.
type FailureType string

const (
	FailureFailed   FailureType = "FAILED" // FAILED or ROLLED_BACK
	FailureTimedOut FailureType = "TIMED_OUT"
	FailureRejected FailureType = "REJECTED"
	FailureAll      FailureType = "ALL"
)

// AbortRule stops a campaign when failures of a type exceed ThresholdPercent of the
// finished devices, once at least MinFinished devices have finished.
type AbortRule struct {
	FailureType      FailureType `json:"failure_type"`
	ThresholdPercent float64     `json:"threshold_percent"`
	MinFinished      int         `json:"min_finished"`
}

type AbortPolicy struct {
	Rules []AbortRule `json:"rules,omitempty"`
	// CancelInFlight cancels running device updates on abort (otherwise they finish).
	CancelInFlight bool `json:"cancel_in_flight,omitempty"`
}

// RetryBudget is how many extra runs a device gets per failure type.
type RetryBudget struct {
	Failed   int `json:"failed,omitempty"`
	TimedOut int `json:"timed_out,omitempty"`
	Rejected int `json:"rejected,omitempty"`
}

// MaintenanceWindow opens at every activation of Cron (standard 5-field syntax) in
// TimeZone and stays open for Duration. Outside it nothing new is dispatched.
type MaintenanceWindow struct {
	Cron     string   `json:"cron"`
	Duration Duration `json:"duration"`
	TimeZone string   `json:"time_zone"`
}

// CampaignControl is the payload of SignalCampaignControl.
type CampaignControl struct {
	Action ControlAction
	Reason string
}

// ControlAction is an operator's command to a running campaign.
type ControlAction string

const (
	ControlPause   ControlAction = "pause"
	ControlResume  ControlAction = "resume"
	ControlCancel  ControlAction = "cancel"
	ControlApprove ControlAction = "approve"
)

// SignalCampaignControl carries a CampaignControl to OTA_CAMPAIGN.
const SignalCampaignControl = "campaign_control"

// WaveStats counts one wave's finished devices.
type WaveStats struct {
	Index      int    `json:"index"`
	Name       string `json:"name,omitempty"`
	Size       int    `json:"size"`
	Dispatched int    `json:"dispatched"`
	Finished   int    `json:"finished"`
	Succeeded  int    `json:"succeeded"`
	Failed     int    `json:"failed"`
	TimedOut   int    `json:"timed_out"`
	Rejected   int    `json:"rejected"`
	Canceled   int    `json:"canceled"`
}
