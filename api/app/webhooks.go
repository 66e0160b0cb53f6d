package app

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/webhook"
)

// WebhookService manages a tenant's webhook endpoints and shows their delivery attempts.
type WebhookService interface {
	CreateWebhook(ctx context.Context, c Caller, req NewWebhook) (CreatedWebhook, error)
	ListWebhooks(ctx context.Context, c Caller, p store.Page) ([]store.WebhookEndpoint, error)
	UpdateWebhook(ctx context.Context, c Caller, id string, req WebhookChange) (store.WebhookEndpoint, error)
	DeleteWebhook(ctx context.Context, c Caller, id string) error
	WebhookAttempts(ctx context.Context, c Caller, id string, beforeID int64, limit int) ([]store.WebhookAttempt, error)
}

// NewWebhook registers an endpoint.
type NewWebhook struct {
	URL        string
	EventTypes []string
	Enabled    *bool
}

// WebhookChange changes an endpoint; nil fields stay.
type WebhookChange struct {
	URL        *string
	EventTypes []string
	Enabled    *bool
}

// CreatedWebhook answers a registration: the secret is shown this once.
type CreatedWebhook struct {
	store.WebhookEndpoint
	Secret string `json:"secret"`
}

type webhookService struct {
	store store.Store
	cfg   *config.Config
}

// NewWebhookService returns the WebhookService.
func NewWebhookService(st store.Store, cfg *config.Config) WebhookService {
	return &webhookService{store: st, cfg: cfg}
}

func (s *webhookService) checkURL(raw string) error {
	if _, err := webhook.CheckURL(raw, s.cfg.Webhooks.AllowPrivateTargets); err != nil {
		if errors.Is(err, webhook.ErrForbiddenTarget) {
			return model.Fieldf("url", "loopback, link-local, private, unspecified and multicast targets are not allowed")
		}
		return model.Fieldf("url", "%v", err)
	}
	return nil
}

func eventTypes(names []string) ([]string, error) {
	types, err := webhook.ParseEventTypes(names)
	if err != nil {
		return nil, model.Fieldf("event_types", "%v", err)
	}
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = string(t)
	}
	return out, nil
}

func (s *webhookService) CreateWebhook(ctx context.Context, c Caller, req NewWebhook) (CreatedWebhook, error) {
	if err := s.checkURL(req.URL); err != nil {
		return CreatedWebhook{}, err
	}
	types, err := eventTypes(req.EventTypes)
	if err != nil {
		return CreatedWebhook{}, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return CreatedWebhook{}, err
	}
	enabled := req.Enabled == nil || *req.Enabled
	w, err := s.store.CreateWebhook(ctx, store.WebhookEndpoint{ID: uuid.NewString(), TenantID: c.Tenant.ID, URL: req.URL,
		EventTypes: types, Enabled: enabled, Secret: secret})
	if err != nil {
		return CreatedWebhook{}, err
	}
	return CreatedWebhook{WebhookEndpoint: w, Secret: secret}, nil
}

func (s *webhookService) ListWebhooks(ctx context.Context, c Caller, p store.Page) ([]store.WebhookEndpoint, error) {
	return s.store.ListWebhooks(ctx, c.Tenant.ID, p)
}

func (s *webhookService) UpdateWebhook(ctx context.Context, c Caller, id string, req WebhookChange) (store.WebhookEndpoint, error) {
	p := store.WebhookPatch{URL: req.URL, Enabled: req.Enabled}
	if req.URL != nil {
		if err := s.checkURL(*req.URL); err != nil {
			return store.WebhookEndpoint{}, err
		}
	}
	if req.EventTypes != nil {
		types, err := eventTypes(req.EventTypes)
		if err != nil {
			return store.WebhookEndpoint{}, err
		}
		p.EventTypes = types
	}
	return s.store.UpdateWebhook(ctx, c.Tenant.ID, id, p)
}

func (s *webhookService) DeleteWebhook(ctx context.Context, c Caller, id string) error {
	return s.store.DeleteWebhook(ctx, c.Tenant.ID, id)
}

func (s *webhookService) WebhookAttempts(ctx context.Context, c Caller, id string, beforeID int64, limit int) ([]store.WebhookAttempt, error) {
	return s.store.ListWebhookAttempts(ctx, c.Tenant.ID, id, beforeID, limit)
}
