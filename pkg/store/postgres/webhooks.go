package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/webhook"
)

// webhookPurpose binds a sealed secret to its endpoint.
func webhookPurpose(id string) string { return "webhook_endpoints.secret/" + id }

type webhookRow struct {
	ID           string
	TenantID     string
	URL          string
	EventTypes   []byte // JSON array
	SecretSealed string
	Enabled      bool
	CreatedAt    time.Time
}

const webhookColumns = `id, tenant_id, url, to_jsonb(event_types) AS event_types, secret_sealed, enabled, created_at`

func (r webhookRow) model() (store.WebhookEndpoint, error) {
	var types []string
	if err := json.Unmarshal(r.EventTypes, &types); err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("webhook %s event types: %w", r.ID, err)
	}
	return store.WebhookEndpoint{ID: r.ID, TenantID: r.TenantID, URL: r.URL, EventTypes: nonNil(types),
		Enabled: r.Enabled, CreatedAt: r.CreatedAt}, nil
}

func webhookModels(rows []webhookRow) ([]store.WebhookEndpoint, error) {
	out := make([]store.WebhookEndpoint, len(rows))
	for i, r := range rows {
		w, err := r.model()
		if err != nil {
			return nil, err
		}
		out[i] = w
	}
	return out, nil
}

// CreateWebhook implements store.WebhookStore.
func (s *Store) CreateWebhook(ctx context.Context, w store.WebhookEndpoint) (store.WebhookEndpoint, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if s.secrets == nil {
		return store.WebhookEndpoint{}, errNoSecrets
	}
	sealed, err := s.secrets.Seal([]byte(w.Secret), webhookPurpose(w.ID))
	if err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("seal webhook secret: %w", err)
	}
	var rows []webhookRow
	if err := s.conn(ctx).Raw(`INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret_sealed, enabled)
		VALUES (?, ?, ?, ?::text[], ?, ?) RETURNING `+webhookColumns,
		w.ID, w.TenantID, w.URL, textArray(w.EventTypes), sealed, w.Enabled).Scan(&rows).Error; err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("create webhook: %w", classify(err))
	}
	out, err := rows[0].model()
	out.Secret = w.Secret
	return out, err
}

// ListWebhooks implements store.WebhookStore.
func (s *Store) ListWebhooks(ctx context.Context, tenantID string, p store.Page) ([]store.WebhookEndpoint, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	q := s.conn(ctx).Table("webhook_endpoints").Select(webhookColumns).Where("tenant_id = ? AND deleted_at IS NULL", tenantID)
	if p.After != "" {
		if !model.IsUUID(p.After) {
			return nil, model.Fieldf("after", "must be the id of a webhook from the previous page")
		}
		q = q.Where(`(created_at, id) > (SELECT created_at, id FROM webhook_endpoints WHERE tenant_id = ? AND id = ?::uuid)`,
			tenantID, p.After)
	}
	var rows []webhookRow
	if err := q.Order("created_at, id").Limit(p.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list webhooks: %w", classify(err))
	}
	return webhookModels(rows)
}

// UpdateWebhook implements store.WebhookStore.
func (s *Store) UpdateWebhook(ctx context.Context, tenantID, id string, p store.WebhookPatch) (store.WebhookEndpoint, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if !model.IsUUID(id) {
		return store.WebhookEndpoint{}, fmt.Errorf("webhook %q: %w", id, store.ErrNotFound)
	}
	var types any
	if p.EventTypes != nil {
		types = textArray(p.EventTypes)
	}
	var rows []webhookRow
	if err := s.conn(ctx).Raw(`UPDATE webhook_endpoints SET url = COALESCE(?, url),
		event_types = COALESCE(?::text[], event_types), enabled = COALESCE(?, enabled)
		WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL RETURNING `+webhookColumns,
		p.URL, types, p.Enabled, tenantID, id).Scan(&rows).Error; err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("update webhook: %w", classify(err))
	}
	if len(rows) == 0 {
		return store.WebhookEndpoint{}, fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	return rows[0].model()
}

