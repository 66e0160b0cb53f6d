package devicefeed

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/otaflow"
)

// maxBatched bounds the reports all groups' batches hold; beyond it a report stays in
// its shard, parked, until there is room (back-pressure to the broker).
const maxBatched = 5000

// maxPerSignal bounds one signal's reports, far below Cadence's payload limits.
const maxPerSignal = 200

// groupBatches gathers the reports bound for one group run for a short window and
// signals them together: a group's devices tend to finish together, and each signal
// costs Cadence a transaction and the group a decision task. A group's reports go out
// in the order they came, so each device's stay in order; a batch Cadence cannot take is
// retried, with the group's later reports behind it, until parkFor has passed.
type groupBatches struct {
	signaler Signaler
	store    RunStore
	log      *zap.Logger
	drops    *dropLog
	metrics  *Metrics
	window   time.Duration

	mu      sync.Mutex
	groups  map[groupRun]*groupQueue
	pending int
	wg      sync.WaitGroup
	closed  bool
	// closing is closed with the feed: flushers stop waiting and make their last try.
	closing chan struct{}
}

type groupRun struct {
	tenant, workflowID, runID string
}

// groupQueue is one group's reports waiting to be signaled; a flusher goroutine runs
// while it is in the map.
type groupQueue struct {
	reports []pending
}

func newGroupBatches(s Signaler, st RunStore, m *Metrics, log *zap.Logger, drops *dropLog, window time.Duration) *groupBatches {
	return &groupBatches{signaler: s, store: st, log: log, drops: drops, metrics: m, window: window,
		groups: map[groupRun]*groupQueue{}, closing: make(chan struct{})}
}

// add queues a group member's report; false means there is no room now (or the feed is
// closing): the caller keeps it and tries again.
func (b *groupBatches) add(p pending) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.pending >= maxBatched {
		return false
	}
	k := groupRun{p.key.tenant, p.route.WorkflowID(p.key.device), p.route.RunID}
	b.pending++
	if q, ok := b.groups[k]; ok {
		q.reports = append(q.reports, p)
		return true
	}
	b.groups[k] = &groupQueue{reports: []pending{p}}
	b.wg.Add(1)
	go b.flush(k)
	return true
}

// flush signals k's reports, window after the first came, until none are left.
func (b *groupBatches) flush(k groupRun) {
	defer b.wg.Done()
	b.sleep(b.window)
	since := time.Now()
	backoff := firstRetry
	for {
		b.mu.Lock()
		q := b.groups[k]
		batch := q.reports[:min(len(q.reports), maxPerSignal)]
		if len(batch) == 0 {
			delete(b.groups, k)
			b.mu.Unlock()
			return
		}
		closing := b.closed
		b.mu.Unlock()

		done := b.deliver(k, batch)
		if !done && (closing || time.Since(since) > parkFor) {
			b.drops.drop("cadence_unavailable", nil, zap.String("tenant_id", k.tenant), zap.String("workflow_id", k.workflowID),
				zap.Int("reports", len(batch)))
			b.metrics.Dropped.WithLabelValues("cadence_unavailable").Add(float64(len(batch) - 1))
			done = true
		}
		if done {
			b.mu.Lock()
			q.reports = q.reports[len(batch):]
			b.pending -= len(batch)
			b.mu.Unlock()
			since, backoff = time.Now(), firstRetry
			continue
		}
		b.sleep(backoff)
		backoff = min(2*backoff, maxRetry)
	}
}

// sleep waits d, or less once the feed is closing.
func (b *groupBatches) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.closing:
	}
}

// deliver makes one attempt to signal a batch; false means try again later.
func (b *groupBatches) deliver(k groupRun, batch []pending) bool {
	reports := make([]otaflow.MemberReport, len(batch))
	for i, p := range batch {
		reports[i] = otaflow.MemberReport{DeviceID: p.key.device, Report: p.report}
	}
	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	err := b.signaler.SignalWorkflow(ctx, k.tenant, k.workflowID, k.runID, otaflow.SignalMemberReports,
		otaflow.MemberReports{Reports: reports})
	if err != nil {
		reason, permanent := permanentSignalError(err)
		switch {
		case reason == "run_closed":
			b.metrics.Dropped.WithLabelValues(reason).Add(float64(len(batch)))
			b.log.Debug("reports for a closed group dropped", zap.String("workflow_id", k.workflowID), zap.Int("reports", len(batch)))
			return true
		case permanent:
			b.drops.drop(reason, err, zap.String("tenant_id", k.tenant), zap.String("workflow_id", k.workflowID),
				zap.Int("reports", len(batch)))
			return true
		}
		b.log.Debug("group reports deferred", zap.String("workflow_id", k.workflowID), zap.Error(err))
		return false
	}
	b.metrics.Signaled.Add(float64(len(batch)))
	for _, p := range batch {
		advance(b.store, b.log, p)
	}
	return true
}

// close delivers what is queued, one more try each, and waits for the flushers.
func (b *groupBatches) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.closing)
	}
	b.mu.Unlock()
	b.wg.Wait()
}
