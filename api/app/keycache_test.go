package app

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// switchPath is a KeyChangePath the test proves or unproves.
type switchPath struct{ proven atomic.Bool }

func (p *switchPath) Proven() bool { return p.proven.Load() }

func provenPath() *switchPath {
	p := &switchPath{}
	p.proven.Store(true)
	return p
}

// keyStore is the key table as the access service sees it; only the methods below are
// called (the embedded Store is nil).
type keyStore struct {
	store.Store
	mu      sync.Mutex
	tenant  model.Tenant
	keys    map[string]model.APIKey // by hash
	lookups int
	// When set, KeyByHash reads, then reports on reading and answers what it read once
	// proceed is closed: a lookup that a revocation overtakes.
	reading chan struct{}
	proceed chan struct{}
}

func newKeyStore() *keyStore {
	return &keyStore{tenant: model.Tenant{ID: "t1", Name: "acme"}, keys: map[string]model.APIKey{}}
}

// add stores a key and returns its secret.
func (s *keyStore) add(id string, role access.Role, expiresAt *time.Time) string {
	secret := "ota_secret_" + id
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[string(hashKey(secret))] = model.APIKey{ID: id, TenantID: s.tenant.ID, Name: id, Role: role,
		Hash: hashKey(secret), ExpiresAt: expiresAt}
	return secret
}

func (s *keyStore) caller(id string) Caller {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.ID == id {
			return Caller{Tenant: s.tenant, Key: k}
		}
	}
	panic("no key " + id)
}

func (s *keyStore) lookupCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

func (s *keyStore) KeyByHash(_ context.Context, hash []byte) (model.Tenant, model.APIKey, error) {
	s.mu.Lock()
	s.lookups++
	k, ok := s.keys[string(hash)]
	t := s.tenant
	reading, proceed := s.reading, s.proceed
	s.mu.Unlock()
	if reading != nil {
		close(reading)
		<-proceed
	}
	if !ok || k.RevokedAt != nil {
		return model.Tenant{}, model.APIKey{}, fmt.Errorf("key by hash: %w", store.ErrNotFound)
	}
	return t, k, nil
}

func (s *keyStore) revoke(id string) (model.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, k := range s.keys {
		if k.ID == id {
			now := time.Now()
			k.RevokedAt = &now
			s.keys[h] = k
			return k, nil
		}
	}
	return model.APIKey{}, store.ErrNotFound
}

func (s *keyStore) RevokeAPIKey(_ context.Context, _, id string, decide func(model.APIKey, int) error) (model.APIKey, error) {
	if err := decide(s.caller(id).Key, 2); err != nil {
		return model.APIKey{}, err
	}
	return s.revoke(id)
}

func (s *keyStore) GetAPIKey(_ context.Context, _, id string) (model.APIKey, error) {
	return s.caller(id).Key, nil
}

func (s *keyStore) RotateAPIKey(_ context.Context, _, id string, next model.APIKey, graceEnd time.Time) (model.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, k := range s.keys {
		if k.ID == id {
			now := time.Now()
			k.RotatedAt, k.ExpiresAt = &now, &graceEnd
			s.keys[h] = k
			s.keys[string(next.Hash)] = next
			return k, nil
		}
	}
	return model.APIKey{}, store.ErrNotFound
}

func (s *keyStore) SetFourEyes(_ context.Context, _ string, on bool) (model.Tenant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenant.FourEyes = on
	return s.tenant, nil
}

// cachedAccess is the access service over st with a key cache on path, at the clock now.
func cachedAccess(st *keyStore, ttl time.Duration, path KeyChangePath, now func() time.Time) (*accessService, *KeyCache) {
	cache := NewKeyCache(ttl, path)
	cache.now = now
	svc := NewAccessService(st, &config.Config{}, cache).(*accessService)
	svc.now = now
	return svc, cache
}

