package app

import (
	"testing"
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestLaterRun(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	run := func(id string, state model.DeviceState, started time.Time) otaflow.DeviceRunState {
		return otaflow.DeviceRunState{RunID: id, State: state, History: []otaflow.Transition{{State: model.StatePending, At: started}}}
	}
	tests := []struct {
		name        string
		member, own otaflow.DeviceRunState
		want        string
	}{
		{"a single update after the group", run("m", model.StateSucceeded, t0), run("o", model.StateSucceeded, t0.Add(time.Hour)), "o"},
		{"the group after an old single update", run("m", model.StateSucceeded, t0.Add(time.Hour)), run("o", model.StateFailed, t0), "m"},
		{"a single update still running, started first", run("m", model.StateRejected, t0.Add(time.Minute)), run("o", model.StateCommanded, t0), "o"},
		{"a single update whose state has no history", run("m", model.StateSucceeded, t0), otaflow.DeviceRunState{RunID: "o", State: model.StateSucceeded}, "m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := laterRun(tt.member, tt.own); got.RunID != tt.want {
				t.Fatalf("laterRun = %s, want %s", got.RunID, tt.want)
			}
		})
	}
}
