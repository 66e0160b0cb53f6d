package rollout

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/otaflow"
)

func TestGateOpen(t *testing.T) {
	auto90 := otaflow.GatePolicy{Mode: otaflow.GateAuto, SuccessThresholdPercent: 90}
	tests := []struct {
		name     string
		g        otaflow.GatePolicy
		w        otaflow.WaveStats
		approved bool
		want     bool
	}{
		{"no gate", otaflow.GatePolicy{}, otaflow.WaveStats{Finished: 10, Failed: 10}, false, true},
		{"auto, threshold reached", auto90, otaflow.WaveStats{Finished: 10, Succeeded: 9, Failed: 1}, false, true},
		{"auto, threshold missed", auto90, otaflow.WaveStats{Finished: 10, Succeeded: 8, Failed: 2}, false, false},
		{"auto, canceled left out", auto90, otaflow.WaveStats{Finished: 12, Succeeded: 9, Failed: 1, Canceled: 2}, false, true},
		{"auto, only canceled", auto90, otaflow.WaveStats{Finished: 3, Canceled: 3}, false, true},
		{"auto, missed but approved", auto90, otaflow.WaveStats{Finished: 10, Failed: 10}, true, true},
		{"manual waits", otaflow.GatePolicy{Mode: otaflow.GateManual}, otaflow.WaveStats{Finished: 5, Succeeded: 5}, false, false},
		{"manual, approved", otaflow.GatePolicy{Mode: otaflow.GateManual}, otaflow.WaveStats{}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, GateOpen(tt.g, tt.w, tt.approved))
		})
	}
}
