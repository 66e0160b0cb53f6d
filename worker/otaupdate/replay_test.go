package otaupdate

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap/zaptest"
)

// TestReplayRecordedHistory replays a history recorded on a real Cadence server (see
// integration/history_export_test.go). A non-deterministic change to the workflow code
// makes this fail before it can break runs in flight.
func TestReplayRecordedHistory(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	// Activities are registered too: their names label the local-activity markers.
	Register(r, &Activities{})
	require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(zaptest.NewLogger(t), "testdata/update_device_history.json"))
}
