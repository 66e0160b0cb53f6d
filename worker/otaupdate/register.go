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

// RegisterWorkflow registers OTA_UPDATE_DEVICE under its contract name.
func RegisterWorkflow(r interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
}) {
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: otaflow.UpdateDeviceWorkflow})
}

// Register registers the workflow and its activities under their contract names.
func Register(r Registry, a *Activities) {
	RegisterWorkflow(r)
	for name, fn := range map[string]interface{}{
		otaflow.ActivityCheckDeviceReady: a.checkReadyActivity,
		otaflow.ActivitySendMQTTCommand:  a.SendMQTTCommand,
		otaflow.ActivityVerifyFirmware:   a.VerifyFirmware,
		otaflow.ActivityUpdateDevice:     a.UpdateDevice,
		otaflow.ActivityRollback:         a.Rollback,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}
