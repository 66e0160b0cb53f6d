package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/activity"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/webhook"
)

// Store is the part of the store delivery uses.
type Store interface {
	WebhookForDelivery(ctx context.Context, tenantID, id string) (store.WebhookEndpoint, error)
	EnabledWebhooks(ctx context.Context, tenantID string) ([]store.WebhookEndpoint, error)
	WebhookEventsAfter(ctx context.Context, tenantID, stream string, afterSeq int64, limit int) ([]store.WebhookEvent, error)
	GetWebhookEvent(ctx context.Context, tenantID, id string) (store.WebhookEvent, error)
	RecordWebhookAttempt(ctx context.Context, tenantID string, a store.WebhookAttempt) error
	LastDeliveredSeq(ctx context.Context, tenantID, endpointID, stream string) (int64, error)
}

// sendTimeout bounds one request to a receiver.
const sendTimeout = 10 * time.Second

// Activities sends events; HTTP refuses internal targets unless configured otherwise.
type Activities struct {
	Store Store
	HTTP  *http.Client
}

// NewHTTPClient is the client deliveries use: no proxy from the environment, no
// redirects, and every connection's address checked by the egress rules (so a name
// that resolves, or is rebound, to an internal address is refused).
func NewHTTPClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: webhook.DialControl(allowPrivate)}
	return &http.Client{
		Timeout:       sendTimeout,
		Transport:     &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NextEvents is webhook_next_events. It starts after the last event the endpoint
// received, so a new run (after a failed one, or a deleted history) resumes there.
func (a *Activities) NextEvents(ctx context.Context, r NextEventsRequest) (NextEvents, error) {
	if _, err := a.Store.WebhookForDelivery(ctx, r.TenantID, r.EndpointID); errors.Is(err, store.ErrNotFound) {
		return NextEvents{EndpointGone: true}, nil
	} else if err != nil {
		return NextEvents{}, err
	}
	delivered, err := a.Store.LastDeliveredSeq(ctx, r.TenantID, r.EndpointID, r.Stream)
	if err != nil {
		return NextEvents{}, err
	}
	evs, err := a.Store.WebhookEventsAfter(ctx, r.TenantID, r.Stream, max(r.AfterSeq, delivered), r.Limit)
	if err != nil {
		return NextEvents{}, err
	}
	out := NextEvents{Events: make([]EventRef, len(evs))}
	for i, e := range evs {
		out.Events[i] = EventRef{ID: e.ID, Seq: e.Seq}
	}
	return out, nil
}

// Payload is the JSON body of every webhook request.
type Payload struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Stream    string          `json:"stream"`
	Seq       int64           `json:"seq"`
	Data      json.RawMessage `json:"data"`
}

// Deliver is webhook_deliver: one signed POST, its attempt recorded. An event type the
// endpoint does not subscribe to is skipped.
func (a *Activities) Deliver(ctx context.Context, r DeliverRequest) error {
	ep, err := a.Store.WebhookForDelivery(ctx, r.TenantID, r.EndpointID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !ep.Enabled {
		return cadence.NewCustomError(reasonEndpointGone)
	}
	if err != nil {
		return err
	}
	ev, err := a.Store.GetWebhookEvent(ctx, r.TenantID, r.EventID)
	if err != nil {
		return err
	}
	if !slices.Contains(ep.EventTypes, ev.Type) {
		return nil
	}
	key, err := webhook.ParseSecret(ep.Secret)
	if err != nil {
		return cadence.NewCustomError(reasonEndpointGone, err.Error())
	}
	body, err := json.Marshal(Payload{ID: ev.ID, Type: ev.Type, CreatedAt: ev.CreatedAt, Stream: ev.Stream, Seq: ev.Seq,
		Data: ev.Payload})
	if err != nil {
		return err
	}
	start := time.Now()
	attempt := store.WebhookAttempt{EndpointID: ep.ID, EventID: ev.ID, Attempt: int(activity.GetInfo(ctx).Attempt) + 1,
		At: start}
	sendErr := a.send(ctx, ep.URL, webhook.SignedHeaders(key, ev.ID, start, body), body, &attempt)
	attempt.DurationMS = int(time.Since(start).Milliseconds())
	if sendErr != nil {
		attempt.Error = truncate(sendErr.Error(), 500)
	}
	if err := a.Store.RecordWebhookAttempt(ctx, r.TenantID, attempt); err != nil {
		return err
	}
	return sendErr
}

func (a *Activities) send(ctx context.Context, url string, h http.Header, body []byte, attempt *store.WebhookAttempt) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "otaplane-webhooks/1")
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	attempt.StatusCode = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	attempt.Delivered = true
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Registry is what a Cadence worker (or test environment) registers on.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}

// Register registers WEBHOOK_DELIVERY and its activities.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Deliver, workflow.RegisterOptions{Name: WorkflowType})
	r.RegisterActivityWithOptions(a.NextEvents, activity.RegisterOptions{Name: ActivityNextEvents})
	r.RegisterActivityWithOptions(a.Deliver, activity.RegisterOptions{Name: ActivityDeliver})
}

// Signaler signals-with-start a workflow (cadenceclient.Conn).
type Signaler interface {
	SignalWithStart(ctx context.Context, r cadenceclient.SignalStart) error
}

// Notifier wakes the delivery workflows of a stream once its events are in the outbox.
type Notifier struct {
	Store    Store
	Cadence  Signaler
	TaskList string
}

// Notify signals (starting it when needed) the delivery of stream to each of the
// tenant's enabled endpoints. It is idempotent: a repeated call only wakes a run that
// finds nothing new.
func (n *Notifier) Notify(ctx context.Context, tenantID, domain, stream string) error {
	eps, err := n.Store.EnabledWebhooks(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if err := n.Cadence.SignalWithStart(ctx, cadenceclient.SignalStart{Domain: domain, TaskList: n.TaskList,
			WorkflowType: WorkflowType, WorkflowID: WorkflowID(ep.ID, stream), Timeout: runTimeout,
			DecisionTimeout: 10 * time.Second, Input: DeliveryInput{TenantID: tenantID, EndpointID: ep.ID, Stream: stream},
			Signal: SignalEvents}); err != nil {
			return err
		}
	}
	return nil
}
