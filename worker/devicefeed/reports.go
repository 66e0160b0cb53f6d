// Package devicefeed consumes what devices publish — progress reports, status
// restatements and heartbeats — through the worker fleet's shared subscriptions, so N
// replicas split the load.
package devicefeed

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/proto/topic"
)

// Signaler delivers a report to the device run that sent the command. It returns an error
// wrapping ErrUnknownTenant for a tenant it does not serve.
type Signaler interface {
	SignalWorkflow(ctx context.Context, tenantID, workflowID, runID, signal string, arg interface{}) error
}

// RunStore records a report's progress: for campaign status counts, and on a quiet
// update command (otaflow.QuietProgress) in place of the signal.
type RunStore interface {
	AdvanceRun(ctx context.Context, tenantID, deviceID, runID string, state model.DeviceState) error
	RecordRunProgress(ctx context.Context, tenantID, deviceID, runID, commandID string, state model.DeviceState, percent int) error
}

// ErrUnknownTenant: a device message names a tenant the worker does not serve.
var ErrUnknownTenant = errors.New("unknown tenant")

const (
	// signalTimeout bounds one delivery attempt.
	signalTimeout = 5 * time.Second
	// parkFor bounds how long a device's reports wait for Cadence to take them; after that
	// they are dropped and the device's run recovers them by asking the device.
	parkFor = 2 * time.Minute
	// maxParked bounds the reports one shard holds back; beyond it the shard stops
	// reading (back-pressure to the broker) until Cadence takes them.
	maxParked  = 5000
	firstRetry = 200 * time.Millisecond
	maxRetry   = 5 * time.Second
)

// Reports routes device reports and status restatements to their workflow runs as
// signals. The messages of one device go through one shard, in order. A report Cadence
// cannot take right now is parked with its device's later messages behind it, while
// other devices' messages flow on: one tenant's trouble never holds up another's.
type Reports struct {
	signaler Signaler
	store    RunStore
	log      *zap.Logger
	drops    *dropLog
	shards   []chan inbound
	wg       sync.WaitGroup
	metrics  *Metrics
	now      func() time.Time
	// groups gathers group members' reports into one signal per group and window.
	groups *groupBatches
}

type inbound struct {
	key  deviceKey
	kind topic.Kind
	// payload is decoded in the shard, off the MQTT client's goroutine.
	payload []byte
	ack     func()
}

// NewReports starts shards goroutines. A group's reports that come within window of
// each other reach it in one signal.
func NewReports(s Signaler, st RunStore, m *Metrics, log *zap.Logger, shards int, window time.Duration) *Reports {
	r := &Reports{signaler: s, store: st, log: log, drops: newDropLog(log, m), metrics: m, now: time.Now}
	r.groups = newGroupBatches(s, st, m, log, r.drops, window)
	r.shards = make([]chan inbound, shards)
	for i := range r.shards {
		r.shards[i] = make(chan inbound, 256)
		r.wg.Add(1)
		go r.loop(r.shards[i])
	}
	return r
}

// Handle is the MQTT handler for reports and status topics. A message whose topic is not
// a device's is dropped here; the rest are acknowledged once delivered, dropped, or
// parked in memory (see parked).
func (r *Reports) Handle(t string, payload []byte, ack func()) {
	tenantID, deviceID, kind, err := topic.Parse(t)
	if err != nil || (kind != topic.KindReports && kind != topic.KindStatus) {
		r.drops.drop("bad_topic", err, zap.String("topic", truncate(t, 200)))
		ack()
		return
	}
	key := deviceKey{tenantID, deviceID}
	h := fnv.New32a()
	h.Write([]byte(tenantID))
	h.Write([]byte{'/'})
	h.Write([]byte(deviceID))
	r.shards[h.Sum32()%uint32(len(r.shards))] <- inbound{key: key, kind: kind, payload: payload, ack: ack}
}

// Close drains the shards: parked reports get one more try each.
func (r *Reports) Close() {
	for _, c := range r.shards {
		close(c)
	}
	r.wg.Wait()
	r.groups.close()
}

// parked holds one device's reports that wait for Cadence, oldest first.
type parked struct {
	msgs    []pending
	since   time.Time
	next    time.Time
	backoff time.Duration
}

type pending struct {
	key    deviceKey
	route  otaflow.Route
	report otaflow.DeviceReport
}

func (r *Reports) loop(in <-chan inbound) {
	defer r.wg.Done()
	waiting := map[deviceKey]*parked{}
	count := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var src <-chan inbound
		if count < maxParked {
			src = in
		}
		if next, ok := earliest(waiting); ok {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case m, open := <-src:
			if !open {
				r.retryParked(waiting, &count, true)
				return
			}
			p, ok := r.decode(m)
			m.ack() // delivered, dropped or parked: the broker may move on
			if !ok {
				continue
			}
			if q := waiting[m.key]; q != nil {
				q.msgs = append(q.msgs, p)
				count++
				continue
			}
			if !r.deliver(p) {
				now := r.now()
				waiting[m.key] = &parked{msgs: []pending{p}, since: now, next: now.Add(firstRetry), backoff: firstRetry}
				count++
			}
		case <-timer.C:
			r.retryParked(waiting, &count, false)
		}
	}
}

