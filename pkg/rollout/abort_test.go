package rollout

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/otaflow"
)

func TestAbortReason(t *testing.T) {
	all20 := otaflow.AbortRule{FailureType: otaflow.FailureAll, ThresholdPercent: 20, MinFinished: 3}
	timedOut50 := otaflow.AbortRule{FailureType: otaflow.FailureTimedOut, ThresholdPercent: 50, MinFinished: 4}
	tests := []struct {
		name  string
		rules []otaflow.AbortRule
		waves []otaflow.WaveStats
		want  string
	}{
		{"no rules", nil, []otaflow.WaveStats{{Finished: 5, Failed: 5}}, ""},
		{"over the threshold", []otaflow.AbortRule{all20}, []otaflow.WaveStats{{Finished: 5, Failed: 2, Succeeded: 3}},
			"ALL failures 2 of 5 finished exceed 20.0%"},
		{"at the threshold goes on", []otaflow.AbortRule{all20}, []otaflow.WaveStats{{Finished: 5, Failed: 1, Succeeded: 4}}, ""},
		{"too few finished", []otaflow.AbortRule{all20}, []otaflow.WaveStats{{Finished: 2, Failed: 2}}, ""},
		{"counts every wave", []otaflow.AbortRule{timedOut50},
			[]otaflow.WaveStats{{Finished: 2, TimedOut: 2}, {Finished: 2, TimedOut: 1, Succeeded: 1}},
			"TIMED_OUT failures 3 of 4 finished exceed 50.0%"},
		{"canceled do not count as finished", []otaflow.AbortRule{timedOut50},
			[]otaflow.WaveStats{{Finished: 5, TimedOut: 2, Canceled: 2, Succeeded: 1}}, ""},
		{"type filter", []otaflow.AbortRule{{FailureType: otaflow.FailureRejected, ThresholdPercent: 0, MinFinished: 1}},
			[]otaflow.WaveStats{{Finished: 3, Failed: 3}}, ""},
		{"zero threshold: first rejection", []otaflow.AbortRule{{FailureType: otaflow.FailureRejected, MinFinished: 1}},
			[]otaflow.WaveStats{{Finished: 3, Rejected: 1, Succeeded: 2}}, "REJECTED failures 1 of 3 finished exceed 0.0%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, AbortReason(otaflow.AbortPolicy{Rules: tt.rules}, tt.waves))
		})
	}
}
