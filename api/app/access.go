package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// ErrForbidden: the key is valid but may not do this (403).
var ErrForbidden = errors.New("forbidden")

// ForbiddenError names the rule that refused a call and the request field it is about.
type ForbiddenError struct {
	Rule  string
	Field string
	Err   error
}

func (e *ForbiddenError) Error() string { return e.Err.Error() }
func (e *ForbiddenError) Unwrap() []error {
	return []error{ErrForbidden, e.Err}
}

// Caller is who makes a request: an API key of a tenant.
type Caller struct {
	Tenant model.Tenant
	Key    model.APIKey
}

// AccessService is key management, tenant settings and the audit log.
type AccessService interface {
	Authenticate(ctx context.Context, apiKey string) (Caller, error)
	CreateKey(ctx context.Context, c Caller, req NewKey) (IssuedKey, error)
	ListKeys(ctx context.Context, c Caller, p store.Page) ([]KeyView, error)
	RotateKey(ctx context.Context, c Caller, id string, grace *time.Duration) (RotatedKey, error)
	RevokeKey(ctx context.Context, c Caller, id string) (KeyView, error)
	SetFourEyes(ctx context.Context, c Caller, on bool) (model.Tenant, error)
	// Audited runs fn in the transaction its audit row is written in (store.AuditStore).
	Audited(ctx context.Context, fn func(ctx context.Context) (store.AuditEntry, bool)) error
	RecordAudit(ctx context.Context, e store.AuditEntry) error
	ListAudit(ctx context.Context, c Caller, f store.AuditFilter) ([]store.AuditEntry, error)
}

// NewKey asks for an API key.
type NewKey struct {
	Name      string
	Role      access.Role
	ExpiresAt *time.Time
}

// KeyView is a key as listed: never its secret.
type KeyView struct {
	model.APIKey
	State access.KeyState `json:"state"`
}

// IssuedKey answers a create: the secret is shown this once.
type IssuedKey struct {
	KeyView
	Secret string `json:"secret"`
}

// RotatedKey answers a rotation: the new key (secret shown once) and the old one, which
// works until its grace ends.
type RotatedKey struct {
	Key      IssuedKey `json:"key"`
	Previous KeyView   `json:"previous"`
}

type accessService struct {
	store store.Store
	cfg   *config.Config
	keys  *KeyCache
	now   func() time.Time
}

// NewAccessService returns the AccessService; keys caches authenticated keys (nil: every
// request asks the database).
func NewAccessService(st store.Store, cfg *config.Config, keys *KeyCache) AccessService {
	return &accessService{store: st, cfg: cfg, keys: keys, now: time.Now}
}

// newKeySecret makes an API key's secret (192 random bits) and the row that stores its hash.
func newKeySecret(tenantID string, now time.Time) (string, model.APIKey, error) {
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return "", model.APIKey{}, fmt.Errorf("generate key: %w", err)
	}
	key := "ota_" + hex.EncodeToString(secret)
	return key, model.APIKey{ID: uuid.NewString(), TenantID: tenantID, Prefix: key[:8], Hash: hashKey(key),
		CreatedAt: now.UTC()}, nil
}

func (s *accessService) view(k model.APIKey) KeyView {
	return KeyView{APIKey: k, State: k.Times().StateAt(s.now())}
}

// Authenticate finds the caller of a key: from the key cache while it serves, else one
// indexed lookup in the database. The cache is emptied by the notification that commits
// with every change to keys and tenants and serves only while that path is proven, so a
// revocation holds on every API replica as soon as the notification arrives; unknown keys
// always ask the database.
func (s *accessService) Authenticate(ctx context.Context, apiKey string) (Caller, error) {
	hash := hashKey(apiKey)
	caller, generation, hit := s.keys.lookup(hash)
	if hit {
		return caller, nil
	}
	t, k, err := s.store.KeyByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, ErrUnauthorized
	}
	if err != nil {
		return Caller{}, err
	}
	caller = Caller{Tenant: t, Key: k}
	s.keys.keep(hash, generation, caller)
	return caller, nil
}

const maxKeyLifetime = 10 * 365 * 24 * time.Hour

func (s *accessService) CreateKey(ctx context.Context, c Caller, req NewKey) (IssuedKey, error) {
	if err := model.ValidateName("name", req.Name); err != nil {
		return IssuedKey{}, err
	}
	if !req.Role.Valid() {
		return IssuedKey{}, model.Fieldf("role", "must be viewer, operator or admin")
	}
	if !access.CanGrant(c.Key.Role, req.Role) {
		return IssuedKey{}, &ForbiddenError{Rule: "role_ceiling", Field: "role",
			Err: fmt.Errorf("a %s key cannot create a %s key", c.Key.Role, req.Role)}
	}
	now := s.now()
	if req.ExpiresAt != nil && (!req.ExpiresAt.After(now) || req.ExpiresAt.Sub(now) > maxKeyLifetime) {
		return IssuedKey{}, model.Fieldf("expires_at", "must be in the future and within 10 years")
	}
	secret, k, err := newKeySecret(c.Tenant.ID, now)
	if err != nil {
		return IssuedKey{}, err
	}
	k.Name, k.Role, k.ExpiresAt = req.Name, req.Role, req.ExpiresAt
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return IssuedKey{}, err
	}
	return IssuedKey{KeyView: s.view(k), Secret: secret}, nil
}

