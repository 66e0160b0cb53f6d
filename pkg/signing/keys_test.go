package signing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/pkg/store/postgres"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/manifest"
)

const testSecret = "signing-test-secret-0123456789"

// testStore is the PostgreSQL test database (scripts/test.sh makes it) with a fresh
// tenant that has no keys, as one created before signing.
func testStore(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dsn := os.Getenv("OTA_DATABASE_DSN")
	if dsn == "" {
		t.Skip("OTA_DATABASE_DSN names no database: key custody is tested on PostgreSQL under `make test`")
	}
	box, err := secretbox.New(testSecret)
	require.NoError(t, err)
	st, err := postgres.Open(config.Database{DSN: dsn, MaxOpenConns: 8, QueryTimeout: 10 * time.Second,
		ConnMaxLifetime: time.Hour}, postgres.WithSecrets(box))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	id := uuid.NewString()
	hash := sha256.Sum256([]byte(id))
	require.NoError(t, st.CreateTenant(ctx, model.Tenant{ID: id, Name: "keys-" + id, CadenceDomain: "ota-" + id,
		CreatedAt: time.Now()}, model.APIKey{ID: uuid.NewString(), TenantID: id, Prefix: "ota_test", Hash: hash[:],
		Name: "first key", Role: access.RoleAdmin, CreatedAt: time.Now()}, nil, nil))
	return st, id
}

func newKeys(t *testing.T, st *postgres.Store, secret string) *Keys {
	t.Helper()
	box, err := secretbox.New(secret)
	require.NoError(t, err)
	return New(st, box)
}

// TestKeysMadeOnceUnderRace: replicas meeting a tenant without keys agree on one key per
// purpose.
func TestKeysMadeOnceUnderRace(t *testing.T) {
	st, tenant := testStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { assert.NoError(t, newKeys(t, st, testSecret).EnsureTenant(ctx, tenant)) })
	}
	wg.Wait()
	keys, err := st.SigningKeys(ctx, tenant)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	for _, k := range keys {
		assert.True(t, k.Managed)
		assert.Nil(t, k.RetiredAt)
		assert.NotContains(t, k.Sealed, string(k.PublicKey), "the private key is sealed")
	}
}

func TestRotationAndTrust(t *testing.T) {
	st, tenant := testStore(t)
	ctx := context.Background()
	k := newKeys(t, st, testSecret)
	first, err := k.Active(ctx, tenant, manifest.PurposeCommand)
	require.NoError(t, err)
	second, err := k.Rotate(ctx, tenant, manifest.PurposeCommand)
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, second.ID)

	sm, err := k.SignManifest(ctx, tenant, &devicev1.Manifest{CommandId: "c"})
	require.NoError(t, err)
	assert.Equal(t, second.ID, sm.GetKeyId(), "only the active key signs")

	trust, err := k.Trust(ctx, tenant)
	require.NoError(t, err)
	assert.Equal(t, tenant, trust.TenantID)
	retired := map[string]bool{}
	for _, key := range trust.Keys {
		retired[key.ID] = key.Retired
	}
	assert.Equal(t, map[string]bool{first.ID: true, second.ID: false}, onlyCommandKeys(trust, retired))
}

func onlyCommandKeys(trust manifest.TrustSet, retired map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, key := range trust.Keys {
		if key.Purpose == manifest.PurposeCommand {
			out[key.ID] = retired[key.ID]
		}
	}
	return out
}

func TestOfflineReleaseKeySignsNothing(t *testing.T) {
	st, tenant := testStore(t)
	ctx := context.Background()
	k := newKeys(t, st, testSecret)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = k.RegisterOfflineRelease(ctx, tenant, pub)
	require.NoError(t, err)
	rk, err := k.ReleaseKey(ctx, tenant)
	require.NoError(t, err)
	assert.True(t, rk.Offline())
	_, err = rk.Sign(manifest.Release{})
	assert.ErrorIs(t, err, ErrOfflineKey)
	_, err = k.RegisterOfflineRelease(ctx, tenant, pub)
	assert.ErrorIs(t, err, store.ErrConflict, "a key is registered once")
}

// TestSealedKeyOpensOnlyWithItsSecret: a process with another secrets.encryption_key
// cannot sign with the tenant's keys.
func TestSealedKeyOpensOnlyWithItsSecret(t *testing.T) {
	st, tenant := testStore(t)
	ctx := context.Background()
	require.NoError(t, newKeys(t, st, testSecret).EnsureTenant(ctx, tenant))
	_, err := newKeys(t, st, "another-secret-0123456789").SignManifest(ctx, tenant, &devicev1.Manifest{})
	assert.ErrorIs(t, err, store.ErrSecretUnreadable)
}

