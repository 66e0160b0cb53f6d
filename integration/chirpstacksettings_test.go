package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/gateway"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/store/postgres"
)

// tokenColumns reads a tenant's stored ChirpStack token columns.
func tokenColumns(t *testing.T, tenantID string) (plain string, sealed *string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cfg.Database.DSN)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, conn.QueryRow(ctx, `SELECT api_token, api_token_sealed FROM chirpstack_settings WHERE tenant_id = $1`,
		tenantID).Scan(&plain, &sealed))
	return plain, sealed
}

func execSQL(t *testing.T, stmt string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cfg.Database.DSN)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt, args...)
	require.NoError(t, err)
}

func openStore(t *testing.T, encryptionKey string) *postgres.Store {
	t.Helper()
	box, err := secretbox.New(encryptionKey)
	require.NoError(t, err)
	st, err := postgres.Open(cfg.Database, postgres.WithSecrets(box))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestChirpStackTokenIsSealedAtRest(t *testing.T) {
	a := newTenant(t)
	appA := a.setupLoRaWAN()
	plain, sealed := tokenColumns(t, a.ID)
	assert.Empty(t, plain, "no token in clear")
	require.NotNil(t, sealed)
	assert.NotContains(t, *sealed, chirpToken)
	// The worker opens it to call ChirpStack.
	a.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("seal-1", newEUI(), appA.ProfileID))

	// A row as it was before tokens were sealed keeps working, and is sealed when the
	// migrations run (at start-up, or `ota-api migrate` as here).
	execSQL(t, `UPDATE chirpstack_settings SET api_token = $1, api_token_sealed = NULL WHERE tenant_id = $2`, chirpToken, a.ID)
	a.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("seal-2", newEUI(), appA.ProfileID))
	require.NoError(t, gateway.Migrate(context.Background(), cfg, zap.NewNop()))
	plain, sealed = tokenColumns(t, a.ID)
	assert.Empty(t, plain, "sealed by the migration step")
	require.NotNil(t, sealed)
	a.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/lorawan/devices", loraBody("seal-3", newEUI(), appA.ProfileID))
	got := a.mustDo(http.StatusOK, http.MethodGet, "/api/v1/lorawan/settings", nil)
	assert.Equal(t, true, got["api_token_set"])
	assert.NotContains(t, got, "api_token")

	// Another key does not open it; the rest of the settings stay readable.
	cs, err := openStore(t, "another-encryption-key-0123456789").GetChirpStackSettings(context.Background(), a.ID)
	assert.ErrorIs(t, err, store.ErrSecretUnreadable)
	assert.Equal(t, appA.ApplicationID, cs.ApplicationID)
	assert.Empty(t, cs.APIToken)

	// A sealed token is bound to its tenant: copied into another tenant's row, it does
	// not open there.
	b := newTenant(t)
	b.setupLoRaWAN()
	execSQL(t, `UPDATE chirpstack_settings SET api_token_sealed = $1 WHERE tenant_id = $2`, *sealed, b.ID)
	_, err = openStore(t, cfg.Secrets.EncryptionKey).GetChirpStackSettings(context.Background(), b.ID)
	assert.ErrorIs(t, err, store.ErrSecretUnreadable)
	r := b.do(http.MethodGet, "/api/v1/lorawan/settings", nil)
	require.Equalf(t, http.StatusOK, r.Status, "%s", r.Raw)
	assert.Equal(t, false, r.Body["api_token_set"])
	assert.Contains(t, r.Body["api_token_problem"], "secrets.encryption_key")
}

// startAPI runs a second API on the test database with cfg changed by edit.
func startAPI(t *testing.T, edit func(*config.Config)) string {
	t.Helper()
	c := *cfg
	port, err := freePort()
	require.NoError(t, err)
	c.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	edit(&c)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- gateway.Run(ctx, &c, zap.NewNop(), ready) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("second API did not start")
	}
	return ""
}

func TestChirpStackAddressMustNotBeLocalUnlessAllowed(t *testing.T) {
	strict := startAPI(t, func(c *config.Config) { c.LoRaWAN.AllowLocalAddresses = false })
	tn := newTenant(t)
	put := func(base, address string) response {
		body := mustJSON(t, map[string]any{"api_address": address, "api_token": chirpToken,
			"chirpstack_tenant_id": chirp.TenantID(), "application_id": "1d4c2a44-7b68-4d0c-9d1e-2f5b8d0c1e11"})
		req, err := http.NewRequest(http.MethodPut, base+"/api/v1/lorawan/settings", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tn.key)
		req.Header.Set("Content-Type", "application/json")
		return tn.send(req)
	}
	_, port, _ := strings.Cut(chirp.Addr(), ":")
	for _, address := range []string{chirp.Addr(), "localhost:" + port, "[::1]:" + port, "169.254.169.254:80",
		"0.0.0.0:" + port, "127.1:" + port} {
		requireBadInput(t, put(strict, address), "api_address")
	}
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/settings", nil)

	// The suite's API allows local addresses (configs/test.yaml), as an operator may.
	r := put(apiURL, chirp.Addr())
	require.Equalf(t, http.StatusOK, r.Status, "%s", r.Raw)
}

func TestChirpStackApplicationBelongsToOneTenant(t *testing.T) {
	a := newTenant(t)
	appA := a.setupLoRaWAN()
	b := newTenant(t)
	r := b.do(http.MethodPut, "/api/v1/lorawan/settings", map[string]any{"api_address": chirp.Addr(), "api_token": chirpToken,
		"chirpstack_tenant_id": chirp.TenantID(), "application_id": strings.ToUpper(appA.ApplicationID)})
	require.Equalf(t, http.StatusConflict, r.Status, "%s", r.Raw)
	assert.Equal(t, "application_id", errorOf(r)["field"])
	assert.Equal(t, "conflict", errorOf(r)["code"])
	b.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/lorawan/settings", nil)

	// The database enforces it, whoever writes.
	err := openStore(t, cfg.Secrets.EncryptionKey).PutChirpStackSettings(context.Background(), model.ChirpStackSettings{
		TenantID: b.ID, APIAddress: chirp.Addr(), APIToken: chirpToken, ChirpStackTenantID: chirp.TenantID(),
		ApplicationID: appA.ApplicationID, EventEncoding: "json", VersionFPort: versionFPort})
	assert.ErrorIs(t, err, store.ErrConflict)
}