func (s *accessService) ListKeys(ctx context.Context, c Caller, p store.Page) ([]KeyView, error) {
	ks, err := s.store.ListAPIKeys(ctx, c.Tenant.ID, p)
	if err != nil {
		return nil, err
	}
	out := make([]KeyView, len(ks))
	for i, k := range ks {
		out[i] = s.view(k)
	}
	return out, nil
}

func (s *accessService) RotateKey(ctx context.Context, c Caller, id string, grace *time.Duration) (RotatedKey, error) {
	g, err := access.RotationGrace(grace, s.cfg.Auth.KeyRotationGrace)
	if err != nil {
		return RotatedKey{}, model.Fieldf("grace", "%v", err)
	}
	target, err := s.store.GetAPIKey(ctx, c.Tenant.ID, id)
	if err != nil {
		return RotatedKey{}, err
	}
	if !access.CanGrant(c.Key.Role, target.Role) {
		return RotatedKey{}, &ForbiddenError{Rule: "role_ceiling", Field: "id",
			Err: fmt.Errorf("a %s key cannot rotate a %s key", c.Key.Role, target.Role)}
	}
	now := s.now()
	secret, next, err := newKeySecret(c.Tenant.ID, now)
	if err != nil {
		return RotatedKey{}, err
	}
	old, err := s.store.RotateAPIKey(ctx, c.Tenant.ID, id, next, access.GraceEnd(now, g, target.ExpiresAt))
	// This replica's cache need not wait for its own notification (whatever the outcome:
	// an error may come after the commit).
	s.keys.Invalidate()
	if errors.Is(err, store.ErrConflict) {
		return RotatedKey{}, fmt.Errorf("api key %s was rotated, revoked or has expired: %w", id, ErrConflict)
	}
	if err != nil {
		return RotatedKey{}, err
	}
	next.Name, next.Role, next.ExpiresAt = old.Name, old.Role, target.ExpiresAt
	return RotatedKey{Key: IssuedKey{KeyView: s.view(next), Secret: secret}, Previous: s.view(old)}, nil
}

func (s *accessService) RevokeKey(ctx context.Context, c Caller, id string) (KeyView, error) {
	k, err := s.store.RevokeAPIKey(ctx, c.Tenant.ID, id, func(k model.APIKey, activeAdmins int) error {
		if !access.CanGrant(c.Key.Role, k.Role) {
			return &ForbiddenError{Rule: "role_ceiling", Field: "id",
				Err: fmt.Errorf("a %s key cannot revoke a %s key", c.Key.Role, k.Role)}
		}
		st := k.Times().StateAt(s.now())
		if err := access.CanRevoke(k.Role, st == access.KeyActive, activeAdmins); err != nil {
			return &ForbiddenError{Rule: "last_admin", Field: "id", Err: err}
		}
		return nil
	})
	s.keys.Invalidate() // as in RotateKey
	if err != nil {
		return KeyView{}, err
	}
	return s.view(k), nil
}

func (s *accessService) SetFourEyes(ctx context.Context, c Caller, on bool) (model.Tenant, error) {
	t, err := s.store.SetFourEyes(ctx, c.Tenant.ID, on)
	s.keys.Invalidate() // cached callers carry the tenant's settings; as in RotateKey
	return t, err
}

func (s *accessService) Audited(ctx context.Context, fn func(ctx context.Context) (store.AuditEntry, bool)) error {
	return s.store.Audited(ctx, fn)
}

func (s *accessService) RecordAudit(ctx context.Context, e store.AuditEntry) error {
	return s.store.AppendAudit(ctx, e)
}

func (s *accessService) ListAudit(ctx context.Context, c Caller, f store.AuditFilter) ([]store.AuditEntry, error) {
	if f.ActorKeyID != "" && !model.IsUUID(f.ActorKeyID) {
		return nil, model.Fieldf("actor", "must be an API key id")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, model.Fieldf("from", "must be before to")
	}
	return s.store.ListAudit(ctx, c.Tenant.ID, f)
}

// fourEyes applies the tenant's four-eyes rule to an execute or approve of campaign c.
func fourEyes(t model.Tenant, c model.Campaign, actorKeyID string) error {
	if err := access.FourEyes(t.FourEyes, c.CreatedByKey, actorKeyID); err != nil {
		return &ForbiddenError{Rule: "four_eyes", Err: err}
	}
	return nil
}
