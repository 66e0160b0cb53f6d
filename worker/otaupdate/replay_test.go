package otaupdate

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap/zaptest"
)

// TestReplayRecordedHistories replays histories recorded on a real Cadence server (see
// integration/history_export_test.go), including runs recorded before changeDeviceTruth
// (update_device_before_truth_*) and before changeQuietProgress (update_device_truth_*),
// and a group run whose members install, fail and roll back, and go silent and are asked
// (update_group_mixed_*).
// A non-deterministic change to the workflow code makes this fail before it can break
// runs in flight.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			// Activities are registered too: their names label the local-activity markers.
			Register(r, &Activities{})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(zaptest.NewLogger(t), f))
		})
	}
}
