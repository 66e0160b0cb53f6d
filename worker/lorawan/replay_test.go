package lorawan

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap/zaptest"
)

// TestReplayRecordedHistories replays histories recorded on a real Cadence server (see
// integration/history_export_test.go): a created device, a create that gave up while
// ChirpStack was down (regular-activity fallback, cleanup), and a reconcile with a
// repair. A non-deterministic change to the workflows makes this fail before it can
// break runs in flight.
func TestReplayRecordedHistories(t *testing.T) {
	for _, file := range []string{"device_sync_history.json", "device_sync_failed_history.json", "reconcile_history.json"} {
		t.Run(file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			// Activities are registered too: their names label the local-activity markers.
			Register(r, &Activities{})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(zaptest.NewLogger(t), "testdata/"+file))
		})
	}
}
