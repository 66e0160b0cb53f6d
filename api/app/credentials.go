package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/otaplane/ota/pkg/brokeridentity"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/proto/manifest"
)

// maxCredentialBatch bounds one batch issue.
const maxCredentialBatch = 1000

// maxRetireAfter bounds how long a rotated-out credential keeps working.
const maxRetireAfter = 30 * 24 * time.Hour

// CredentialStore is the part of the store credentials use. The broker's
// authentication plugin reads what it writes: the API never talks to the broker.
type CredentialStore interface {
	GetDevice(ctx context.Context, tenantID, deviceID string) (model.Device, error)
	DevicesByID(ctx context.Context, tenantID string, ids []string) ([]model.Device, error)
	IssueCredentials(ctx context.Context, tenantID string, issues []store.NewCredential, retireAfter time.Duration) ([]model.Credential, error)
	RevokeCredentials(ctx context.Context, tenantID, deviceID string, deleteDevice bool) error
	DeviceCredentials(ctx context.Context, tenantID, deviceID string) ([]model.Credential, error)
}

// CredentialService issues, rotates and revokes devices' broker identities.
type CredentialService interface {
	// IssueNew gives devices their first credentials, all or nothing: a device that has
	// live ones is refused.
	IssueNew(ctx context.Context, t model.Tenant, deviceIDs []string) ([]model.IssuedCredential, error)
	// Rotate issues the next generation; the live ones keep working for retireAfter.
	Rotate(ctx context.Context, t model.Tenant, deviceID string, retireAfter time.Duration) (model.IssuedCredential, error)
	List(ctx context.Context, t model.Tenant, deviceID string) ([]model.Credential, error)
	// Revoke ends every generation at once; with deleteDevice the device record goes too.
	Revoke(ctx context.Context, t model.Tenant, deviceID string, deleteDevice bool) error
}

// TrustSource gives the trust set a provisioned device pins.
type TrustSource interface {
	Trust(ctx context.Context, tenantID string) (manifest.TrustSet, error)
}

type credentialService struct {
	store CredentialStore
	cfg   *config.Config
	trust TrustSource
}

// NewCredentialService returns the CredentialService; issued credentials carry the
// tenant's trust set from trust.
func NewCredentialService(st CredentialStore, cfg *config.Config, trust TrustSource) CredentialService {
	return &credentialService{store: st, cfg: cfg, trust: trust}
}

func (s *credentialService) IssueNew(ctx context.Context, t model.Tenant, deviceIDs []string) ([]model.IssuedCredential, error) {
	switch {
	case len(deviceIDs) == 0:
		return nil, model.Fieldf("device_ids", "must name at least one device")
	case len(deviceIDs) > maxCredentialBatch:
		return nil, model.Fieldf("device_ids", "must name at most %d devices", maxCredentialBatch)
	}
	seen := make(map[string]bool, len(deviceIDs))
	for i, id := range deviceIDs {
		field := fmt.Sprintf("device_ids[%d]", i)
		if err := model.ValidateIdent(field, id); err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, model.Fieldf(field, "device %q is listed twice", id)
		}
		seen[id] = true
	}
	if err := s.checkMQTT(ctx, t, deviceIDs); err != nil {
		return nil, err
	}
	out, err := s.issue(ctx, t, deviceIDs, -1)
	if errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("%v; rotate existing credentials with POST /devices/{id}/credentials: %w", err, ErrConflict)
	}
	return out, err
}

// checkMQTT refuses ids that are not MQTT devices of the tenant, naming the first.
func (s *credentialService) checkMQTT(ctx context.Context, t model.Tenant, deviceIDs []string) error {
	devices, err := s.store.DevicesByID(ctx, t.ID, deviceIDs)
	if err != nil {
		return err
	}
	found := make(map[string]model.Device, len(devices))
	for _, d := range devices {
		found[d.ID] = d
	}
	for i, id := range deviceIDs {
		d, ok := found[id]
		switch {
		case !ok:
			return model.Fieldf(fmt.Sprintf("device_ids[%d]", i), "no device %q in this tenant", id)
		case d.Transport != model.TransportMQTT:
			return model.Fieldf(fmt.Sprintf("device_ids[%d]", i), "device %q is a LoRaWAN device: ChirpStack authenticates it", id)
		}
	}
	return nil
}

func (s *credentialService) Rotate(ctx context.Context, t model.Tenant, deviceID string, retireAfter time.Duration) (model.IssuedCredential, error) {
	if retireAfter < 0 || retireAfter > maxRetireAfter {
		return model.IssuedCredential{}, model.Fieldf("retire_after", "must be between 0s and %s", maxRetireAfter)
	}
	d, err := s.store.GetDevice(ctx, t.ID, deviceID)
	if err != nil {
		return model.IssuedCredential{}, err
	}
	if d.Transport != model.TransportMQTT {
		return model.IssuedCredential{}, model.Fieldf("id", "device %q is a LoRaWAN device: ChirpStack authenticates it", deviceID)
	}
	out, err := s.issue(ctx, t, []string{deviceID}, retireAfter)
	if err != nil {
		return model.IssuedCredential{}, err
	}
	return out[0], nil
}

// issue makes a fresh password for each device and records only its hash.
func (s *credentialService) issue(ctx context.Context, t model.Tenant, deviceIDs []string, retireAfter time.Duration) ([]model.IssuedCredential, error) {
	// Before anything is stored: a password is shown once, with what the device pins.
	trust, err := s.trust.Trust(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	passwords := make(map[string]string, len(deviceIDs))
	issues := make([]store.NewCredential, len(deviceIDs))
	for i, id := range deviceIDs {
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		passwords[id] = pw
		sum := sha256.Sum256([]byte(pw))
		issues[i] = store.NewCredential{DeviceID: id, PasswordSHA256: sum[:],
			UsernameOf: func(g int) string { return brokeridentity.DeviceUsername(t.ID, id, g) }}
	}
	created, err := s.store.IssueCredentials(ctx, t.ID, issues, retireAfter)
	if err != nil {
		return nil, err
	}
	out := make([]model.IssuedCredential, len(created))
	for i, c := range created {
		out[i] = model.IssuedCredential{DeviceID: c.DeviceID, Generation: c.Generation, Username: c.Username,
			Password: passwords[c.DeviceID], ClientID: brokeridentity.DeviceClientID(t.ID, c.DeviceID),
			Broker: s.cfg.MQTT.DeviceBroker, Trust: &trust}
	}
	return out, nil
}

func (s *credentialService) List(ctx context.Context, t model.Tenant, deviceID string) ([]model.Credential, error) {
	if _, err := s.store.GetDevice(ctx, t.ID, deviceID); err != nil {
		return nil, err
	}
	return s.store.DeviceCredentials(ctx, t.ID, deviceID)
}

func (s *credentialService) Revoke(ctx context.Context, t model.Tenant, deviceID string, deleteDevice bool) error {
	d, err := s.store.GetDevice(ctx, t.ID, deviceID)
	if err != nil {
		return err
	}
	if d.Transport != model.TransportMQTT {
		return model.Fieldf("id", "device %q is a LoRaWAN device: delete it with DELETE /lorawan/devices/%s", deviceID, deviceID)
	}
	return s.store.RevokeCredentials(ctx, t.ID, deviceID, deleteDevice)
}

// newPassword is 32 characters of URL-safe base64: 192 random bits. With that much
// entropy a plain SHA-256 is a safe thing to keep (nothing to guess), and the broker
// checks a connecting device at memory speed.
func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