func earliest(waiting map[deviceKey]*parked) (time.Time, bool) {
	var at time.Time
	for _, q := range waiting {
		if at.IsZero() || q.next.Before(at) {
			at = q.next
		}
	}
	return at, !at.IsZero()
}

// retryParked retries every device whose turn has come (all of them once when final).
func (r *Reports) retryParked(waiting map[deviceKey]*parked, count *int, final bool) {
	now := r.now()
	for key, q := range waiting {
		if !final && now.Before(q.next) {
			continue
		}
		for len(q.msgs) > 0 && r.deliver(q.msgs[0]) {
			q.msgs = q.msgs[1:]
			*count--
		}
		switch {
		case len(q.msgs) == 0:
			delete(waiting, key)
		case final || now.Sub(q.since) > parkFor:
			r.drops.drop("cadence_unavailable", nil, zap.String("tenant_id", key.tenant), zap.String("device_id", key.device),
				zap.Int("reports", len(q.msgs)))
			r.metrics.Dropped.WithLabelValues("cadence_unavailable").Add(float64(len(q.msgs) - 1))
			*count -= len(q.msgs)
			delete(waiting, key)
		default:
			q.backoff = min(2*q.backoff, maxRetry)
			q.next = now.Add(q.backoff)
		}
	}
}

// decode turns a message into a pending delivery; false means it was dropped.
func (r *Reports) decode(m inbound) (pending, bool) {
	decode := DecodeReport
	if m.kind == topic.KindStatus {
		decode = DecodeStatus
	}
	rep, route, err := decode(m.payload)
	if err != nil {
		r.drops.drop("bad_payload", err, zap.String("tenant_id", m.key.tenant), zap.String("device_id", m.key.device))
		return pending{}, false
	}
	return pending{key: m.key, route: route, report: rep}, true
}

// deliver makes one attempt to signal the run; false means try again later. Progress on
// a quiet update command is recorded instead; when it cannot be, it is signaled.
func (r *Reports) deliver(p pending) bool {
	if r.recordQuiet(p) {
		return true
	}
	// A group's member is named by the topic, never by the payload: a device reaches only
	// its own place in a group.
	if p.route.Group != "" {
		return r.groups.add(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	err := r.signaler.SignalWorkflow(ctx, p.key.tenant, otaflow.DeviceWorkflowID(p.key.device), p.route.RunID,
		otaflow.SignalDeviceReport, p.report)
	if err != nil {
		reason, permanent := permanentSignalError(err)
		switch {
		case reason == "run_closed":
			// A late or repeated report for a run that has ended: expected, not poison.
			r.metrics.Dropped.WithLabelValues(reason).Inc()
			r.log.Debug("report for a closed run dropped", zap.String("device_id", p.key.device), zap.String("run_id", p.route.RunID))
			return true
		case permanent:
			r.drops.drop(reason, err, zap.String("tenant_id", p.key.tenant), zap.String("device_id", p.key.device),
				zap.String("run_id", p.route.RunID))
			return true
		}
		r.log.Debug("report delivery deferred", zap.String("tenant_id", p.key.tenant), zap.String("device_id", p.key.device),
			zap.Error(err))
		return false
	}
	r.metrics.Signaled.Inc()
	advance(r.store, r.log, p)
	return true
}

// advance records a signaled progress report for the campaign's status counts.
func advance(st RunStore, log *zap.Logger, p pending) {
	state, ok := p.report.Status.ProgressState()
	if !ok || p.report.Restated {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.AdvanceRun(ctx, p.key.tenant, p.key.device, p.route.RunID, state); err != nil {
		log.Warn("progress not recorded", zap.String("device_id", p.key.device), zap.Error(err))
	}
}

// recordQuiet records a progress report on a quiet update command; false when the report
// is of another kind or the database did not take it.
func (r *Reports) recordQuiet(p pending) bool {
	st, ok := p.report.Status.ProgressState()
	if !ok || p.report.Restated || !otaflow.QuietProgress(p.report.CommandID) {
		return false
	}
	percent := 0
	if p.report.Status == otaflow.ReportDownloading || p.report.Status == otaflow.ReportAccepted {
		percent = p.report.ProgressPercent
	}
	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	if err := r.store.RecordRunProgress(ctx, p.key.tenant, p.key.device, p.route.RunID, p.report.CommandID, st, percent); err != nil {
		r.log.Warn("progress not recorded; signaling it", zap.String("device_id", p.key.device), zap.Error(err))
		return false
	}
	r.metrics.Recorded.Inc()
	return true
}

// permanentSignalError sorts the errors a retry can never fix from those of a Cadence
// that is briefly unavailable or busy.
func permanentSignalError(err error) (string, bool) {
	var (
		gone       *shared.EntityNotExistsError
		closed     *shared.WorkflowExecutionAlreadyCompletedError
		bad        *shared.BadRequestError
		noDomain   *shared.DomainNotActiveError
		notAllowed *shared.AccessDeniedError
	)
	switch {
	case errors.As(err, &gone), errors.As(err, &closed):
		return "run_closed", true
	case errors.Is(err, ErrUnknownTenant):
		return "unknown_tenant", true
	case errors.As(err, &bad), errors.As(err, &noDomain), errors.As(err, &notAllowed):
		return "refused_by_cadence", true
	}
	return "", false
}
