package app

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatusCache(t *testing.T) {
	const ttl = 250 * time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// age is how long after the first answer was cached the second call comes.
		age       time.Duration
		wantFirst bool // the second call answers with the cached status
		wantLoads int  // loads in all, once the background refresh (if any) is done
	}{
		{"fresh answer is served", ttl / 2, true, 1},
		{"just expired answer is served while it refreshes", ttl + time.Millisecond, true, 2},
		{"an answer long expired is not served", ttl + 10*ttl + time.Millisecond, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newStatusCache(ttl)
			now := t0
			var mu sync.Mutex
			c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			loads := 0
			refreshed := make(chan struct{}, 2)
			load := func(context.Context) (CampaignStatus, error) {
				mu.Lock()
				loads++
				n := loads
				mu.Unlock()
				refreshed <- struct{}{}
				return CampaignStatus{CampaignID: string(rune('0' + n))}, nil
			}
			first, err := c.get(context.Background(), "c", load)
			require.NoError(t, err)
			<-refreshed
			mu.Lock()
			now = t0.Add(tt.age)
			mu.Unlock()
			second, err := c.get(context.Background(), "c", load)
			require.NoError(t, err)
			assert.Equal(t, tt.wantFirst, second.CampaignID == first.CampaignID)
			if tt.wantLoads == 2 {
				select {
				case <-refreshed:
				case <-time.After(5 * time.Second):
					t.Fatal("no refresh")
				}
			}
			mu.Lock()
			assert.Equal(t, tt.wantLoads, loads)
			mu.Unlock()
		})
	}
}

func TestStatusCacheErrorIsNotCached(t *testing.T) {
	c := newStatusCache(time.Minute)
	fail := errors.New("database unavailable")
	_, err := c.get(context.Background(), "c", func(context.Context) (CampaignStatus, error) { return CampaignStatus{}, fail })
	require.ErrorIs(t, err, fail)
	st, err := c.get(context.Background(), "c", func(context.Context) (CampaignStatus, error) { return CampaignStatus{CampaignID: "c"}, nil })
	require.NoError(t, err)
	assert.Equal(t, "c", st.CampaignID)
}
