package rollout

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/otaflow"
)

func TestCutWaves(t *testing.T) {
	tests := []struct {
		name  string
		waves []otaflow.Wave
		total int
		want  []int
	}{
		{"no waves", nil, 10, []int{10}},
		{"canary then percentages", []otaflow.Wave{{Count: 10}, {Percent: 10}, {Percent: 50}, {Percent: 100}}, 1000, []int{10, 100, 500, 1000}},
		{"small fleet keeps a device per wave", []otaflow.Wave{{Percent: 1}, {Percent: 2}, {Percent: 100}}, 3, []int{1, 2, 3}},
		{"count larger than fleet", []otaflow.Wave{{Count: 50}, {Percent: 100}}, 5, []int{5, 5}},
		{"last wave runs to the end", []otaflow.Wave{{Count: 2}, {Percent: 40}}, 10, []int{2, 10}},
		{"percentages round up", []otaflow.Wave{{Percent: 0.5}, {Percent: 100}}, 10, []int{1, 10}},
		{"empty fleet", []otaflow.Wave{{Count: 1}, {Percent: 100}}, 0, []int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CutWaves(tt.waves, tt.total); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("CutWaves = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewWaveStats(t *testing.T) {
	waves := []otaflow.Wave{{Name: "canary", Count: 2}, {Percent: 100}}
	got := NewWaveStats(waves, CutWaves(waves, 10))
	assert.Equal(t, []otaflow.WaveStats{{Index: 0, Name: "canary", Size: 2}, {Index: 1, Size: 8}}, got)
	assert.Equal(t, 2, WaveStart([]int{2, 10}, 1))
	assert.Equal(t, 0, WaveStart([]int{2, 10}, 0))
}
