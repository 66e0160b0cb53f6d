package otaflow

import (
	"strconv"
	"strings"
	"time"

	"github.com/otaplane/ota/pkg/model"
)

// ActivityRunProgress reads what the report consumer recorded of a run's progress.
const ActivityRunProgress = "read_run_progress"

// CommandSeqQuietUpdate numbers the update command of a run that takes its device's
// progress reports (ACCEPTED, DOWNLOADING, INSTALLING) from the database instead of as
// signals: the report consumer records them there and signals only the reports that
// decide the run. A run reads them back when its device seems silent, before it asks.
// Runs that command with CommandSeqUpdate still get every report as a signal.
const CommandSeqQuietUpdate = 4

// QuietProgress says whether the device's progress on commandID is recorded rather than
// signaled.
func QuietProgress(commandID string) bool {
	i := strings.LastIndexByte(commandID, ':')
	return i > 0 && commandID[i+1:] == strconv.Itoa(CommandSeqQuietUpdate)
}

// RunProgress is what a device said about its latest quiet update command, as recorded.
type RunProgress struct {
	CommandID       string
	State           model.DeviceState
	ProgressPercent int
	// DownloadingAt and InstallingAt are when the run first reached those states; nil
	// when it has not (or the report skipped it).
	DownloadingAt *time.Time
	InstallingAt  *time.Time
	// HeardAt is when the last progress report was recorded.
	HeardAt time.Time
}

// RunProgressRequest is the input of read_run_progress.
type RunProgressRequest struct {
	TenantID, DeviceID, CommandID string
}
