package lorawan

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

// Register registers both workflows and their activities under their contract names.
// The activities are registered although the workflows run them locally first: the
// names label the local-activity markers, and a step that keeps failing locally falls
// back to the regular activity.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(NewSyncFlow(a).Run, workflow.RegisterOptions{Name: otaflow.LoRaWANDeviceWorkflow})
	r.RegisterWorkflowWithOptions(NewReconcileFlow(a).Run, workflow.RegisterOptions{Name: otaflow.LoRaWANReconcileWorkflow})
	for name, fn := range map[string]interface{}{
		otaflow.ActivityLoRaWANCreate:       a.CreateChirpStackDevice,
		otaflow.ActivityLoRaWANSetKeys:      a.SetKeys,
		otaflow.ActivityLoRaWANMirror:       a.MirrorDevice,
		otaflow.ActivityLoRaWANRemove:       a.RemoveChirpStackDevice,
		otaflow.ActivityLoRaWANLoad:         a.LoadDevice,
		otaflow.ActivityLoRaWANGet:          a.GetChirpStackDevice,
		otaflow.ActivityLoRaWANPatch:        a.PatchChirpStackDevice,
		otaflow.ActivityLoRaWANUpdateMirror: a.UpdateMirror,
		otaflow.ActivityLoRaWANDeleteMirror: a.DeleteMirror,
		otaflow.ActivityReconcileScan:       a.ScanDrift,
		otaflow.ActivityReconcileRepair:     a.RepairDrift,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}
