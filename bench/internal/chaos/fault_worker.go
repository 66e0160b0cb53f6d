package chaos

import (
	"context"
	"fmt"
	"time"
)

// midUpdateWait bounds how long a killed worker stays down waiting for its devices.
const midUpdateWait = 2 * time.Minute

// killAndRestartWorker kills the only worker, keeps it down until no device is in the
// middle of an update any more (so every outcome arrives while nobody listens), then
// starts it again with the same MQTT client id.
func killAndRestartWorker(ctx context.Context, e *env, t *timeline) error {
	w := e.workers[0]
	t.injected = time.Now()
	if err := w.Kill(); err != nil {
		return err
	}
	t.note("killed %s (pid %d) with SIGKILL", w.Name, w.PID())
	waited, left, err := e.waitDevicesIdle(ctx, midUpdateWait)
	if err != nil {
		return err
	}
	if left > 0 {
		t.note("after %s, %d devices were still mid-update; restarting anyway", midUpdateWait, left)
	} else {
		t.note("the worker stayed down %.1f s, until no device was mid-update any more", waited.Seconds())
	}
	restarted, err := w.Respawn()
	if err != nil {
		return err
	}
	e.workers[0] = restarted
	t.back = time.Now()
	ready, err := waitWorker(ctx, restarted)
	if err != nil {
		return fmt.Errorf("restarted worker: %w", err)
	}
	t.note("the restarted worker (pid %d) subscribed %.1f s after it was started", restarted.PID(), ready.Seconds())
	return nil
}

// loseWorker kills the second of two workers for good: the first must take over its
// runs and drain what the broker keeps queued for its session.
func loseWorker(_ context.Context, e *env, t *timeline) error {
	w := e.workers[1]
	t.injected = time.Now()
	if err := w.Kill(); err != nil {
		return err
	}
	e.gone[1] = true
	t.back = t.injected
	t.note("killed %s (pid %d) with SIGKILL; it is never restarted", w.Name, w.PID())
	return nil
}

// midUpdate lists the devices that have received an update or rollback and not
// finished it.
func (e *env) midUpdate() []string {
	var out []string
	for _, id := range e.ids {
		if st, ok := e.fleet.Device(id); ok && st.CurrentCommandID != "" && !st.CurrentDone {
			out = append(out, id)
		}
	}
	return out
}

// waitDevicesIdle waits until no device is mid-update, at most limit; it returns how
// long it waited and how many devices were still busy.
func (e *env) waitDevicesIdle(ctx context.Context, limit time.Duration) (time.Duration, int, error) {
	t0 := time.Now()
	for {
		busy := len(e.midUpdate())
		if busy == 0 || time.Since(t0) > limit {
			return time.Since(t0), busy, nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return time.Since(t0), busy, err
		}
	}
}
