package app

import (
	"sync"
	"sync/atomic"
	"time"
)

// KeyChangePath is how a replica hears of key and tenant changes committed in the
// database (postgres.KeyListener). Proven says the path is known to work now.
type KeyChangePath interface {
	Proven() bool
}

const (
	// keyCacheSize bounds memory; only keys that authenticated are kept, so a stranger
	// cannot fill it with guesses.
	keyCacheSize = 10_000
	// keyExpirySkew: the database decides expiry at its own clock. A cached key stops
	// being served this long before its expiry (or the end of its rotation grace, which
	// is its expiry), so a replica whose clock runs behind does not serve it late.
	keyExpirySkew = 5 * time.Second
)

// KeyCache remembers the keys this replica authenticated, so that a request need not
// look its key up in the database. It keeps the promise that a revoked key fails at once
// on every replica by being emptied whenever the database notifies a change to api_keys
// or tenants (the notification commits with the change), and by answering only while
// its KeyChangePath is proven; otherwise every request asks the database. A nil
// *KeyCache caches nothing.
type KeyCache struct {
	ttl  time.Duration
	path KeyChangePath
	now  func() time.Time

	mu sync.RWMutex
	// generation counts emptyings. An answer read from the database is kept only when
	// no emptying came between the read and the keep: a revocation that commits in
	// between must not be undone by the answer read before it.
	generation uint64
	entries    map[string]cachedKey

	hits, misses, invalidations atomic.Uint64
}

type cachedKey struct {
	caller   Caller
	cachedAt time.Time
}

// NewKeyCache returns a cache whose entries live at most ttl and which serves only while
// path is proven.
func NewKeyCache(ttl time.Duration, path KeyChangePath) *KeyCache {
	return &KeyCache{ttl: ttl, path: path, now: time.Now, entries: map[string]cachedKey{}}
}

// Invalidate empties the cache: a key or tenant changed, or changes may have gone unheard.
func (c *KeyCache) Invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emptyLocked()
	c.invalidations.Add(1)
}

func (c *KeyCache) emptyLocked() {
	clear(c.entries)
	c.generation++
}

// Serving says whether the cache answers requests now.
func (c *KeyCache) Serving() bool { return c != nil && c.path.Proven() }

// lookup answers from the cache when it can; otherwise it returns the generation to pass
// to keep with what the database answers.
func (c *KeyCache) lookup(hash []byte) (caller Caller, generation uint64, hit bool) {
	if c == nil {
		return Caller{}, 0, false
	}
	if !c.path.Proven() {
		// Unproven, changes may be going unheard: what is here may be stale.
		c.mu.Lock()
		if len(c.entries) > 0 {
			c.invalidations.Add(1)
		}
		c.emptyLocked()
		generation = c.generation
		c.mu.Unlock()
		c.misses.Add(1)
		return Caller{}, generation, false
	}
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[string(hash)]
	generation = c.generation
	c.mu.RUnlock()
	if ok && now.Before(e.cachedAt.Add(c.ttl)) && c.servable(e.caller, now) {
		c.hits.Add(1)
		return e.caller, generation, true
	}
	c.misses.Add(1)
	return Caller{}, generation, false
}

// keep caches what the database answered for hash, unless the cache was emptied since
// lookup returned generation.
func (c *KeyCache) keep(hash []byte, generation uint64, caller Caller) {
	if c == nil {
		return
	}
	now := c.now()
	if !c.servable(caller, now) || !c.path.Proven() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if generation != c.generation {
		return
	}
	if len(c.entries) >= keyCacheSize {
		clear(c.entries) // simple bound; the keys in use come back on their next request
	}
	c.entries[string(hash)] = cachedKey{caller: caller, cachedAt: now}
}

// servable: the key still authenticates keyExpirySkew from now.
func (c *KeyCache) servable(caller Caller, now time.Time) bool {
	return caller.Key.Times().StateAt(now.Add(keyExpirySkew)).Authenticates()
}
