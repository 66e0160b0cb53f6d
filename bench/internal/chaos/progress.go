package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
)

// pollEvery bounds how finely finishes are timed: a stall is measured to within it.
const pollEvery = 250 * time.Millisecond

// progress polls a campaign's status and records when device runs finish, as the
// control plane reports them (GET …/status). Status failing meanwhile (the database
// being cut) only means nothing is learnt until it answers again.
type progress struct {
	client *otaapi.Client
	id     string
	total  int
	stall  time.Duration // give up after this long without a finished run

	mu        sync.Mutex
	finished  int
	events    []time.Time // one per poll that saw more runs finished than the one before
	last      otaapi.Status
	failures  int
	lastError error
	changed   chan struct{} // closed and replaced on every new finish

	done   chan struct{}
	result progressResult
}

// progressResult is how the watch ended.
type progressResult struct {
	status    otaapi.Status
	completed bool
	at        time.Time // when the final status was read, or the watch gave up
	err       error
}

func watch(ctx context.Context, c *otaapi.Client, id string, total int, stall time.Duration, started time.Time) *progress {
	p := &progress{client: c, id: id, total: total, stall: stall, changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.result = p.run(ctx, started)
	}()
	return p
}

func (p *progress) run(ctx context.Context, started time.Time) progressResult {
	lastChange := started
	for {
		if err := sleep(ctx, pollEvery); err != nil {
			return progressResult{status: p.status(), at: time.Now(), err: err}
		}
		st, err := p.client.CampaignStatus(ctx, p.id)
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return progressResult{status: p.status(), at: now, err: ctx.Err()}
			}
			p.mu.Lock()
			p.failures++
			p.lastError = err
			p.mu.Unlock()
		} else {
			p.record(st, now)
			if st.Finished > 0 && st.Finished >= p.total && st.Done() {
				return progressResult{status: st, completed: true, at: now}
			}
			if st.Ended() {
				return progressResult{status: st, at: now,
					err: fmt.Errorf("campaign ended %s (%s) at %d/%d finished", st.State, st.StateReason, st.Finished, st.Total)}
			}
		}
		if t := p.lastFinish(); t.After(lastChange) {
			lastChange = t
		}
		if now.Sub(lastChange) > p.stall {
			return progressResult{status: p.status(), at: now,
				err: fmt.Errorf("gave up: no device run finished for %s (%d/%d finished; last status error: %v)",
					p.stall, p.status().Finished, p.total, p.lastErr())}
		}
	}
}

func (p *progress) record(st otaapi.Status, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = st
	if st.Finished > p.finished {
		p.finished = st.Finished
		p.events = append(p.events, at)
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

func (p *progress) status() otaapi.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *progress) lastErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastError
}

func (p *progress) lastFinish() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) == 0 {
		return time.Time{}
	}
	return p.events[len(p.events)-1]
}

// finishEvents returns a copy of the finish times.
func (p *progress) finishEvents() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.events...)
}

func (p *progress) pollFailures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
}

// waitFinished blocks until at least n runs have finished, returning how many had; it
// fails if the watch ends first.
func (p *progress) waitFinished(ctx context.Context, n int) (int, error) {
	for {
		p.mu.Lock()
		got, changed := p.finished, p.changed
		p.mu.Unlock()
		if got >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-p.done:
			if p.result.err != nil {
				return got, p.result.err
			}
			return got, fmt.Errorf("campaign completed before %d runs had finished", n)
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
}

// wait returns how the watch ended.
func (p *progress) wait() progressResult {
	<-p.done
	return p.result
}
