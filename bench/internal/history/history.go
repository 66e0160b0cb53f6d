// Package history reads a workflow run's recorded history from Cadence, for the
// benchmarks' counts of events, decision tasks and signals.
package history

import (
	"context"

	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/client"
)

// Read returns every event of the run (runID empty: the workflow's latest run).
func Read(ctx context.Context, c client.Client, workflowID, runID string) ([]*shared.HistoryEvent, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, shared.HistoryEventFilterTypeAllEvent)
	var events []*shared.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}
