package rollout

import (
	"fmt"
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// Validate checks a rollout policy as the API receives it; field names are relative to
// prefix (e.g. "rollout.").
func Validate(p otaflow.CampaignPolicy, prefix string) error {
	f := func(field, format string, args ...any) error {
		return model.Fieldf(prefix+field, format, args...)
	}
	if err := validateWaves(p.Waves, prefix); err != nil {
		return err
	}
	if p.MaxInFlight < 0 || p.MaxInFlight > 100_000 {
		return f("max_in_flight", "must be between 0 (default) and 100000")
	}
	if err := validateRate(p.Rate, prefix); err != nil {
		return err
	}
	switch p.Gate.Mode {
	case "", otaflow.GateAuto, otaflow.GateManual:
	default:
		return f("gate.mode", "must be auto or manual")
	}
	if p.Gate.SuccessThresholdPercent < 0 || p.Gate.SuccessThresholdPercent > 100 {
		return f("gate.success_threshold_percent", "must be between 0 and 100")
	}
	for i, r := range p.Abort.Rules {
		name := fmt.Sprintf("abort.rules[%d]", i)
		switch r.FailureType {
		case otaflow.FailureFailed, otaflow.FailureTimedOut, otaflow.FailureRejected, otaflow.FailureAll:
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
		if err := ValidateWindow(*p.Window, prefix+"maintenance_window."); err != nil {
			return err
		}
	}
	if p.FUOTA != nil {
		if err := p.FUOTA.Validate(prefix + "fuota."); err != nil {
			return err
		}
	}
	return validateDeviceWaits(p, prefix)
}

func validateWaves(waves []otaflow.Wave, prefix string) error {
	lastPct := 0.0
	for i, w := range waves {
		name := prefix + fmt.Sprintf("waves[%d]", i)
		if err := model.ValidateText(name+".name", w.Name, model.MaxNameLen); err != nil {
			return err
		}
		switch {
		case w.Count < 0:
			return model.Fieldf(name+".count", "must not be negative")
		case w.Count > 0 && w.Percent != 0:
			return model.Fieldf(name, "set count or percent, not both")
		case w.Count == 0 && (w.Percent <= 0 || w.Percent > 100):
			return model.Fieldf(name+".percent", "must be in (0, 100] when count is not set")
		case w.Percent != 0 && w.Percent < lastPct:
			return model.Fieldf(name+".percent", "percentages are cumulative and must not decrease")
		}
		if w.Percent != 0 {
			lastPct = w.Percent
		}
	}
	if len(waves) > 100 {
		return model.Fieldf(prefix+"waves", "at most 100 waves")
	}
	return nil
}

func validateRate(r otaflow.RatePolicy, prefix string) error {
	f := func(field, msg string) error { return model.Fieldf(prefix+field, "%s", msg) }
	if r.PerMinute < 0 {
		return f("rate.per_minute", "must not be negative")
	}
	e := r.Exponential
	if e == nil {
		return nil
	}
	switch {
	case r.PerMinute != 0:
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
	return nil
}

// validateDeviceWaits checks the per-device overrides: step and in-progress timeouts,
// soak and the reboots allowed during it.
func validateDeviceWaits(p otaflow.CampaignPolicy, prefix string) error {
	f := func(field, msg string) error { return model.Fieldf(prefix+field, "%s", msg) }
	switch {
	case p.StepTimeout < 0 || p.InProgressTimeout < 0:
		return f("step_timeout", "timeouts must not be negative")
	case p.InProgressTimeout != 0 && p.InProgressTimeout.D() < time.Minute:
		return f("in_progress_timeout", "must be at least 1m")
	case p.InProgressTimeout.D() > 7*24*time.Hour:
		return f("in_progress_timeout", "must be at most 168h")
	case p.StepTimeout != 0 && p.InProgressTimeout != 0 && p.StepTimeout > p.InProgressTimeout:
		return f("step_timeout", "must not exceed in_progress_timeout")
	case p.Soak < 0 || p.Soak.D() > 7*24*time.Hour:
		return f("soak", "must be between 0 and 168h")
	case p.Soak != 0 && p.Soak.D() < time.Second:
		return f("soak", "must be at least 1s")
	case p.SoakMaxReboots != nil && (*p.SoakMaxReboots < 0 || *p.SoakMaxReboots > 100):
		return f("soak_max_reboots", "must be between 0 and 100")
	}
	return nil
}

// DevicePolicy is the per-device policy a campaign (or a single update with overrides)
// gives its device runs: the defaults with the rollout's overrides.
func DevicePolicy(p otaflow.CampaignPolicy, defaults otaflow.UpdatePolicy) otaflow.UpdatePolicy {
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
