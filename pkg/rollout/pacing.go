package rollout

import (
	"math"
	"time"

	"github.com/otaplane/ota/pkg/otaflow"
)

// Rate is the dispatch rate a policy allows now, per minute (0 = unlimited): fixed, or
// AWS IoT Jobs' exponential model, which multiplies the base rate by the increment
// factor after every AfterSucceeded successes, up to the maximum.
func Rate(p otaflow.RatePolicy, succeeded int) float64 {
	if e := p.Exponential; e != nil {
		rate := float64(e.BasePerMinute) * math.Pow(e.IncrementFactor, float64(succeeded/e.AfterSucceeded))
		if e.MaxPerMinute > 0 {
			rate = math.Min(rate, float64(e.MaxPerMinute))
		}
		return rate
	}
	return float64(p.PerMinute)
}

// Bucket is a token bucket refilled at the current rate; it holds at most one second's
// worth of dispatches (and at least one), so a paused or idle campaign does not save up
// a burst.
type Bucket struct {
	Tokens float64
	At     time.Time // when Tokens was last brought up to date
}

// Take spends up to want tokens at now, at ratePerMin (0 = unlimited: all granted). It
// returns the bucket afterwards, how many dispatches may go, and, when none may, how long
// until one can (at least a second: Cadence timers have one-second resolution).
func (b Bucket) Take(now time.Time, ratePerMin float64, want int) (Bucket, int, time.Duration) {
	if ratePerMin <= 0 {
		return b, want, 0
	}
	perSec := ratePerMin / 60
	b.Tokens = math.Min(b.Tokens+now.Sub(b.At).Seconds()*perSec, math.Max(1, perSec))
	b.At = now
	granted := 0
	for granted < want && b.Tokens >= 1 {
		b.Tokens--
		granted++
	}
	if granted > 0 || want == 0 {
		return b, granted, 0
	}
	wait := time.Duration(math.Ceil((1 - b.Tokens) / perSec * float64(time.Second)))
	return b, 0, max(wait, time.Second)
}

// Refund gives back n tokens taken for dispatches that did not happen.
func (b Bucket) Refund(ratePerMin float64, n int) Bucket {
	if ratePerMin > 0 {
		b.Tokens += float64(n)
	}
	return b
}
