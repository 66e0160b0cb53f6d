package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store/postgres"
)

// notifyWait bounds how long a replica may take to hear a change: a correctness wait for
// an asynchronous notification, not a measure of its speed.
const notifyWait = 5 * time.Second

// replica is one API process as authentication sees it: its own pool, listener and cache.
type replica struct {
	st      *postgres.Store
	cache   *KeyCache
	access  AccessService
	appName string
}

func startReplica(t *testing.T, dsn string) *replica {
	t.Helper()
	cfg, err := config.Load("")
	require.NoError(t, err)
	cfg.Database.DSN = dsn
	st, err := postgres.Open(cfg.Database)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Migrate(context.Background())
	require.NoError(t, err)
	name := "ota-test-replica-" + uuid.NewString()[:8]
	listener, err := postgres.NewKeyListener(st, postgres.KeyListenerConfig{DSN: dsn, ApplicationName: name,
		OnError: func(err error) { t.Logf("%s: %v", name, err) }})
	require.NoError(t, err)
	cache := NewKeyCache(time.Minute, listener) // far longer than any wait below
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.Run(ctx, cache.Invalidate)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &replica{st: st, cache: cache, access: NewAccessService(st, cfg, cache), appName: name}
}

// keyDB is the test's own connection for plain SQL, as an operator would use.
func keyDB(t *testing.T) (dsn string, conn *pgx.Conn) {
	t.Helper()
	dsn = os.Getenv("OTA_DATABASE_DSN")
	if dsn == "" {
		t.Skip("OTA_DATABASE_DSN names no database: the key cache is tested on PostgreSQL under `make test`")
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return dsn, conn
}

// testTenant is a tenant with an admin key, made through r's store.
func testTenant(t *testing.T, r *replica) Caller {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	_, admin := newSecretKey(t, id, access.RoleAdmin)
	tn := model.Tenant{ID: id, Name: "keycache-" + id, CadenceDomain: "ota-" + id, CreatedAt: time.Now()}
	require.NoError(t, r.st.CreateTenant(ctx, tn, admin, nil, nil))
	return Caller{Tenant: tn, Key: admin}
}

func newSecretKey(t *testing.T, tenantID string, role access.Role) (string, model.APIKey) {
	t.Helper()
	b := make([]byte, 24)
	_, err := rand.Read(b)
	require.NoError(t, err)
	secret := "ota_" + hex.EncodeToString(b)
	return secret, model.APIKey{ID: uuid.NewString(), TenantID: tenantID, Name: "k", Role: role, Prefix: secret[:8],
		Hash: hashKey(secret), CreatedAt: time.Now()}
}

// addKey stores a viewer key of admin's tenant and returns its secret and id.
func addKey(t *testing.T, r *replica, admin Caller) (secret, id string) {
	t.Helper()
	secret, k := newSecretKey(t, admin.Tenant.ID, access.RoleViewer)
	require.NoError(t, r.st.CreateAPIKey(context.Background(), k))
	return secret, k.ID
}

func waitServing(t *testing.T, rs ...*replica) {
	t.Helper()
	for _, r := range rs {
		require.Eventually(t, r.cache.Serving, 10*time.Second, 10*time.Millisecond, "%s never proved its path", r.appName)
	}
}

// servedFromCache authenticates secret on r until an answer comes from the cache. Other
// tests' key changes may empty the cache between two requests, hence the retries.
func servedFromCache(t *testing.T, r *replica, secret string) {
	t.Helper()
	require.Eventually(t, func() bool {
		before := r.cache.hits.Load()
		_, err := r.access.Authenticate(context.Background(), secret)
		return assert.NoError(t, err) && r.cache.hits.Load() > before
	}, notifyWait, 10*time.Millisecond, "%s never answered from its cache", r.appName)
}

func refusedWithin(t *testing.T, r *replica, secret string, d time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := r.access.Authenticate(context.Background(), secret)
		return errors.Is(err, ErrUnauthorized)
	}, d, 10*time.Millisecond, "%s still accepts the revoked key", r.appName)
}

func TestKeyCacheReplicasRefuseARevokedKey(t *testing.T) {
	dsn, db := keyDB(t)
	r1, r2 := startReplica(t, dsn), startReplica(t, dsn)
	admin := testTenant(t, r1)
	waitServing(t, r1, r2)
	tests := []struct {
		name   string
		revoke func(t *testing.T, id string)
		// atOnceOnFirst: the revoking replica refuses the key with no wait at all.
		atOnceOnFirst bool
	}{
		{"revoked through the API on replica 1", func(t *testing.T, id string) {
			_, err := r1.access.RevokeKey(context.Background(), admin, id)
			require.NoError(t, err)
		}, true},
		{"revoked by plain SQL", func(t *testing.T, id string) {
			_, err := db.Exec(context.Background(), `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, id)
			require.NoError(t, err)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret, id := addKey(t, r1, admin)
			servedFromCache(t, r1, secret)
			servedFromCache(t, r2, secret)
			tt.revoke(t, id)
			if tt.atOnceOnFirst {
				_, err := r1.access.Authenticate(context.Background(), secret)
				require.ErrorIs(t, err, ErrUnauthorized, "the revoking replica emptied its own cache")
			}
			refusedWithin(t, r1, secret, notifyWait)
			refusedWithin(t, r2, secret, notifyWait)
		})
	}
}

// TestKeyCacheBypassedWhileItsListenerIsDown kills the replica's listening session and
// revokes a key while no session listens, so no notification of it reaches the replica:
// the cache must be emptied and bypassed meanwhile, and serve again, without the revoked
// key, once a new session has proved the path.
func TestKeyCacheBypassedWhileItsListenerIsDown(t *testing.T) {
	dsn, db := keyDB(t)
	r := startReplica(t, dsn)
	admin := testTenant(t, r)
	waitServing(t, r)
	ctx := context.Background()
	secret, id := addKey(t, r, admin)
	servedFromCache(t, r, secret)

	var killedPID int
	require.Eventually(t, func() bool {
		if err := db.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, r.appName).
			Scan(&killedPID); !assert.NoError(t, err) {
			return false
		}
		if _, err := db.Exec(ctx, `SELECT pg_terminate_backend($1)`, killedPID); !assert.NoError(t, err) {
			return false
		}
		// Revoked only while no session of the replica's listens; else (it reconnected
		// first) kill it again.
		tag, err := db.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1
			AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $2)`, id, r.appName)
		return assert.NoError(t, err) && tag.RowsAffected() == 1
	}, notifyWait, 20*time.Millisecond, "revoke while the listener is down")
	refusedWithin(t, r, secret, notifyWait)

	waitServing(t, r)
	_, err := r.access.Authenticate(ctx, secret)
	require.ErrorIs(t, err, ErrUnauthorized, "the revocation nobody was notified of holds once the cache serves again")
	var pid int
	require.NoError(t, db.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, r.appName).Scan(&pid))
	assert.NotEqual(t, killedPID, pid, "a new listening session")
	other, _ := addKey(t, r, admin)
	servedFromCache(t, r, other)
}
