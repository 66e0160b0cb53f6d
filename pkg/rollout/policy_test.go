package rollout

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestCampaignPolicyWaveNames(t *testing.T) {
	for name, field := range map[string]string{
		"canary":                                 "",
		"Welle 1 – Nord":                         "",
		"a\x00b":                                 "rollout.waves[0].name",
		"two\nlines":                             "rollout.waves[0].name",
		"\xff":                                   "rollout.waves[0].name",
		string(make([]byte, model.MaxNameLen+1)): "rollout.waves[0].name",
	} {
		err := Validate(otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Name: name, Percent: 50}, {Percent: 100}}}, "rollout.")
		if field == "" {
			assert.NoError(t, err, "%q", name)
			continue
		}
		var fe *model.FieldError
		require.True(t, errors.As(err, &fe), "%q: %v", name, err)
		assert.Equal(t, field, fe.Field)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	neg := -1
	tests := []struct {
		name  string
		p     otaflow.CampaignPolicy
		field string // "" = valid
	}{
		{"empty policy", otaflow.CampaignPolicy{}, ""},
		{"canary, then percentages", otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Count: 5}, {Percent: 50}, {Percent: 100}}}, ""},
		{"count and percent", otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Count: 5, Percent: 10}}}, "rollout.waves[0]"},
		{"negative count", otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Count: -1}}}, "rollout.waves[0].count"},
		{"percent over 100", otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Percent: 101}}}, "rollout.waves[0].percent"},
		{"percent decreasing", otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Percent: 50}, {Percent: 10}}}, "rollout.waves[1].percent"},
		{"too many waves", otaflow.CampaignPolicy{Waves: make101Waves()}, "rollout.waves"},
		{"in flight too high", otaflow.CampaignPolicy{MaxInFlight: 100_001}, "rollout.max_in_flight"},
		{"negative rate", otaflow.CampaignPolicy{Rate: otaflow.RatePolicy{PerMinute: -1}}, "rollout.rate.per_minute"},
		{"both rates", otaflow.CampaignPolicy{Rate: otaflow.RatePolicy{PerMinute: 5,
			Exponential: &otaflow.ExponentialRate{BasePerMinute: 1, IncrementFactor: 2, AfterSucceeded: 1}}}, "rollout.rate"},
		{"factor too high", otaflow.CampaignPolicy{Rate: otaflow.RatePolicy{
			Exponential: &otaflow.ExponentialRate{BasePerMinute: 1, IncrementFactor: 6, AfterSucceeded: 1}}},
			"rollout.rate.exponential.increment_factor"},
		{"max under base", otaflow.CampaignPolicy{Rate: otaflow.RatePolicy{
			Exponential: &otaflow.ExponentialRate{BasePerMinute: 10, IncrementFactor: 2, AfterSucceeded: 1, MaxPerMinute: 5}}},
			"rollout.rate.exponential.max_per_minute"},
		{"unknown gate", otaflow.CampaignPolicy{Gate: otaflow.GatePolicy{Mode: "sometimes"}}, "rollout.gate.mode"},
		{"threshold over 100", otaflow.CampaignPolicy{Gate: otaflow.GatePolicy{SuccessThresholdPercent: 101}},
			"rollout.gate.success_threshold_percent"},
		{"unknown failure type", otaflow.CampaignPolicy{Abort: otaflow.AbortPolicy{Rules: []otaflow.AbortRule{{FailureType: "OOPS"}}}},
			"rollout.abort.rules[0].failure_type"},
		{"retry over 10", otaflow.CampaignPolicy{Retry: otaflow.RetryBudget{TimedOut: 11}}, "rollout.retry.timed_out"},
		{"bad window", otaflow.CampaignPolicy{Window: &otaflow.MaintenanceWindow{Cron: "@daily", TimeZone: "UTC",
			Duration: otaflow.Duration(time.Hour)}}, "rollout.maintenance_window.cron"},
		{"step over in-progress", otaflow.CampaignPolicy{StepTimeout: otaflow.Duration(2 * time.Hour),
			InProgressTimeout: otaflow.Duration(time.Hour)}, "rollout.step_timeout"},
		{"in-progress under a minute", otaflow.CampaignPolicy{InProgressTimeout: otaflow.Duration(time.Second)},
			"rollout.in_progress_timeout"},
		{"soak too short", otaflow.CampaignPolicy{Soak: otaflow.Duration(time.Millisecond)}, "rollout.soak"},
		{"negative reboots", otaflow.CampaignPolicy{SoakMaxReboots: &neg}, "rollout.soak_max_reboots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.p, "rollout.")
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *model.FieldError
			require.True(t, errors.As(err, &fe), "want a FieldError, got %v", err)
			assert.Equal(t, tt.field, fe.Field)
		})
	}
}

func make101Waves() []otaflow.Wave {
	w := make([]otaflow.Wave, 101)
	for i := range w {
		w[i] = otaflow.Wave{Count: 1}
	}
	return w
}

func TestDevicePolicyOverrides(t *testing.T) {
	defaults := otaflow.UpdatePolicy{StepTimeout: 10 * time.Minute, UpdateTimeout: 2 * time.Hour, ProbeAfter: 15 * time.Second,
		Soak: 0, SoakMaxReboots: 1}
	two := 2
	tests := []struct {
		name string
		p    otaflow.CampaignPolicy
		want otaflow.UpdatePolicy
	}{
		{"no overrides", otaflow.CampaignPolicy{}, defaults},
		{"step timeout, probe kept under it", otaflow.CampaignPolicy{StepTimeout: otaflow.Duration(5 * time.Second)},
			otaflow.UpdatePolicy{StepTimeout: 5 * time.Second, UpdateTimeout: 2 * time.Hour, ProbeAfter: 5 * time.Second, SoakMaxReboots: 1}},
		{"in-progress and soak", otaflow.CampaignPolicy{InProgressTimeout: otaflow.Duration(time.Hour),
			Soak: otaflow.Duration(time.Minute), SoakMaxReboots: &two},
			otaflow.UpdatePolicy{StepTimeout: 10 * time.Minute, UpdateTimeout: time.Hour, ProbeAfter: 15 * time.Second,
				Soak: time.Minute, SoakMaxReboots: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, DevicePolicy(tt.p, defaults))
		})
	}
}
