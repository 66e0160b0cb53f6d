package identities

import (
	"sync"
	"time"
)

// Bounds on reading unknown credentials from the broker's thread: a flood of made-up
// usernames, or a database that stopped answering, must never hold the broker up.
const (
	// missesPerSecond is the steady rate of lookups; missBurst the most at once.
	missesPerSecond = 10
	missBurst       = 20
	// missMemory is how long an unknown username is not looked up again.
	missMemory = 2 * time.Second
	// missPause stops all lookups after one failed (the database is away).
	missPause = 5 * time.Second
	// missRemembered bounds the memory of unknown usernames.
	missRemembered = 10000
)

// missGuard decides whether a lookup may run now.
type missGuard struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	pausing time.Time
	unknown map[string]time.Time
}

func (g *missGuard) allow(username string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.pausing) {
		return false
	}
	if until, ok := g.unknown[username]; ok && now.Before(until) {
		return false
	}
	if g.last.IsZero() {
		g.tokens = missBurst
	} else {
		g.tokens = min(missBurst, g.tokens+now.Sub(g.last).Seconds()*missesPerSecond)
	}
	g.last = now
	if g.tokens < 1 {
		return false
	}
	g.tokens--
	return true
}

func (g *missGuard) done(username string, now time.Time, found bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err != nil:
		g.pausing = now.Add(missPause)
	case !found:
		if g.unknown == nil || len(g.unknown) >= missRemembered {
			g.unknown = map[string]time.Time{}
		}
		g.unknown[username] = now.Add(missMemory)
	}
}
