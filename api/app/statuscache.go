package app

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// statusCache serves a campaign's status from one database aggregate per TTL: dashboards
// polling a 100,000-device campaign from many clients then cost one GROUP BY, not one
// per request. Concurrent misses for the same campaign share one query.
type statusCache struct {
	ttl   time.Duration
	group singleflight.Group
	mu    sync.Mutex
	items map[string]cachedStatus
}

type cachedStatus struct {
	st  CampaignStatus
	exp time.Time
}

func newStatusCache(ttl time.Duration) *statusCache {
	return &statusCache{ttl: ttl, items: map[string]cachedStatus{}}
}

func (c *statusCache) get(ctx context.Context, key string, load func(context.Context) (CampaignStatus, error)) (CampaignStatus, error) {
	c.mu.Lock()
	if it, ok := c.items[key]; ok && time.Now().Before(it.exp) {
		c.mu.Unlock()
		return it.st, nil
	}
	c.mu.Unlock()
	v, err, _ := c.group.Do(key, func() (any, error) {
		// Callers share this load: one leaving early must not fail the others.
		st, err := load(context.WithoutCancel(ctx))
		if err != nil {
			return CampaignStatus{}, err
		}
		c.mu.Lock()
		if len(c.items) > 10_000 {
			c.items = map[string]cachedStatus{} // bounded memory
		}
		c.items[key] = cachedStatus{st: st, exp: time.Now().Add(c.ttl)}
		c.mu.Unlock()
		return st, nil
	})
	if err != nil {
		return CampaignStatus{}, err
	}
	return v.(CampaignStatus), nil
}
