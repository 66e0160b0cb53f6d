package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/.gen/go/shared"

	"github.com/otaplane/ota/pkg/cadenceclient"
)

// TestProgressIsRecordedNotSignaled: a device's progress on its update reaches
// GET /devices/{id}/ota through the database while the run waits, and the run's history
// holds one signal (the terminal report), however many progress reports the device
// sent. With the test's 1 s status_probe_after and 0.7 s between the device's steps, the
// run wakes while the device works and reads the recorded progress instead of asking.
func TestProgressIsRecordedNotSignaled(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("quiet", 1, "board-q", "1.0.0")
	tn.createDevices(fleet)
	tn.startFleetWith(fleet, 700*time.Millisecond) // each step takes long enough to be seen
	fw := tn.uploadFirmware("1.1.0", "board-q", image(100))
	// A tenant's Cadence domain may take a moment to reach every frontend: 503 says retry.
	var res map[string]any
	require.Eventually(t, func() bool {
		r := tn.do(http.MethodPut, "/api/v1/devices/"+fleet[0].ID+"/ota/update", map[string]any{"firmware_id": fw["id"]})
		require.Containsf(t, []int{http.StatusAccepted, http.StatusServiceUnavailable}, r.Status, "%s", r.Raw)
		res = r.Body
		return r.Status == http.StatusAccepted
	}, 30*time.Second, 250*time.Millisecond)

	seen := map[string]bool{}
	require.Eventually(t, func() bool {
		live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
		seen[live["state"].(string)] = true
		return seen["DOWNLOADING"] && seen["INSTALLING"]
	}, 30*time.Second, 100*time.Millisecond, "progress never showed: %v", seen)
	final := tn.waitRun(fleet[0].ID, time.Minute)
	require.Equal(t, "SUCCEEDED", final["state"])
	var states []string
	for _, h := range final["history"].([]any) {
		states = append(states, h.(map[string]any)["state"].(string))
	}
	assert.Equal(t, []string{"PENDING", "CHECKING", "COMMANDED", "DOWNLOADING", "INSTALLING", "VERIFYING", "SUCCEEDED"}, states)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events, err := cadenceclient.History(ctx, tenantClient(tn), res["workflow_id"].(string), res["run_id"].(string))
	require.NoError(t, err)
	count := map[shared.EventType]int{}
	steps := map[string]int{}
	for _, ev := range events {
		count[ev.GetEventType()]++
		if m := ev.MarkerRecordedEventAttributes; m != nil && m.GetMarkerName() == "LocalActivity" {
			var d struct{ ActivityType string }
			require.NoError(t, json.Unmarshal(m.GetDetails(), &d))
			steps[d.ActivityType]++
		}
	}
	assert.Equal(t, 1, count[shared.EventTypeWorkflowExecutionSignaled], "only the terminal report is a signal")
	assert.Equal(t, 1, steps["send_mqtt_command"], "the device was never asked where it stands: %v", steps)
	assert.Equal(t, count[shared.EventTypeTimerFired], steps["read_run_progress"], "each wake-up read the progress: %v", steps)
	assert.Equal(t, 2+count[shared.EventTypeTimerFired], int(count[shared.EventTypeDecisionTaskCompleted]),
		"a decision to command, one to finish, one per wake-up: %v", count)
}