func TestKeyCacheServesOnlyWhatTheDatabaseAuthenticated(t *testing.T) {
	ctx := context.Background()
	st := newKeyStore()
	secret := st.add("k1", access.RoleViewer, nil)
	svc, cache := cachedAccess(st, 30*time.Second, provenPath(), time.Now)

	for range 3 {
		c, err := svc.Authenticate(ctx, secret)
		require.NoError(t, err)
		assert.Equal(t, "k1", c.Key.ID)
	}
	assert.Equal(t, 1, st.lookupCount(), "one database lookup, then the cache")
	assert.Equal(t, uint64(2), cache.hits.Load())

	for range 3 {
		_, err := svc.Authenticate(ctx, "ota_unknown")
		require.ErrorIs(t, err, ErrUnauthorized)
	}
	assert.Equal(t, 4, st.lookupCount(), "an unknown key asks the database every time")
	cache.mu.RLock()
	assert.Len(t, cache.entries, 1, "refusals are not cached")
	cache.mu.RUnlock()
}

func TestKeyCacheIsBypassedWhileItsPathIsUnproven(t *testing.T) {
	ctx := context.Background()
	st := newKeyStore()
	secret := st.add("k1", access.RoleViewer, nil)
	path := provenPath()
	svc, cache := cachedAccess(st, 30*time.Second, path, time.Now)
	_, err := svc.Authenticate(ctx, secret)
	require.NoError(t, err)

	path.proven.Store(false)
	assert.False(t, cache.Serving())
	for range 2 {
		_, err = svc.Authenticate(ctx, secret)
		require.NoError(t, err)
	}
	assert.Equal(t, 3, st.lookupCount(), "unproven, every request asks the database")
	assert.Equal(t, uint64(1), cache.invalidations.Load(), "what was cached is dropped")

	// A revocation while unproven (its notification perhaps lost) holds once proven again.
	_, err = st.revoke("k1")
	require.NoError(t, err)
	path.proven.Store(true)
	_, err = svc.Authenticate(ctx, secret)
	require.ErrorIs(t, err, ErrUnauthorized)
}

// TestKeyCacheDropsAnAnswerReadBeforeAnInvalidation: request A reads the key (valid), a
// revocation commits and its notification empties the cache, then A's answer arrives.
// A itself was answered by a read from before the revocation; the cache must not keep it.
func TestKeyCacheDropsAnAnswerReadBeforeAnInvalidation(t *testing.T) {
	tests := []struct {
		name string
		// revokeDuringRead: the revocation and its notification come while A reads.
		revokeDuringRead bool
		wantLookups      int
		wantErr          error
	}{
		{"no change: the answer is kept", false, 1, nil},
		{"revoked meanwhile: the stale answer is dropped", true, 2, ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newKeyStore()
			secret := st.add("k1", access.RoleViewer, nil)
			svc, cache := cachedAccess(st, 30*time.Second, provenPath(), time.Now)
			st.reading, st.proceed = make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				_, err := svc.Authenticate(ctx, secret)
				done <- err
			}()
			<-st.reading // A holds its generation and the database's answer
			st.mu.Lock()
			st.reading = nil
			st.mu.Unlock()
			if tt.revokeDuringRead {
				_, err := st.revoke("k1")
				require.NoError(t, err)
				cache.Invalidate()
			}
			close(st.proceed)
			require.NoError(t, <-done, "A read before the revocation committed")

			_, err := svc.Authenticate(ctx, secret)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantLookups, st.lookupCount())
		})
	}
}

func TestKeyCacheEntryLifetime(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	const ttl = 30 * time.Second
	tests := []struct {
		name      string
		expiresAt *time.Time
		// age: how long after the first (database) answer the second request comes.
		age        time.Duration
		wantCached bool
	}{
		{"no expiry, within the ttl", nil, ttl - time.Second, true},
		{"no expiry, at the ttl", nil, ttl, false},
		{"expiring later than the ttl", at(time.Hour), ttl - time.Second, true},
		{"before the expiry margin", at(20 * time.Second), 15*time.Second - time.Millisecond, true},
		{"at the expiry margin", at(20 * time.Second), 15 * time.Second, false},
		{"past the expiry margin, before the expiry", at(20 * time.Second), 17 * time.Second, false},
		{"expiring within the margin is never cached", at(4 * time.Second), time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newKeyStore()
			secret := st.add("k1", access.RoleViewer, tt.expiresAt)
			var mu sync.Mutex
			now := t0
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			svc, cache := cachedAccess(st, ttl, provenPath(), clock)
			_, err := svc.Authenticate(ctx, secret)
			require.NoError(t, err)
			mu.Lock()
			now = t0.Add(tt.age)
			mu.Unlock()
			_, err = svc.Authenticate(ctx, secret) // the fake database still accepts it
			require.NoError(t, err)
			assert.Equal(t, tt.wantCached, cache.hits.Load() == 1, "served from the cache")
		})
	}
}

