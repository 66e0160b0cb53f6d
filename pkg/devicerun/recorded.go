package devicerun

import (
	"slices"
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// WithRecorded completes a run's state with the progress its device reported and the
// report consumer recorded instead of signaling (otaflow.QuietProgress): a run that is
// still following its device shows the state and percent the device reached, and the
// history of any run of that command shows when the device started downloading and
// installing. Progress of another command, or of none, changes nothing.
func WithRecorded(st otaflow.DeviceRunState, p otaflow.RunProgress) otaflow.DeviceRunState {
	if p.CommandID == "" || p.CommandID != st.CommandID {
		return st
	}
	if following(st.State) {
		if p.State.Rank() > st.State.Rank() && following(p.State) {
			st.State = p.State
		}
		st.ProgressPercent = max(st.ProgressPercent, min(max(p.ProgressPercent, 0), 100))
	}
	st.History = slices.Clone(st.History)
	for _, tr := range []struct {
		state model.DeviceState
		at    *time.Time
	}{{model.StateDownloading, p.DownloadingAt}, {model.StateInstalling, p.InstallingAt}} {
		if tr.at != nil {
			st.History = withTransition(st.History, tr.state, *tr.at)
		}
	}
	return st
}

// following: the run waits for its device's reports on the update command.
func following(s model.DeviceState) bool {
	return s == model.StateCommanded || s == model.StateDownloading || s == model.StateInstalling
}

// withTransition puts state into h after COMMANDED and any earlier progress state,
// unless h has it already or the run was never commanded.
func withTransition(h []otaflow.Transition, state model.DeviceState, at time.Time) []otaflow.Transition {
	if slices.ContainsFunc(h, func(t otaflow.Transition) bool { return t.State == state }) {
		return h
	}
	i := slices.IndexFunc(h, func(t otaflow.Transition) bool { return t.State == model.StateCommanded })
	if i < 0 {
		return h
	}
	i++
	for i < len(h) && following(h[i].State) && h[i].State.Rank() < state.Rank() {
		i++
	}
	return slices.Insert(h, i, otaflow.Transition{State: state, At: at})
}
