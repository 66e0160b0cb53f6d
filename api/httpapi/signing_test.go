package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/firmwarelink"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/signing"
	"github.com/otaplane/ota/pkg/store/postgres"
	"github.com/otaplane/ota/proto/manifest"
)

// signingAPI is the router on the real use cases, key custody and PostgreSQL (the test
// database scripts/test.sh makes), for one tenant created before signing existed: it
// has no keys until it uses them.
type signingAPI struct {
	t      *testing.T
	h      http.Handler
	key    string
	tenant string
}

func newSigningAPI(t *testing.T) signingAPI {
	t.Helper()
	api := newPostgresAPI(t)
	return signingAPI{t: t, h: api.h, key: api.key, tenant: api.tenant}
}

// postgresAPI is the router on the real use cases and PostgreSQL for one new tenant
// whose first (admin) key is key.
type postgresAPI struct {
	h      http.Handler
	st     *postgres.Store
	key    string
	keyID  string
	tenant string
}

func newPostgresAPI(t *testing.T) postgresAPI {
	t.Helper()
	dsn := os.Getenv("OTA_DATABASE_DSN")
	if dsn == "" {
		t.Skip("OTA_DATABASE_DSN names no database: tested on PostgreSQL under `make test`")
	}
	cfg, err := config.Load("")
	require.NoError(t, err)
	cfg.Database.DSN = dsn
	box, err := secretbox.New(cfg.Secrets.EncryptionKey)
	require.NoError(t, err)
	st, err := postgres.Open(cfg.Database, postgres.WithSecrets(box))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	_, err = st.Migrate(ctx)
	require.NoError(t, err)

	id := uuid.NewString()
	key := "ota_" + hex.EncodeToString([]byte(id))
	hash := sha256.Sum256([]byte(key))
	keyID := uuid.NewString()
	require.NoError(t, st.CreateTenant(ctx, model.Tenant{ID: id, Name: "api-" + id, CadenceDomain: "ota-" + id,
		CreatedAt: time.Now()}, model.APIKey{ID: keyID, TenantID: id, Prefix: key[:8], Hash: hash[:],
		Name: "first key", Role: access.RoleAdmin, CreatedAt: time.Now()}, nil, nil))

	keys := signing.New(st, box)
	var wf noWorkflows
	gin.SetMode(gin.ReleaseMode)
	s := &Server{svc: app.New(st, wf, keys, cfg), fleet: app.NewFleetService(st), lorawan: app.NewLoRaWANService(st, wf, cfg),
		creds: app.NewCredentialService(st, cfg, keys), access: app.NewAccessService(st, cfg, nil), webhooks: app.NewWebhookService(st, cfg), cfg: cfg,
		log: zap.NewNop(), metrics: newMetrics(prometheus.NewRegistry()), links: firmwarelink.New(cfg.Firmware.URLSigningKey, cfg.HTTP.PublicURL),
		writes: newWriteGate(cfg.HTTP.WritesPerTenant, replicaWrites(cfg.Database.MaxOpenConns), cfg.HTTP.WriteWait)}
	return postgresAPI{h: s.router(), st: st, key: key, keyID: keyID, tenant: id}
}

