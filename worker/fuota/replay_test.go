package fuota

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap/zaptest"
)

// TestReplayRecordedHistory replays a one-device FUOTA deployment recorded on a real
// Cadence server (see integration/history_export_test.go) to catch non-determinism.
func TestReplayRecordedHistory(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	Register(r, &Activities{})
	require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(zaptest.NewLogger(t), "testdata/fuota_history.json"))
}
