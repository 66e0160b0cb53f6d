// Package webhook delivers a tenant's events to its webhook endpoints: one
// WEBHOOK_DELIVERY workflow per endpoint and stream (a campaign) sends the stream's
// events in order, each send an activity retried with backoff, so a receiver that is
// down gets everything once it is back and a worker crash neither loses nor reorders
// events (a redelivery carries the same event id).
package webhook

import (
	"errors"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/workflow"
)

// Contract names.
const (
	WorkflowType       = "WEBHOOK_DELIVERY"
	SignalEvents       = "events"
	ActivityNextEvents = "webhook_next_events"
	ActivityDeliver    = "webhook_deliver"
	// reasonEndpointGone ends a delivery: the endpoint was deleted or disabled.
	reasonEndpointGone = "webhook_endpoint_gone"
)

const (
	// eventsPerRun bounds a run's history; the run then continues as new.
	eventsPerRun = 200
	// pageSize is how many events one look at the outbox returns.
	pageSize = 50
	// idleFor is how long a run with nothing to send waits for more before it ends; a
	// later event starts a new run.
	idleFor = 10 * time.Minute
	// runTimeout bounds one run: it outlives the retries of one event.
	runTimeout = 30 * 24 * time.Hour
	// giveUpAfter is how long one event is retried; the run then fails and the next
	// event's signal starts a run that tries it again.
	giveUpAfter = 72 * time.Hour
)

// WorkflowID is the delivery workflow of one endpoint and stream.
func WorkflowID(endpointID, stream string) string { return "webhook:" + endpointID + ":" + stream }

// DeliveryInput names the endpoint and stream; AfterSeq is the last event handled.
type DeliveryInput struct {
	TenantID   string
	EndpointID string
	Stream     string
	AfterSeq   int64
}

// NextEventsRequest asks for a stream's next events for an endpoint.
type NextEventsRequest struct {
	TenantID   string
	EndpointID string
	Stream     string
	AfterSeq   int64
	Limit      int
}

// EventRef is one event to send.
type EventRef struct {
	ID  string
	Seq int64
}

// NextEvents answers NextEventsRequest.
type NextEvents struct {
	Events []EventRef
	// EndpointGone: the endpoint was deleted or disabled; the delivery ends.
	EndpointGone bool
}

// DeliverRequest sends one event to one endpoint.
type DeliverRequest struct {
	TenantID   string
	EndpointID string
	EventID    string
}

// Deliver is WEBHOOK_DELIVERY.
func Deliver(ctx workflow.Context, in DeliveryInput) error {
	signals := workflow.GetSignalChannel(ctx, SignalEvents)
	listCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToStartTimeout: 10 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy: &cadence.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, ExpirationInterval: 24 * time.Hour},
	})
	sendCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToStartTimeout: 10 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy: &cadence.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, ExpirationInterval: giveUpAfter,
			NonRetriableErrorReasons: []string{reasonEndpointGone}},
	})
	sent := 0
	for {
		for signals.ReceiveAsync(nil) {
		}
		var next NextEvents
		if err := workflow.ExecuteActivity(listCtx, ActivityNextEvents, NextEventsRequest{TenantID: in.TenantID,
			EndpointID: in.EndpointID, Stream: in.Stream, AfterSeq: in.AfterSeq, Limit: pageSize}).Get(ctx, &next); err != nil {
			return err
		}
		if next.EndpointGone {
			return nil
		}
		for _, ev := range next.Events {
			err := workflow.ExecuteActivity(sendCtx, ActivityDeliver, DeliverRequest{TenantID: in.TenantID,
				EndpointID: in.EndpointID, EventID: ev.ID}).Get(ctx, nil)
			var custom *cadence.CustomError
			if errors.As(err, &custom) && custom.Reason() == reasonEndpointGone {
				return nil
			}
			if err != nil {
				return err
			}
			in.AfterSeq = ev.Seq
			sent++
		}
		if sent >= eventsPerRun {
			return workflow.NewContinueAsNewError(ctx, WorkflowType, in)
		}
		if len(next.Events) > 0 {
			continue
		}
		woken := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(signals, func(c workflow.Channel, _ bool) { c.Receive(ctx, nil); woken = true })
		sel.AddFuture(workflow.NewTimer(ctx, idleFor), func(workflow.Future) {})
		sel.Select(ctx)
		if !woken {
			return nil
		}
	}
}
