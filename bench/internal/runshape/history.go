package runshape

import (
	"context"
	"fmt"

	"go.uber.org/cadence/.gen/go/shared"

	"github.com/otaplane/ota/pkg/cadenceclient"
)

// countHistory reads the histories of up to historySample workflows, spread over the
// run, and sets the events, decision tasks and signals per device.
func (b *bench) countHistory(ctx context.Context, ids []string, groupSize int, r *Result) error {
	step := max(len(ids)/historySample, 1)
	var events, decisions, signals, devices int
	for i := 0; i < len(ids); i += step {
		evs, err := cadenceclient.History(ctx, b.client, ids[i], "")
		if err != nil {
			return err
		}
		events += len(evs)
		for _, ev := range evs {
			switch ev.GetEventType() {
			case shared.EventTypeDecisionTaskCompleted:
				decisions++
			case shared.EventTypeWorkflowExecutionSignaled:
				signals++
			}
		}
		devices += min(groupSize, r.Devices-i*groupSize)
	}
	if devices == 0 {
		return fmt.Errorf("no history read")
	}
	r.EventsPerDevice = float64(events) / float64(devices)
	r.DecisionTasksPerDevice = float64(decisions) / float64(devices)
	r.SignalsPerDevice = float64(signals) / float64(devices)
	return nil
}
