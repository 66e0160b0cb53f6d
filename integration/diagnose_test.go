package integration

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	cadence "go.uber.org/cadence/client"

	"github.com/otaplane/ota/pkg/cadenceclient"
)

// explainWorkflow describes where a workflow stands — its pending activities and child
// runs (one level down) and its last history events — so a test that times out says
// what it was waiting for rather than only that it waited.
func explainWorkflow(tn tenant, workflowID string) string {
	c := tenantClient(tn)
	var b strings.Builder
	describeRun(&b, c, workflowID, "", 1)
	busySessions(&b)
	return b.String()
}

// busySessions lists the test database's sessions that are not idle — a statement
// waiting on a lock, or a transaction left open, would hold a workflow's activity.
func busySessions(b *strings.Builder) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cfg.Database.DSN)
	if err != nil {
		fmt.Fprintf(b, "\npg_stat_activity: %v", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid, state, coalesce(wait_event_type, ''), coalesce(wait_event, ''),
		extract(epoch FROM now() - coalesce(xact_start, query_start))::int, left(query, 200)
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`)
	if err != nil {
		fmt.Fprintf(b, "\npg_stat_activity: %v", err)
		return
	}
	defer rows.Close()
	fmt.Fprintf(b, "\n== database sessions not idle")
	for rows.Next() {
		var pid, secs int
		var state, waitType, wait, query string
		if err := rows.Scan(&pid, &state, &waitType, &wait, &secs, &query); err != nil {
			fmt.Fprintf(b, "\n  %v", err)
			return
		}
		fmt.Fprintf(b, "\n  pid %d %s for %ds wait %s/%s: %s", pid, state, secs, waitType, wait, query)
	}
}

func describeRun(b *strings.Builder, c cadence.Client, workflowID, runID string, depth int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		fmt.Fprintf(b, "\n%s: describe: %v", workflowID, err)
		return
	}
	info := d.GetWorkflowExecutionInfo()
	status := "RUNNING"
	if info.CloseStatus != nil {
		status = info.GetCloseStatus().String()
	}
	fmt.Fprintf(b, "\n== %s (run %s) %s, %d history events", workflowID, info.GetExecution().GetRunId(), status, info.GetHistoryLength())
	if pd := d.GetPendingDecision(); pd != nil {
		fmt.Fprintf(b, "\n  pending decision: %s attempt %d", pd.GetState(), pd.GetAttempt())
	}
	for _, a := range d.GetPendingActivities() {
		fmt.Fprintf(b, "\n  pending activity %s: %s attempt %d (scheduled %s, last started %s, expires %s), last failure %q %s",
			a.GetActivityType().GetName(), a.GetState(), a.GetAttempt(), clock(a.GetScheduledTimestamp()),
			clock(a.GetLastStartedTimestamp()), clock(a.GetExpirationTimestamp()), a.GetLastFailureReason(), a.GetLastFailureDetails())
	}
	for _, ch := range d.GetPendingChildren() {
		fmt.Fprintf(b, "\n  pending child %s (%s)", ch.GetWorkflowID(), ch.GetWorkflowTypName())
	}
	lastEvents(b, c, workflowID, info.GetExecution().GetRunId(), 12)
	if depth > 0 {
		for _, ch := range d.GetPendingChildren() {
			describeRun(b, c, ch.GetWorkflowID(), ch.GetRunID(), depth-1)
		}
	}
}

func lastEvents(b *strings.Builder, c cadence.Client, workflowID, runID string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events, err := cadenceclient.History(ctx, c, workflowID, runID)
	if err != nil {
		fmt.Fprintf(b, "\n  history: %v", err)
		return
	}
	for _, ev := range events[max(0, len(events)-n):] {
		fmt.Fprintf(b, "\n  #%d %s %s", ev.GetEventId(), clock(ev.GetTimestamp()), ev.GetEventType())
	}
}

// tenantClient reads a tenant's workflows in its Cadence domain.
func tenantClient(tn tenant) cadence.Client {
	return cadence.NewClient(cadenceConn.Service, cadenceclient.DomainName(cfg.Cadence.DomainPrefix, tn.ID), &cadence.Options{})
}

// clock is a Cadence timestamp (Unix nanoseconds) as a time of day, "-" when unset.
func clock(unixNano int64) string {
	if unixNano == 0 {
		return "-"
	}
	return time.Unix(0, unixNano).UTC().Format("15:04:05.000")
}
