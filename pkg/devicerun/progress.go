package devicerun

import (
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// Progress returns the state a non-final report moves a run to, and whether it moves
// at all: states only go forward, so a late or restated ACCEPTED never undoes INSTALLING.
func Progress(current model.DeviceState, st otaflow.ReportStatus) (model.DeviceState, bool) {
	next, ok := st.ProgressState()
	if !ok || next.Rank() <= current.Rank() {
		return current, false
	}
	return next, true
}