func TestKeyCacheRotationGraceEndsItsEntry(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx := context.Background()
	st := newKeyStore()
	secret := st.add("k1", access.RoleOperator, nil)
	st.add("admin", access.RoleAdmin, nil)
	admin := st.caller("admin")
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc, cache := cachedAccess(st, 30*time.Second, provenPath(), clock)
	grace := 20 * time.Second
	_, err := svc.RotateKey(ctx, admin, "k1", &grace)
	require.NoError(t, err)
	_, err = svc.Authenticate(ctx, secret)
	require.NoError(t, err, "in its grace")
	mu.Lock()
	now = t0.Add(16 * time.Second)
	mu.Unlock()
	_, err = svc.Authenticate(ctx, secret)
	require.NoError(t, err)
	assert.Zero(t, cache.hits.Load(), "within the margin of its grace's end, the key is asked of the database")
}

// TestKeyCacheIsEmptiedByTheReplicaThatChanges: a replica that revokes, rotates or
// changes tenant settings does not wait for its own notification (here: none comes).
func TestKeyCacheIsEmptiedByTheReplicaThatChanges(t *testing.T) {
	grace := time.Hour
	tests := []struct {
		name string
		do   func(ctx context.Context, svc *accessService, admin Caller) error
		// wantRefused: the cached key no longer authenticates.
		wantRefused bool
	}{
		{"revoke", func(ctx context.Context, svc *accessService, admin Caller) error {
			_, err := svc.RevokeKey(ctx, admin, "k1")
			return err
		}, true},
		{"rotate", func(ctx context.Context, svc *accessService, admin Caller) error {
			_, err := svc.RotateKey(ctx, admin, "k1", &grace)
			return err
		}, false},
		{"four eyes", func(ctx context.Context, svc *accessService, admin Caller) error {
			_, err := svc.SetFourEyes(ctx, admin, true)
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newKeyStore()
			secret := st.add("k1", access.RoleViewer, nil)
			st.add("admin", access.RoleAdmin, nil)
			admin := st.caller("admin")
			svc, cache := cachedAccess(st, time.Minute, provenPath(), time.Now)
			_, err := svc.Authenticate(ctx, secret)
			require.NoError(t, err)
			require.NoError(t, tt.do(ctx, svc, admin))
			c, err := svc.Authenticate(ctx, secret)
			if tt.wantRefused {
				require.ErrorIs(t, err, ErrUnauthorized)
			} else {
				require.NoError(t, err)
				assert.Equal(t, st.caller("k1"), c, "the database's new answer, not the cached one")
			}
			assert.Equal(t, 2, st.lookupCount(), "the change emptied the cache")
			assert.Equal(t, uint64(1), cache.invalidations.Load())
		})
	}
}

func TestKeyCacheSizeIsBounded(t *testing.T) {
	cache := NewKeyCache(time.Minute, provenPath())
	for i := range keyCacheSize + 5 {
		hash := []byte(fmt.Sprint(i))
		_, gen, _ := cache.lookup(hash)
		cache.keep(hash, gen, Caller{Key: model.APIKey{ID: fmt.Sprint(i)}})
	}
	cache.mu.RLock()
	defer cache.mu.RUnlock()
	assert.LessOrEqual(t, len(cache.entries), keyCacheSize)
	assert.NotEmpty(t, cache.entries)
}

func TestNilKeyCacheAsksTheDatabase(t *testing.T) {
	st := newKeyStore()
	secret := st.add("k1", access.RoleViewer, nil)
	svc := NewAccessService(st, &config.Config{}, nil)
	for range 2 {
		_, err := svc.Authenticate(context.Background(), secret)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, st.lookupCount())
}
