package rollout

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestRecordAndFailures(t *testing.T) {
	var w otaflow.WaveStats
	for _, s := range []model.DeviceState{model.StateSucceeded, model.StateFailed, model.StateRolledBack,
		model.StateTimedOut, model.StateRejected, model.StateCanceled, model.StateSucceeded} {
		Record(&w, s)
	}
	assert.Equal(t, otaflow.WaveStats{Finished: 7, Succeeded: 2, Failed: 2, TimedOut: 1, Rejected: 1, Canceled: 1}, w)
	tests := []struct {
		t    otaflow.FailureType
		want int
	}{
		{otaflow.FailureFailed, 2}, {otaflow.FailureTimedOut, 1}, {otaflow.FailureRejected, 1}, {otaflow.FailureAll, 4}, {"", 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Failures(w, tt.t), "failures of type %q", tt.t)
	}
}

func TestRetry(t *testing.T) {
	budget := otaflow.RetryBudget{Failed: 2, TimedOut: 1}
	tests := []struct {
		name     string
		f        Finished
		stopping bool
		want     bool
	}{
		{"rolled back, budget left", Finished{State: model.StateRolledBack, Retries: 1}, false, true},
		{"failed, budget spent", Finished{State: model.StateFailed, Retries: 2}, false, false},
		{"timed out once", Finished{State: model.StateTimedOut}, false, true},
		{"rejected: no budget", Finished{State: model.StateRejected}, false, false},
		{"refused by another update", Finished{State: model.StateFailed, Refused: true}, false, false},
		{"succeeded", Finished{State: model.StateSucceeded}, false, false},
		{"canceled", Finished{State: model.StateCanceled}, false, false},
		{"campaign stopping", Finished{State: model.StateFailed}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Retry(budget, tt.f, tt.stopping))
		})
	}
}
