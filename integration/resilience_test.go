package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/otaflow"
)

// TestWorkerCrashMidCampaignResumes kills the worker (SIGKILL) while device runs are in
// flight, starts a new one, and expects every device updated exactly once.
func TestWorkerCrashMidCampaignResumes(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("crash", 6, "board-k", "1.0.0")
	tn.createDevices(fleet)
	tn.startFleetWith(fleet, 700*time.Millisecond) // slow devices: runs are mid-flight when the worker dies
	fw := tn.uploadFirmware("1.1.0", "board-k", image(100))
	id := tn.createCampaign(map[string]any{"name": "crash", "firmware_id": fw["id"], "device_ids": ids(fleet),
		// Waits long enough to cover the worker's restart and Cadence moving its tasks on.
		"rollout": map[string]any{"max_in_flight": 3, "step_timeout": "2m", "in_progress_timeout": "5m"}})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	require.Eventually(t, func() bool {
		c := statusCounts(tn.status(id))
		return c["DOWNLOADING"]+c["INSTALLING"] > 0
	}, time.Minute, 100*time.Millisecond)

	worker.killForTest(t)
	time.Sleep(2 * time.Second)
	require.NoError(t, worker.start())

	st := tn.waitState(id, "COMPLETED", 2*time.Minute)
	assert.EqualValues(t, 6, statusCounts(st)["SUCCEEDED"], "%v", st)
	for _, s := range fleet {
		rows := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+s.ID+"/firmware-history", nil)["history"].([]any)
		assert.Lenf(t, rows, 1, "%s updated exactly once", s.ID)
	}
}

// TestCampaignHistoryStaysBounded runs a campaign past several continue-as-new points
// (test config: every 4 device runs) on the real server.
func TestCampaignHistoryStaysBounded(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("can", 11, "board-h", "1.0.0")
	tn.createDevices(fleet)
	tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-h", image(100))
	id := tn.createCampaign(map[string]any{"name": "long", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"max_in_flight": 3}})
	exec := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	st := tn.waitState(id, "COMPLETED", 2*time.Minute)
	assert.EqualValues(t, 11, statusCounts(st)["SUCCEEDED"])

	c := tenantClient(tn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflowExecution(ctx, otaflow.CampaignWorkflowID(id), "")
	require.NoError(t, err)
	latest := desc.WorkflowExecutionInfo.GetExecution().GetRunId()
	assert.NotEqual(t, exec["run_id"], latest, "the campaign continued as new")

	// Follow the chain from the first run: each run's history stays small.
	runs := 0
	for runID := exec["run_id"].(string); runID != ""; runs++ {
		events, err := cadenceclient.History(ctx, c, otaflow.CampaignWorkflowID(id), runID)
		require.NoError(t, err)
		next := ""
		for _, ev := range events {
			if a := ev.WorkflowExecutionContinuedAsNewEventAttributes; a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		assert.Less(t, len(events), 200, "run %s has %d events", runID, len(events))
		runID = next
	}
	assert.GreaterOrEqual(t, runs, 3, "11 devices at 4 per run span at least 3 runs")
}
