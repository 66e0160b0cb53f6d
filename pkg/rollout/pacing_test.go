package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/otaflow"
)

func TestRate(t *testing.T) {
	exp := &otaflow.ExponentialRate{BasePerMinute: 10, IncrementFactor: 2, AfterSucceeded: 5, MaxPerMinute: 50}
	tests := []struct {
		name      string
		p         otaflow.RatePolicy
		succeeded int
		want      float64
	}{
		{"unlimited", otaflow.RatePolicy{}, 0, 0},
		{"fixed", otaflow.RatePolicy{PerMinute: 30}, 100, 30},
		{"exponential, base", otaflow.RatePolicy{Exponential: exp}, 4, 10},
		{"exponential, one step", otaflow.RatePolicy{Exponential: exp}, 5, 20},
		{"exponential, two steps", otaflow.RatePolicy{Exponential: exp}, 14, 40},
		{"exponential, capped", otaflow.RatePolicy{Exponential: exp}, 15, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, Rate(tt.p, tt.succeeded), 1e-9)
		})
	}
}

func TestBucketTake(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		b          Bucket
		now        time.Duration
		rate       float64
		want       int
		granted    int
		wait       time.Duration
		tokensLeft float64
	}{
		{"unlimited grants all", Bucket{At: t0}, 0, 0, 500, 500, 0, 0},
		{"one token at the start", Bucket{Tokens: 1, At: t0}, 0, 2, 5, 1, 0, 0},
		{"empty: wait for the next token", Bucket{At: t0}, 0, 2, 5, 0, 30 * time.Second, 0},
		{"refills with time, at most one when slow", Bucket{At: t0}, 45 * time.Second, 2, 5, 1, 0, 0},
		{"refills partly", Bucket{At: t0}, 15 * time.Second, 2, 5, 0, 15 * time.Second, 0.5},
		{"never more than a second's worth", Bucket{At: t0}, time.Hour, 600, 50, 10, 0, 0},
		{"at least one token even when slow", Bucket{At: t0}, time.Hour, 1, 5, 1, 0, 0},
		{"wait is at least a second", Bucket{Tokens: 0.99, At: t0}, 0, 6000, 1, 0, time.Second, 0.99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, granted, wait := tt.b.Take(t0.Add(tt.now), tt.rate, tt.want)
			assert.Equal(t, tt.granted, granted)
			assert.Equal(t, tt.wait, wait)
			assert.InDelta(t, tt.tokensLeft, b.Tokens, 1e-9)
		})
	}
}

// TestBucketPacesAFixedRate dispatches 10 devices at 2 a minute, one at a time as a
// campaign does: they take about four and a half minutes.
func TestBucketPacesAFixedRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b, now, sent := Bucket{Tokens: 1, At: t0}, t0, 0
	for sent < 10 {
		var granted int
		var wait time.Duration
		b, granted, wait = b.Take(now, 2, 1)
		sent += granted
		now = now.Add(wait)
	}
	assert.Equal(t, 270*time.Second, now.Sub(t0))
}

func TestBucketRefund(t *testing.T) {
	b := Bucket{Tokens: 0.5}
	assert.InDelta(t, 2.5, b.Refund(10, 2).Tokens, 1e-9)
	assert.InDelta(t, 0.5, b.Refund(0, 2).Tokens, 1e-9, "no bucket without a rate")
}
