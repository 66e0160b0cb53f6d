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
// signal, retried until Cadence takes it.
type fleet struct {
	signaler signaler
	delay    time.Duration
	// byRun: a per-device workflow is signaled by run, a group by workflow id only.
	byRun    bool
	commands chan command
	done     atomic.Int64
	wg       sync.WaitGroup
}

// answerers is how many devices answer at the same time.
const answerers = 32

func newFleet(s signaler, delay time.Duration, byRun bool) *fleet {
	return &fleet{signaler: s, delay: delay, byRun: byRun, commands: make(chan command, 1<<16)}
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
	runID := ""
	if f.byRun {
		runID = c.runID
	}
	for ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f.signaler.SignalWorkflow(sctx, c.workflowID, runID, reportSignal, report{DeviceID: c.deviceID})
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
