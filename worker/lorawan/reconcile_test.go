package lorawan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/otaflow"
)

var drift = otaflow.ReconcileScan{
	Checked:                  3,
	MissingInChirpStack:      []otaflow.DriftDevice{{DeviceID: "db-only", DevEUI: "ffffffffffffffff"}},
	MissingInChirpStackCount: 1,
	MissingInDB:              []otaflow.DriftDevice{{DevEUI: testDevEUI, Name: "found"}},
	MissingInDBCount:         1,
	ProfileMismatch: []otaflow.ProfileMismatch{{DeviceID: "d-1", DevEUI: "0000000000000001", DBProfileID: "a",
		ChirpStackProfileID: "b"}},
	ProfileMismatchCount: 2,
}

func reconcileEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(zap.NewNop())
	env := ts.NewTestWorkflowEnvironment()
	Register(env, &Activities{})
	return env
}

func TestReconcileReportsAndRepairs(t *testing.T) {
	env := reconcileEnv(t)
	env.OnActivity(otaflow.ActivityReconcileScan, mock.Anything, mock.Anything).Return(drift, nil).Once()
	repaired := []otaflow.Repair{{DeviceID: testDevEUI, DevEUI: testDevEUI, Action: otaflow.RepairMirrored},
		{DeviceID: "d-1", DevEUI: "0000000000000001", Action: otaflow.RepairProfileUpdated}}
	env.OnActivity(otaflow.ActivityReconcileRepair, mock.Anything, otaflow.RepairRequest{TenantID: "tenant-1",
		MissingInDB: drift.MissingInDB, ProfileMismatch: drift.ProfileMismatch}).Return(repaired, nil).Once()
	env.ExecuteWorkflow(otaflow.LoRaWANReconcileWorkflow, otaflow.ReconcileInput{TenantID: "tenant-1"})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var rep otaflow.ReconcileReport
	require.NoError(t, env.GetWorkflowResult(&rep))
	assert.Equal(t, 3, rep.Checked)
	assert.Equal(t, drift.MissingInChirpStack, rep.MissingInChirpStack)
	assert.Equal(t, drift.MissingInDB, rep.MissingInDB)
	assert.Equal(t, repaired, rep.Repaired)
	assert.Equal(t, otaflow.ReconcileCounts{MissingInChirpStack: 1, MissingInDB: 1, ProfileMismatch: 2, Repaired: 2}, rep.Counts)
	assert.True(t, rep.Truncated, "one profile mismatch is beyond the list")
	env.AssertExpectations(t)
}

func TestReconcileReportOnlyRepairsNothing(t *testing.T) {
	env := reconcileEnv(t)
	env.OnActivity(otaflow.ActivityReconcileScan, mock.Anything, mock.Anything).Return(drift, nil).Once()
	env.ExecuteWorkflow(otaflow.LoRaWANReconcileWorkflow, otaflow.ReconcileInput{TenantID: "tenant-1", ReportOnly: true})

	require.NoError(t, env.GetWorkflowError())
	var rep otaflow.ReconcileReport
	require.NoError(t, env.GetWorkflowResult(&rep))
	assert.Empty(t, rep.Repaired)
	assert.NotNil(t, rep.Repaired, "empty lists are [] in the report, not null")
}

func TestReconcileFailsClearlyWhenChirpStackIsDown(t *testing.T) {
	env := reconcileEnv(t)
	env.OnActivity(otaflow.ActivityReconcileScan, mock.Anything, mock.Anything).Return(otaflow.ReconcileScan{},
		transient("connection refused"))
	env.ExecuteWorkflow(otaflow.LoRaWANReconcileWorkflow, otaflow.ReconcileInput{TenantID: "tenant-1",
		Policy: otaflow.LoRaWANSyncPolicy{RetryWindow: 5 * time.Second}})

	require.True(t, env.IsWorkflowCompleted())
	ce, ok := customError(env.GetWorkflowError())
	require.True(t, ok)
	assert.Equal(t, otaflow.LoRaWANFailUnavailable, ce.Reason())
	assert.Contains(t, details(ce).Message, "ChirpStack did not answer within the retry window (5s) to list the devices")
}
