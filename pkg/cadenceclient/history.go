package cadenceclient

import (
	"context"
	"fmt"

	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/client"
)

// History returns every event of a workflow run (runID empty: the workflow's latest
// run), page by page as Cadence serves them.
func History(ctx context.Context, c client.Client, workflowID, runID string) ([]*shared.HistoryEvent, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, shared.HistoryEventFilterTypeAllEvent)
	var events []*shared.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", workflowID, err)
		}
		events = append(events, ev)
	}
	return events, nil
}
