package store

import (
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// DispatchRow is one campaign device as a batch dispatch sees it.
type DispatchRow struct {
	otaflow.CampaignDeviceRef
	State      model.DeviceState
	WorkflowID string
	RunID      string
	// Attempts is the device's run count in the campaign (1 before any retry).
	Attempts int
	// Dispatched: a run was started for this attempt already (or the device was refused).
	Dispatched bool
}

// StartedRun is a device run a batch dispatch started.
type StartedRun struct {
	DeviceID   string
	WorkflowID string
	RunID      string
}

// RunRef names a run in flight for a campaign device (RunID empty: the workflow's current
// run, as for a FUOTA deployment).
type RunRef struct {
	DeviceID   string
	WorkflowID string
	RunID      string
}

// Claim names the run that holds a device (Held) or held it last.
type Claim struct {
	WorkflowID string
	RunID      string
	Held       bool
}

// Holds says whether the claim is held by the run named.
func (c Claim) Holds(workflowID, runID string) bool {
	return c.Held && c.WorkflowID == workflowID && c.RunID == runID
}