// DeleteWebhook implements store.WebhookStore: the endpoint stops receiving at once; its
// attempts stay listed.
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if !model.IsUUID(id) {
		return fmt.Errorf("webhook %q: %w", id, store.ErrNotFound)
	}
	res := s.conn(ctx).Exec(`UPDATE webhook_endpoints SET deleted_at = now(), enabled = false
		WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`, tenantID, id)
	if res.Error != nil {
		return fmt.Errorf("delete webhook: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// WebhookForDelivery implements store.WebhookStore.
func (s *Store) WebhookForDelivery(ctx context.Context, tenantID, id string) (store.WebhookEndpoint, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []webhookRow
	if err := s.conn(ctx).Raw(`SELECT `+webhookColumns+` FROM webhook_endpoints
		WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`, tenantID, id).Scan(&rows).Error; err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("webhook %s: %w", id, classify(err))
	}
	if len(rows) == 0 {
		return store.WebhookEndpoint{}, fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	w, err := rows[0].model()
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	if s.secrets == nil {
		return store.WebhookEndpoint{}, errNoSecrets
	}
	secret, err := s.secrets.Open(rows[0].SecretSealed, webhookPurpose(id))
	if errors.Is(err, secretbox.ErrOpen) {
		return store.WebhookEndpoint{}, store.ErrSecretUnreadable
	}
	if err != nil {
		return store.WebhookEndpoint{}, err
	}
	w.Secret = string(secret)
	return w, nil
}

// EnabledWebhooks implements store.WebhookStore.
func (s *Store) EnabledWebhooks(ctx context.Context, tenantID string) ([]store.WebhookEndpoint, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []webhookRow
	if err := s.conn(ctx).Raw(`SELECT `+webhookColumns+` FROM webhook_endpoints
		WHERE tenant_id = ? AND enabled AND deleted_at IS NULL ORDER BY created_at, id`, tenantID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("enabled webhooks: %w", classify(err))
	}
	return webhookModels(rows)
}

type webhookEventRow struct {
	ID        string
	TenantID  string
	Stream    string
	Seq       int64
	Type      string
	Payload   []byte
	CreatedAt time.Time
}

func (r webhookEventRow) model() store.WebhookEvent {
	return store.WebhookEvent{ID: r.ID, TenantID: r.TenantID, Stream: r.Stream, Seq: r.Seq, Type: r.Type,
		Payload: json.RawMessage(r.Payload), CreatedAt: r.CreatedAt}
}

// WebhookEventsAfter implements store.WebhookStore.
func (s *Store) WebhookEventsAfter(ctx context.Context, tenantID, stream string, afterSeq int64, limit int) ([]store.WebhookEvent, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []webhookEventRow
	if err := s.conn(ctx).Raw(`SELECT id, tenant_id, stream, seq, type, payload, created_at FROM webhook_events
		WHERE tenant_id = ? AND stream = ? AND seq > ? ORDER BY seq LIMIT ?`, tenantID, stream, afterSeq, limit).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook events: %w", classify(err))
	}
	out := make([]store.WebhookEvent, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}

// GetWebhookEvent implements store.WebhookStore.
func (s *Store) GetWebhookEvent(ctx context.Context, tenantID, id string) (store.WebhookEvent, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []webhookEventRow
	if err := s.conn(ctx).Raw(`SELECT id, tenant_id, stream, seq, type, payload, created_at FROM webhook_events
		WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&rows).Error; err != nil {
		return store.WebhookEvent{}, fmt.Errorf("webhook event %s: %w", id, classify(err))
	}
	if len(rows) == 0 {
		return store.WebhookEvent{}, fmt.Errorf("webhook event %s: %w", id, store.ErrNotFound)
	}
	return rows[0].model(), nil
}

// outboxEvent is one event to append to a stream.
type outboxEvent struct {
	Type    webhook.EventType
	Payload []byte
}

// eventsOf gives each type the same payload.
func eventsOf(types []webhook.EventType, payload []byte) []outboxEvent {
	out := make([]outboxEvent, len(types))
	for i, t := range types {
		out[i] = outboxEvent{Type: t, Payload: payload}
	}
	return out
}

// lockStream takes the stream's transaction-scoped lock, which keeps its numbers gapless
// under concurrent writers (state changes, collected outcomes, finished waves).
func lockStream(tx *gorm.DB, tenantID, stream string) error {
	return classify(tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, "webhook:"+tenantID+":"+stream).Error)
}

// appendWebhookEvents writes events of one stream to the outbox inside tx, numbered
// after the stream's last, in the order given.
func appendWebhookEvents(tx *gorm.DB, tenantID, stream string, events []outboxEvent) error {
	if len(events) == 0 {
		return nil
	}
	if err := lockStream(tx, tenantID, stream); err != nil {
		return err
	}
	var last int64
	if err := tx.Raw(`SELECT COALESCE(max(seq), 0) FROM webhook_events WHERE tenant_id = ? AND stream = ?`,
		tenantID, stream).Scan(&last).Error; err != nil {
		return classify(err)
	}
	for i, e := range events {
		if err := tx.Exec(`INSERT INTO webhook_events (id, tenant_id, stream, seq, type, payload)
			VALUES (?, ?, ?, ?, ?, ?::jsonb)`, uuid.NewString(), tenantID, stream, last+int64(i)+1, string(e.Type),
			string(e.Payload)).Error; err != nil {
			return classify(err)
		}
	}
	return nil
}

// RecordWebhookAttempt implements store.WebhookStore.
func (s *Store) RecordWebhookAttempt(ctx context.Context, tenantID string, a store.WebhookAttempt) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.conn(ctx).Exec(`INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, attempt, at,
		status_code, error, duration_ms, delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenantID, a.EndpointID, a.EventID,
		a.Attempt, a.At, a.StatusCode, a.Error, a.DurationMS, a.Delivered).Error; err != nil {
		return fmt.Errorf("record webhook attempt: %w", classify(err))
	}
	return nil
}

// LastDeliveredSeq implements store.WebhookStore.
func (s *Store) LastDeliveredSeq(ctx context.Context, tenantID, endpointID, stream string) (int64, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var seq int64
	if err := s.conn(ctx).Raw(`SELECT COALESCE(max(e.seq), 0) FROM webhook_deliveries d
		JOIN webhook_events e ON e.id = d.event_id
		WHERE d.tenant_id = ? AND d.endpoint_id = ? AND d.delivered AND e.stream = ?`, tenantID, endpointID, stream).
		Scan(&seq).Error; err != nil {
		return 0, fmt.Errorf("last delivered: %w", classify(err))
	}
	return seq, nil
}

// ListWebhookAttempts implements store.WebhookStore.
func (s *Store) ListWebhookAttempts(ctx context.Context, tenantID, endpointID string, beforeID int64, limit int) ([]store.WebhookAttempt, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if !model.IsUUID(endpointID) {
		return nil, fmt.Errorf("webhook %q: %w", endpointID, store.ErrNotFound)
	}
	var n int64
	if err := s.conn(ctx).Raw(`SELECT count(*) FROM webhook_endpoints WHERE tenant_id = ? AND id = ?`, tenantID, endpointID).
		Scan(&n).Error; err != nil {
		return nil, fmt.Errorf("webhook attempts: %w", classify(err))
	}
	if n == 0 {
		return nil, fmt.Errorf("webhook %s: %w", endpointID, store.ErrNotFound)
	}
	q := s.conn(ctx).Table("webhook_deliveries").Select(`id, endpoint_id, event_id, attempt, at, status_code, error,
		duration_ms, delivered`).Where("tenant_id = ? AND endpoint_id = ?", tenantID, endpointID)
	if beforeID > 0 {
		q = q.Where("id < ?", beforeID)
	}
	out := make([]store.WebhookAttempt, 0, limit)
	if err := q.Order("id DESC").Limit(limit).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("webhook attempts: %w", classify(err))
	}
	return out, nil
}
