package store

import (
	"context"
	"encoding/json"
	"time"
)

// WebhookEndpoint is where a tenant's events are sent. Secret is only filled when the
// endpoint is created (shown once) or loaded for delivery.
type WebhookEndpoint struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"-"`
	URL        string    `json:"url"`
	EventTypes []string  `json:"event_types"`
	Enabled    bool      `json:"enabled"`
	CreatedAt  time.Time `json:"created_at"`
	Secret     string    `json:"-"`
}

// WebhookEvent is one event in the outbox: Seq orders it within its Stream.
type WebhookEvent struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"-"`
	Stream    string          `json:"stream"`
	Seq       int64           `json:"seq"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// WebhookAttempt is one delivery attempt of an event to an endpoint.
type WebhookAttempt struct {
	ID         int64     `json:"id"`
	EndpointID string    `json:"endpoint_id"`
	EventID    string    `json:"event_id"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int       `json:"duration_ms"`
	Delivered  bool      `json:"delivered"`
}

// WebhookPatch changes an endpoint; nil fields stay.
type WebhookPatch struct {
	URL        *string
	EventTypes []string
	Enabled    *bool
}

// WebhookStore keeps webhook endpoints, the event outbox and delivery attempts.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w WebhookEndpoint) (WebhookEndpoint, error)
	ListWebhooks(ctx context.Context, tenantID string, p Page) ([]WebhookEndpoint, error)
	UpdateWebhook(ctx context.Context, tenantID, id string, p WebhookPatch) (WebhookEndpoint, error)
	DeleteWebhook(ctx context.Context, tenantID, id string) error
	// WebhookForDelivery loads an endpoint with its secret; ErrNotFound once deleted.
	WebhookForDelivery(ctx context.Context, tenantID, id string) (WebhookEndpoint, error)
	// EnabledWebhooks lists the tenant's enabled endpoints.
	EnabledWebhooks(ctx context.Context, tenantID string) ([]WebhookEndpoint, error)
	// WebhookEventsAfter lists a stream's events after seq, in order.
	WebhookEventsAfter(ctx context.Context, tenantID, stream string, afterSeq int64, limit int) ([]WebhookEvent, error)
	GetWebhookEvent(ctx context.Context, tenantID, id string) (WebhookEvent, error)
	RecordWebhookAttempt(ctx context.Context, tenantID string, a WebhookAttempt) error
	// LastDeliveredSeq is the highest seq of stream the endpoint received (0 if none).
	LastDeliveredSeq(ctx context.Context, tenantID, endpointID, stream string) (int64, error)
	// ListWebhookAttempts pages newest first; beforeID 0 starts at the newest.
	ListWebhookAttempts(ctx context.Context, tenantID, endpointID string, beforeID int64, limit int) ([]WebhookAttempt, error)
}
