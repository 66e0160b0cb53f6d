package otaupdate

import (
	"go.uber.org/cadence/activity"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/otaflow"
)

// Registry is what a Cadence worker (or replayer, or test environment) registers on.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}

// Register registers the workflow and its activities under their contract names. The
// activities are registered even though the workflow runs them locally first: the names
// label the local-activity markers, and a step that keeps failing locally falls back to
// the regular activity.
func Register(r Registry, a *Activities) {
	f := NewFlow(a)
	r.RegisterWorkflowWithOptions(f.Run, workflow.RegisterOptions{Name: otaflow.UpdateDeviceWorkflow})
	r.RegisterWorkflowWithOptions(f.RunGroup, workflow.RegisterOptions{Name: otaflow.UpdateGroupWorkflow})
	for name, fn := range map[string]interface{}{
		otaflow.ActivityCheckDeviceReady:  a.CheckDeviceReady,
		otaflow.ActivitySendMQTTCommand:   a.SendMQTTCommand,
		otaflow.ActivityVerifyFirmware:    a.VerifyFirmware,
		otaflow.ActivityUpdateDevice:      a.UpdateDevice,
		otaflow.ActivityRollback:          a.Rollback,
		otaflow.ActivityCheckDeviceHealth: a.CheckDeviceHealth,
		otaflow.ActivityRunProgress:       a.RunProgress,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}