// TestReleasesOfImagesFromBeforeSigning: images stored without a release get theirs in
// version order after the model's newest, and those that have one keep it.
func TestReleasesOfImagesFromBeforeSigning(t *testing.T) {
	st, tenant := testStore(t)
	ctx := context.Background()
	k := newKeys(t, st, testSecret)
	rk, err := k.ReleaseKey(ctx, tenant)
	require.NoError(t, err)
	upload := func(version string) model.Firmware {
		img := []byte("image " + version)
		sum := sha256.Sum256(img)
		fw := model.Firmware{ID: uuid.NewString(), TenantID: tenant, Version: version, HardwareModel: "board-l",
			SHA256: hex.EncodeToString(sum[:]), SizeBytes: int64(len(img))}
		fw, err := st.CreateFirmware(ctx, fw, strings.NewReader(string(img)), func(highest int64) (model.Release, error) {
			return rk.Sign(ReleaseOf(fw, highest+1))
		})
		require.NoError(t, err)
		return fw
	}
	upload("3.0.0")
	old := []model.Firmware{upload("1.10.0"), upload("1.9.0"), upload("1.2.0")}
	// As rows written before migration 00008: no release.
	unrelease(t, old)

	require.NoError(t, k.SignUnreleased(ctx, tenant, "board-l"))
	trust, err := k.Trust(ctx, tenant)
	require.NoError(t, err)
	want := map[string]int64{"1.2.0": 2, "1.9.0": 3, "1.10.0": 4}
	for _, fw := range old {
		got, err := st.GetFirmware(ctx, tenant, fw.ID)
		require.NoError(t, err)
		assert.Equal(t, want[got.Version], got.ReleaseCounter, got.Version)
		r := ReleaseOf(got, got.ReleaseCounter)
		assert.True(t, manifest.VerifyRelease(publicKey(trust, got.ReleaseKeyID), r, got.ReleaseSignature), got.Version)
	}
}

// unrelease empties the release columns, as rows written before migration 00008 have them.
func unrelease(t *testing.T, fws []model.Firmware) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("OTA_DATABASE_DSN"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	ids := make([]string, len(fws))
	for i, fw := range fws {
		ids[i] = fw.ID
	}
	_, err = conn.Exec(ctx, `UPDATE firmware SET release_counter = NULL, release_signature = NULL, release_key_id = NULL
		WHERE id = ANY($1::uuid[])`, ids)
	require.NoError(t, err)
}

func publicKey(trust manifest.TrustSet, id string) ed25519.PublicKey {
	for _, k := range trust.Keys {
		if k.ID == id {
			return k.PublicKey
		}
	}
	return nil
}

// TestCountersStayStrictlyIncreasingUnderConcurrentUploads: uploads of one model racing
// each other get distinct counters.
func TestCountersStayStrictlyIncreasingUnderConcurrentUploads(t *testing.T) {
	st, tenant := testStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	counters := make([]int64, 6)
	for i := range counters {
		wg.Go(func() {
			fw, err := st.CreateFirmware(ctx, model.Firmware{ID: uuid.NewString(), TenantID: tenant,
				Version: fmt.Sprintf("1.0.%d", i), HardwareModel: "board-c", SHA256: strings.Repeat("a", 64), SizeBytes: 1},
				strings.NewReader("x"), func(highest int64) (model.Release, error) {
					return model.Release{Counter: highest + 1, Signature: []byte("s"), KeyID: "k"}, nil
				})
			if assert.NoError(t, err) {
				counters[i] = fw.ReleaseCounter
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, c := range counters {
		assert.False(t, seen[c], "counter %d handed out twice", c)
		seen[c] = true
	}
	assert.Len(t, seen, len(counters))
	_, err := st.CreateFirmware(ctx, model.Firmware{ID: uuid.NewString(), TenantID: tenant, Version: "0.1.0",
		HardwareModel: "board-c", SHA256: strings.Repeat("a", 64), SizeBytes: 1}, strings.NewReader("x"),
		func(highest int64) (model.Release, error) { return model.Release{Counter: highest}, nil })
	assert.Error(t, err, "a counter that does not exceed the newest is refused")
	assert.False(t, errors.Is(err, store.ErrUnavailable))
}
