package scenario

import (
	"context"
	"sync"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/report"
)

// statusLoad is a set of clients calling GET …/status back to back.
type statusLoad struct {
	clients int
	started time.Time
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	done     chan struct{} // closed when every client has stopped
	mu       sync.Mutex
	samples  []float64
	errors   int
	firstErr string
	ended    time.Time

	// Progress of the campaign when the load ended, to compare its pace with and
	// without the load.
	finishedAtEnd int
	endSeen       time.Time
}

// startStatusLoad starts the clients; they stop at stop() or, when limit > 0, after limit.
func startStatusLoad(ctx context.Context, c *otaapi.Client, campaignID string, clients int, limit time.Duration) *statusLoad {
	l := &statusLoad{clients: clients, started: time.Now(), done: make(chan struct{})}
	var lctx context.Context
	if limit > 0 {
		lctx, l.cancel = context.WithTimeout(ctx, limit)
	} else {
		lctx, l.cancel = context.WithCancel(ctx)
	}
	for range clients {
		l.wg.Go(func() {
			var mine []float64
			errs, first := 0, ""
			for lctx.Err() == nil {
				t := time.Now()
				_, err := c.CampaignStatus(lctx, campaignID)
				d := time.Since(t)
				if lctx.Err() != nil {
					break // cut short by the end of the load, not an answer
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, ms(d))
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			l.samples = append(l.samples, mine...)
			l.errors += errs
			if l.firstErr == "" {
				l.firstErr = first
			}
			if now := time.Now(); now.After(l.ended) {
				l.ended = now
			}
		})
	}
	go func() {
		l.wg.Wait()
		close(l.done)
	}()
	return l
}

// running reports whether the clients are still at it.
func (l *statusLoad) running() bool {
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// observe records the campaign's progress at the first poll after the load ended.
func (l *statusLoad) observe(finished int, at time.Time) {
	if l.endSeen.IsZero() && !l.running() {
		l.finishedAtEnd, l.endSeen = finished, at
	}
}

// stop ends the load if it still runs and summarises it. finished and at are the
// campaign's last observed progress, which counts if the load lasted until then.
func (l *statusLoad) stop(finished int, at time.Time) *report.StatusLoad {
	l.cancel()
	<-l.done
	if !at.IsZero() {
		l.observe(finished, at)
	}
	secs := l.ended.Sub(l.started).Seconds()
	out := &report.StatusLoad{Clients: l.clients, Seconds: round(secs, 1), Requests: len(l.samples), Errors: l.errors,
		FirstError: l.firstErr, Latency: report.Summarize(l.samples)}
	if secs > 0 {
		out.PerSecond = round(float64(len(l.samples))/secs, 1)
	}
	if !l.endSeen.IsZero() {
		out.RunsFinished = l.finishedAtEnd
		out.RunsPerMin = perMinute(l.finishedAtEnd, l.endSeen.Sub(l.started))
	}
	return out
}
