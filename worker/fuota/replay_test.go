package fuota

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap/zaptest"
)

// TestReplayRecordedHistories replays runs recorded on a real Cadence server (see
// integration/history_export_test.go) to catch non-determinism: a one-device update, a
// campaign's deployment (with its device holds) and one hold.
func TestReplayRecordedHistories(t *testing.T) {
	for _, file := range []string{"fuota_history.json", "fuota_campaign_history.json", "device_hold_history.json"} {
		t.Run(file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r, &Activities{})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(zaptest.NewLogger(t), "testdata/"+file))
		})
	}
}
