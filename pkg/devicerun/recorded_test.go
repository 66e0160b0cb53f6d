package devicerun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestWithRecorded(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ptr := func(s int) *time.Time { v := at(s); return &v }
	hist := func(states ...model.DeviceState) []otaflow.Transition {
		h := make([]otaflow.Transition, len(states))
		for i, s := range states {
			h[i] = otaflow.Transition{State: s, At: at(i)}
		}
		return h
	}
	const cmd = "0b5e4f5a-1f2c-4b4e-9d43-2b8e2f6d9a11:4"
	commanded := otaflow.DeviceRunState{CommandID: cmd, State: model.StateCommanded,
		History: hist(model.StatePending, model.StateChecking, model.StateCommanded)}
	tests := []struct {
		name        string
		st          otaflow.DeviceRunState
		p           otaflow.RunProgress
		wantState   model.DeviceState
		wantPercent int
		wantHistory []model.DeviceState
	}{
		{"another command's progress changes nothing", commanded,
			otaflow.RunProgress{CommandID: "other:4", State: model.StateInstalling, InstallingAt: ptr(9)},
			model.StateCommanded, 0, []model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded}},
		{"no recorded progress changes nothing", commanded, otaflow.RunProgress{},
			model.StateCommanded, 0, []model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded}},
		{"downloading shows state, percent and transition", commanded,
			otaflow.RunProgress{CommandID: cmd, State: model.StateDownloading, ProgressPercent: 40, DownloadingAt: ptr(5)},
			model.StateDownloading, 40, []model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded,
				model.StateDownloading}},
		{"percent is bounded", commanded,
			otaflow.RunProgress{CommandID: cmd, State: model.StateDownloading, ProgressPercent: 140, DownloadingAt: ptr(5)},
			model.StateDownloading, 100, []model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded,
				model.StateDownloading}},
		{"a finished run keeps its state and gains the transitions in place",
			otaflow.DeviceRunState{CommandID: cmd, State: model.StateSucceeded, ProgressPercent: 100,
				History: hist(model.StatePending, model.StateChecking, model.StateCommanded, model.StateVerifying, model.StateSucceeded)},
			otaflow.RunProgress{CommandID: cmd, State: model.StateInstalling, DownloadingAt: ptr(5), InstallingAt: ptr(6)},
			model.StateSucceeded, 100, []model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded,
				model.StateDownloading, model.StateInstalling, model.StateVerifying, model.StateSucceeded}},
		{"a transition the run already has is not repeated",
			otaflow.DeviceRunState{CommandID: cmd, State: model.StateDownloading,
				History: hist(model.StatePending, model.StateChecking, model.StateCommanded, model.StateDownloading)},
			otaflow.RunProgress{CommandID: cmd, State: model.StateInstalling, DownloadingAt: ptr(5), InstallingAt: ptr(6)},
			model.StateInstalling, 0, []model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded,
				model.StateDownloading, model.StateInstalling}},
		{"progress never moves a run back",
			otaflow.DeviceRunState{CommandID: cmd, State: model.StateInstalling, ProgressPercent: 100,
				History: hist(model.StatePending, model.StateChecking, model.StateCommanded, model.StateInstalling)},
			otaflow.RunProgress{CommandID: cmd, State: model.StateDownloading, ProgressPercent: 30, DownloadingAt: ptr(5)},
			model.StateInstalling, 100, []model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded,
				model.StateDownloading, model.StateInstalling}},
		{"a run never commanded gains no transition",
			otaflow.DeviceRunState{CommandID: cmd, State: model.StateRejected, History: hist(model.StatePending, model.StateRejected)},
			otaflow.RunProgress{CommandID: cmd, State: model.StateDownloading, DownloadingAt: ptr(5)},
			model.StateRejected, 0, []model.DeviceState{model.StatePending, model.StateRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.st.History)
			got := WithRecorded(tt.st, tt.p)
			assert.Equal(t, tt.wantState, got.State)
			assert.Equal(t, tt.wantPercent, got.ProgressPercent)
			var states []model.DeviceState
			for _, h := range got.History {
				states = append(states, h.State)
			}
			assert.Equal(t, tt.wantHistory, states)
			assert.Len(t, tt.st.History, before, "the input's history is not changed")
		})
	}
}

func TestQuietProgress(t *testing.T) {
	const run = "0b5e4f5a-1f2c-4b4e-9d43-2b8e2f6d9a11"
	tests := []struct {
		commandID string
		want      bool
	}{
		{otaflow.CommandID(run, otaflow.CommandSeqQuietUpdate), true},
		{otaflow.CommandID(run, otaflow.CommandSeqUpdate), false},
		{otaflow.CommandID(run, otaflow.CommandSeqStatusRequest+4), false},
		{otaflow.CommandID(run, 40), false},
		{"4", false},
		{"", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, otaflow.QuietProgress(tt.commandID), tt.commandID)
	}
}
