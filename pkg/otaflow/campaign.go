package otaflow

import (
	"fmt"
	"time"

	"github.com/otaplane/ota/pkg/model"
)

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

// FailureTypeOf classifies a terminal device state ("" for success or cancel).
func FailureTypeOf(s model.DeviceState) FailureType {
	switch s {
	case model.StateFailed, model.StateRolledBack:
		return FailureFailed
	case model.StateTimedOut:
		return FailureTimedOut
	case model.StateRejected:
		return FailureRejected
	}
	return ""
}

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

// For returns the budget for a failure type.
func (b RetryBudget) For(t FailureType) int {
	switch t {
	case FailureFailed:
		return b.Failed
	case FailureTimedOut:
		return b.TimedOut
	case FailureRejected:
		return b.Rejected
	}
	return 0
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

// Record counts one finished device run.
func (w *WaveStats) Record(s model.DeviceState) {
	w.Finished++
	switch {
	case s == model.StateSucceeded:
		w.Succeeded++
	case s == model.StateCanceled:
		w.Canceled++
	default:
		switch FailureTypeOf(s) {
		case FailureFailed:
			w.Failed++
		case FailureTimedOut:
			w.TimedOut++
		case FailureRejected:
			w.Rejected++
		}
	}
}

// Failures counts finished devices of a failure type.
func (w WaveStats) Failures(t FailureType) int {
	switch t {
	case FailureFailed:
		return w.Failed
	case FailureTimedOut:
		return w.TimedOut
	case FailureRejected:
		return w.Rejected
	case FailureAll:
		return w.Failed + w.TimedOut + w.Rejected
	}
	return 0
}

// WaveBounds splits total devices (in dispatch order) into waves: element i is the last
// sequence number of wave i. Every wave has at least one device while devices remain.
func WaveBounds(waves []Wave, total int) []int {
	if len(waves) == 0 {
		return []int{total}
	}
	bounds := make([]int, 0, len(waves))
	end := 0
	for i, w := range waves {
		next := end
		switch {
		case i == len(waves)-1:
			next = total
		case w.Count > 0:
			next = end + w.Count
		default:
			// Round up so a small percentage of a small fleet still gets a device.
			next = int((w.Percent*float64(total) + 99.999999) / 100)
		}
		next = max(min(next, total), min(end+1, total))
		bounds = append(bounds, next)
		end = next
	}
	return bounds
}

// Validate checks the policy; field names are relative to prefix.
func (p CampaignPolicy) Validate(prefix string) error {
	f := func(field, format string, args ...any) error {
		return fieldf(prefix+field, format, args...)
	}
	lastPct := 0.0
	for i, w := range p.Waves {
		name := fmt.Sprintf("waves[%d]", i)
		if err := model.ValidateText(prefix+name+".name", w.Name, model.MaxNameLen); err != nil {
			return err
		}
		switch {
		case w.Count < 0:
			return f(name+".count", "must not be negative")
		case w.Count > 0 && w.Percent != 0:
			return f(name, "set count or percent, not both")
		case w.Count == 0 && (w.Percent <= 0 || w.Percent > 100):
			return f(name+".percent", "must be in (0, 100] when count is not set")
		case w.Percent != 0 && w.Percent < lastPct:
			return f(name+".percent", "percentages are cumulative and must not decrease")
		}
		if w.Percent != 0 {
			lastPct = w.Percent
		}
	}
	if len(p.Waves) > 100 {
		return f("waves", "at most 100 waves")
	}
	if p.MaxInFlight < 0 || p.MaxInFlight > 100_000 {
		return f("max_in_flight", "must be between 0 (default) and 100000")
	}
	if p.Rate.PerMinute < 0 {
		return f("rate.per_minute", "must not be negative")
	}
	if e := p.Rate.Exponential; e != nil {
		switch {
		case p.Rate.PerMinute != 0:
			return f("rate", "set per_minute or exponential, not both")
		case e.BasePerMinute < 1:
			return f("rate.exponential.base_per_minute", "must be at least 1")
		case e.IncrementFactor < 1.1 || e.IncrementFactor > 5:
			return f("rate.exponential.increment_factor", "must be between 1.1 and 5")
		case e.AfterSucceeded < 1:
			return f("rate.exponential.after_succeeded", "must be at least 1")
		case e.MaxPerMinute != 0 && e.MaxPerMinute < e.BasePerMinute:
			return f("rate.exponential.max_per_minute", "must be at least base_per_minute")
		}
	}
	switch p.Gate.Mode {
	case "", GateAuto, GateManual:
	default:
		return f("gate.mode", "must be auto or manual")
	}
	if p.Gate.SuccessThresholdPercent < 0 || p.Gate.SuccessThresholdPercent > 100 {
		return f("gate.success_threshold_percent", "must be between 0 and 100")
	}
	for i, r := range p.Abort.Rules {
		name := fmt.Sprintf("abort.rules[%d]", i)
		switch r.FailureType {
		case FailureFailed, FailureTimedOut, FailureRejected, FailureAll:
		default:
			return f(name+".failure_type", "must be FAILED, TIMED_OUT, REJECTED or ALL")
		}
		if r.ThresholdPercent < 0 || r.ThresholdPercent > 100 {
			return f(name+".threshold_percent", "must be between 0 and 100")
		}
		if r.MinFinished < 0 {
			return f(name+".min_finished", "must not be negative")
		}
	}
	for _, r := range []struct {
		name string
		n    int
	}{{"retry.failed", p.Retry.Failed}, {"retry.timed_out", p.Retry.TimedOut}, {"retry.rejected", p.Retry.Rejected}} {
		if r.n < 0 || r.n > 10 {
			return f(r.name, "must be between 0 and 10")
		}
	}
	if p.Window != nil {
		if err := p.Window.Validate(prefix + "maintenance_window."); err != nil {
			return err
		}
	}
	if p.FUOTA != nil {
		if err := p.FUOTA.Validate(prefix + "fuota."); err != nil {
			return err
		}
	}
	if p.StepTimeout < 0 || p.InProgressTimeout < 0 {
		return f("step_timeout", "timeouts must not be negative")
	}
	if p.InProgressTimeout != 0 && p.InProgressTimeout.D() < time.Minute {
		return f("in_progress_timeout", "must be at least 1m")
	}
	if p.InProgressTimeout.D() > 7*24*time.Hour {
		return f("in_progress_timeout", "must be at most 168h")
	}
	if p.StepTimeout != 0 && p.InProgressTimeout != 0 && p.StepTimeout > p.InProgressTimeout {
		return f("step_timeout", "must not exceed in_progress_timeout")
	}
	if p.Soak < 0 || p.Soak.D() > 7*24*time.Hour {
		return f("soak", "must be between 0 and 168h")
	}
	if p.Soak != 0 && p.Soak.D() < time.Second {
		return f("soak", "must be at least 1s")
	}
	if p.SoakMaxReboots != nil && (*p.SoakMaxReboots < 0 || *p.SoakMaxReboots > 100) {
		return f("soak_max_reboots", "must be between 0 and 100")
	}
	return nil
}

// DevicePolicy is the per-device policy a campaign gives its device runs: the defaults
// with the rollout's overrides.
func (p CampaignPolicy) DevicePolicy(defaults UpdatePolicy) UpdatePolicy {
	out := defaults
	if p.StepTimeout > 0 {
		out.StepTimeout = p.StepTimeout.D()
		out.ProbeAfter = min(out.ProbeAfter, out.StepTimeout)
	}
	if p.InProgressTimeout > 0 {
		out.UpdateTimeout = p.InProgressTimeout.D()
	}
	if p.Soak > 0 {
		out.Soak = p.Soak.D()
	}
	if p.SoakMaxReboots != nil {
		out.SoakMaxReboots = *p.SoakMaxReboots
	}
	return out
}

func fieldf(field, format string, args ...any) error { return model.Fieldf(field, format, args...) }