func (a signingAPI) do(method, path string, body any) *httptest.ResponseRecorder {
	a.t.Helper()
	var rd bytes.Buffer
	if body != nil {
		require.NoError(a.t, json.NewEncoder(&rd).Encode(body))
	}
	req := httptest.NewRequest(method, "/api/v1"+path, &rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.key)
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

// upload posts an image with the given extra form fields.
func (a signingAPI) upload(version string, image []byte, fields map[string]string) *httptest.ResponseRecorder {
	a.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(a.t, w.WriteField("version", version))
	require.NoError(a.t, w.WriteField("hardware_model", "board-k"))
	for k, v := range fields {
		require.NoError(a.t, w.WriteField(k, v))
	}
	part, err := w.CreateFormFile("file", "image.bin")
	require.NoError(a.t, err)
	_, err = part.Write(image)
	require.NoError(a.t, err)
	require.NoError(a.t, w.Close())
	req := httptest.NewRequest(http.MethodPost, "/api/v1/firmware", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+a.key)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder, status int) T {
	t.Helper()
	require.Equal(t, status, w.Code, "%s", w.Body.String())
	var out T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	return out
}

type errorAnswer struct {
	Error errorBody `json:"error"`
}

func TestSigningKeysAndTrust(t *testing.T) {
	a := newSigningAPI(t)

	// A tenant from before signing gets its managed keys on first use.
	listed := decode[struct {
		Keys []model.SigningKey `json:"signing_keys"`
	}](t, a.do(http.MethodGet, "/signing-keys", nil), http.StatusOK)
	require.Len(t, listed.Keys, 2)
	for _, k := range listed.Keys {
		assert.True(t, k.Managed)
		assert.Nil(t, k.RetiredAt)
		assert.Equal(t, manifest.KeyID(k.PublicKey), k.ID)
	}

	rotated := decode[model.SigningKey](t, a.do(http.MethodPost, "/signing-keys", map[string]string{"purpose": "command"}),
		http.StatusCreated)
	assert.Equal(t, manifest.PurposeCommand, rotated.Purpose)
	assert.True(t, rotated.Managed)

	trust := decode[manifest.TrustSet](t, a.do(http.MethodGet, "/trust", nil), http.StatusOK)
	assert.Equal(t, a.tenant, trust.TenantID)
	retired := map[string]bool{}
	for _, k := range trust.Keys {
		retired[k.ID] = k.Retired
	}
	assert.Len(t, trust.Keys, 3, "the rotated-out command key stays listed")
	assert.False(t, retired[rotated.ID])
	for _, k := range listed.Keys {
		assert.Equal(t, k.Purpose == manifest.PurposeCommand, retired[k.ID], "key %s (%s)", k.ID, k.Purpose)
	}

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	offline := map[string]string{"purpose": "release", "public_key": base64.StdEncoding.EncodeToString(pub)}
	registered := decode[model.SigningKey](t, a.do(http.MethodPost, "/signing-keys", offline), http.StatusCreated)
	assert.False(t, registered.Managed)
	assert.Equal(t, manifest.KeyID(pub), registered.ID)
	again := decode[errorAnswer](t, a.do(http.MethodPost, "/signing-keys", offline), http.StatusBadRequest)
	assert.Equal(t, "public_key", again.Error.Field)
}

func TestUploadReleases(t *testing.T) {
	a := newSigningAPI(t)

	// Managed: the control plane numbers and signs each upload.
	img1 := []byte("image one")
	refused := decode[errorAnswer](t, a.upload("1.0.0", img1, map[string]string{"release_counter": "5"}), http.StatusBadRequest)
	assert.Equal(t, "release_counter", refused.Error.Field)
	first := decode[model.Firmware](t, a.upload("1.0.0", img1, nil), http.StatusCreated)
	second := decode[model.Firmware](t, a.upload("1.1.0", []byte("image two"), nil), http.StatusCreated)
	assert.Equal(t, []int64{1, 2}, []int64{first.ReleaseCounter, second.ReleaseCounter})
	trust := decode[manifest.TrustSet](t, a.do(http.MethodGet, "/trust", nil), http.StatusOK)
	managedPub := releaseKey(t, trust, second.ReleaseKeyID)
	second.TenantID = a.tenant // not in the JSON
	assert.True(t, manifest.VerifyRelease(managedPub, signing.ReleaseOf(second, second.ReleaseCounter), second.ReleaseSignature))

	// Offline: the upload brings its counter and signature.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	decode[model.SigningKey](t, a.do(http.MethodPost, "/signing-keys",
		map[string]string{"purpose": "release", "public_key": base64.StdEncoding.EncodeToString(pub)}), http.StatusCreated)
	img := []byte("image three, signed offline")
	sum := sha256.Sum256(img)
	release := func(counter uint64) manifest.Release {
		return manifest.Release{TenantID: a.tenant, HardwareModel: "board-k", Version: "1.2.0", Counter: counter,
			SizeBytes: int64(len(img)), SHA256: hex.EncodeToString(sum[:])}
	}
	sign := func(r manifest.Release) string {
		sig, err := manifest.SignRelease(priv, r)
		require.NoError(t, err)
		return base64.StdEncoding.EncodeToString(sig)
	}
	otherSize := release(3)
	otherSize.SizeBytes++
	tests := []struct {
		name   string
		fields map[string]string
		field  string
	}{
		{"nothing", nil, "release_counter"},
		{"no signature", map[string]string{"release_counter": "3"}, "signature"},
		{"counter not a number", map[string]string{"release_counter": "three", "signature": sign(release(3))}, "release_counter"},
		{"signature not base64", map[string]string{"release_counter": "3", "signature": "???"}, "signature"},
		{"signature for another counter", map[string]string{"release_counter": "3", "signature": sign(release(4))}, "signature"},
		{"signature for another image", map[string]string{"release_counter": "3", "signature": sign(otherSize)}, "signature"},
		{"counter not above the newest", map[string]string{"release_counter": "2", "signature": sign(release(2))}, "release_counter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decode[errorAnswer](t, a.upload("1.2.0", img, tt.fields), http.StatusBadRequest)
			assert.Equal(t, tt.field, got.Error.Field, "%s", got.Error.Message)
		})
	}
	signed := decode[model.Firmware](t, a.upload("1.2.0", img, map[string]string{
		"release_counter": "3", "signature": sign(release(3))}), http.StatusCreated)
	assert.Equal(t, int64(3), signed.ReleaseCounter)
	assert.Equal(t, manifest.KeyID(pub), signed.ReleaseKeyID)
	listed := decode[model.Firmware](t, a.do(http.MethodGet, "/firmware/"+signed.ID, nil), http.StatusOK)
	assert.Equal(t, signed.ReleaseSignature, listed.ReleaseSignature)
	assert.Equal(t, int64(3), listed.ReleaseCounter)
}

func releaseKey(t *testing.T, trust manifest.TrustSet, id string) ed25519.PublicKey {
	t.Helper()
	for _, k := range trust.Keys {
		if k.ID == id && k.Purpose == manifest.PurposeRelease {
			return k.PublicKey
		}
	}
	t.Fatalf("release key %s is not in the trust set", id)
	return nil
}
