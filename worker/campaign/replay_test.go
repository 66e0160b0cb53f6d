package campaign

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap/zaptest"
)

// TestReplayRecordedHistories replays campaigns recorded on a real Cadence server (see
// integration/history_export_test.go) by each version of the workflow still in use, to
// catch non-determinism: today's code must replay every one of them.
func TestReplayRecordedHistories(t *testing.T) {
	for _, tt := range []struct{ name, file string }{
		// Two devices, one child workflow each (before batch-dispatch).
		{"children", "testdata/campaign_children_history.json"},
		// Two devices dispatched in a batch, outcomes collected (before wave-finished-event).
		{"batch", "testdata/campaign_batch_history.json"},
		// Two devices in two waves, each wave's end recorded.
		{"waves", "testdata/campaign_waves_history.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r, &Activities{})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(zaptest.NewLogger(t), tt.file))
		})
	}
}
