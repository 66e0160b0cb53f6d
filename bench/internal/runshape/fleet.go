package runshape

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// signaler delivers a device's report to the workflow that commanded it.
type signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg interface{}) error
}

// command is one command a device has to answer.
type command struct {
	workflowID, runID, deviceID string
	at                          time.Time
}

// fleet simulates the devices: each answers its command after a fixed delay, as a
// signal, retried until Cadence takes it. With a batch window, the answers for one group
// within the window go as one signal.
type fleet struct {
	signaler signaler
	delay    time.Duration
	// byRun: a per-device workflow is signaled by run, a group by workflow id only.
	byRun    bool
	batch    time.Duration
	commands chan command
	done     atomic.Int64
	wg       sync.WaitGroup

	mu      sync.Mutex
	pending map[string][]deviceReport // by workflow id, waiting for their batch to go
}

// answerers is how many devices answer at the same time.
const answerers = 32

func newFleet(s signaler, delay time.Duration, byRun bool, batch time.Duration) *fleet {
	if byRun {
		batch = 0
	}
	return &fleet{signaler: s, delay: delay, byRun: byRun, batch: batch, commands: make(chan command, 1<<16),
		pending: map[string][]deviceReport{}}
}

func (f *fleet) command(workflowID, runID, deviceID string) {
	f.commands <- command{workflowID: workflowID, runID: runID, deviceID: deviceID, at: time.Now()}
}

func (f *fleet) finished(string) { f.done.Add(1) }

// answer serves commands until ctx ends.
func (f *fleet) answer(ctx context.Context) {
	for range answerers {
		f.wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case c := <-f.commands:
					f.reply(ctx, c)
				}
			}
		})
	}
}

func (f *fleet) reply(ctx context.Context, c command) {
	if wait := time.Until(c.at.Add(f.delay)); wait > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	switch {
	case f.byRun:
		f.signal(ctx, c.workflowID, c.runID, reportSignal, deviceReport{DeviceID: c.deviceID})
	case f.batch == 0:
		f.signal(ctx, c.workflowID, "", reportSignal, deviceReport{DeviceID: c.deviceID})
	default:
		f.mu.Lock()
		first := len(f.pending[c.workflowID]) == 0
		f.pending[c.workflowID] = append(f.pending[c.workflowID], deviceReport{DeviceID: c.deviceID})
		f.mu.Unlock()
		if first {
			f.wg.Go(func() { f.flushAfter(ctx, c.workflowID) })
		}
	}
}

// flushAfter sends a group's pending reports once the batch window has passed.
func (f *fleet) flushAfter(ctx context.Context, workflowID string) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(f.batch):
	}
	f.mu.Lock()
	reports := f.pending[workflowID]
	delete(f.pending, workflowID)
	f.mu.Unlock()
	f.signal(ctx, workflowID, "", reportsSignal, reports)
}

func (f *fleet) signal(ctx context.Context, workflowID, runID, name string, arg interface{}) {
	for ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f.signaler.SignalWorkflow(sctx, workflowID, runID, name, arg)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (f *fleet) wait() { f.wg.Wait() }
