package campaign

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/worker"
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap/zaptest"

	"github.com/otaplane/ota/pkg/otaflow"
)

// TestReplayRecordedHistory replays a two-device campaign recorded on a real Cadence
// server (see integration/history_export_test.go) to catch non-determinism.
func TestReplayRecordedHistory(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(NewFlow(&Activities{}).Run, workflow.RegisterOptions{Name: otaflow.CampaignWorkflow})
	require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(zaptest.NewLogger(t), "testdata/campaign_history.json"))
}
