package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// brokerDown is how long the broker stays dead: longer than the clients' first
// reconnect attempts, so they see a real outage.
const brokerDown = 5 * time.Second

// restartBroker kills the run's Mosquitto and starts it again on the same port with
// the same persistence directory: sessions and queued messages come back as of the
// last autosave.
func restartBroker(ctx context.Context, e *env, t *timeline) error {
	b := e.broker
	t.injected = time.Now()
	if err := b.Kill(); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Join(b.Config.PersistenceDir, "mosquitto.db")); err == nil {
		t.note("killed the broker (pid %d) with SIGKILL; its last autosave (every %s) had written %d bytes",
			b.Proc().PID(), brokerAutosave, fi.Size())
	} else {
		t.note("killed the broker (pid %d) with SIGKILL before any autosave (%v)", b.Proc().PID(), err)
	}
	if err := sleep(ctx, brokerDown); err != nil {
		return err
	}
	t.back = time.Now()
	if err := b.Restart(ctx); err != nil {
		return fmt.Errorf("restart broker: %w", err)
	}
	t.note("the broker was down %.1f s and accepted connections %.2f s after its restart",
		t.back.Sub(t.injected).Seconds(), time.Since(t.back).Seconds())
	return nil
}
