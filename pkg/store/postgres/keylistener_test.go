package postgres

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// runningKeyListener runs a listener on st's database until the test ends; changes
// counts its change calls.
func runningKeyListener(t *testing.T, st *Store, tune func(*KeyListener)) (l *KeyListener, name string, changes *atomic.Int64) {
	t.Helper()
	name = "ota-test-listener-" + uuid.NewString()[:8]
	l, err := NewKeyListener(st, KeyListenerConfig{DSN: os.Getenv("OTA_DATABASE_DSN"), ApplicationName: name,
		OnError: func(err error) { t.Logf("listener: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(l)
	}
	changes = &atomic.Int64{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func() { changes.Add(1) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l, name, changes
}

// within polls cond for up to d: a correctness wait for something asynchronous, not a
// measure of speed.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listenerPID(t *testing.T, st *Store, name string) int {
	t.Helper()
	var pids []int
	if err := st.db.Raw(`SELECT pid FROM pg_stat_activity WHERE application_name = ?`, name).Scan(&pids).Error; err != nil {
		t.Fatal(err)
	}
	if len(pids) != 1 {
		return 0
	}
	return pids[0]
}

func TestKeyListenerHearsChangesMadeBySQL(t *testing.T) {
	st := openTestStore(t)
	l, _, changes := runningKeyListener(t, st, nil)
	within(t, 5*time.Second, "the path is proven", l.Proven)
	tenant := newTestTenant(t, st)
	tests := []struct {
		name, sql string
	}{
		{"a key inserted", `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash) VALUES
			('` + uuid.NewString() + `', '` + tenant + `', 'k', 1, 'ota_0000', gen_random_uuid()::text::bytea)`},
		{"a key revoked", `UPDATE api_keys SET revoked_at = now() WHERE tenant_id = '` + tenant + `'`},
		{"a tenant changed", `UPDATE tenants SET four_eyes = true WHERE id = '` + tenant + `'`},
		{"a key deleted", `DELETE FROM api_keys WHERE tenant_id = '` + tenant + `'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := changes.Load()
			if err := st.db.Exec(tt.sql).Error; err != nil {
				t.Fatal(err)
			}
			within(t, 5*time.Second, "the change is heard", func() bool { return changes.Load() > before })
		})
	}
}

func TestKeyListenerProbesDoNotCountAsChanges(t *testing.T) {
	st := openTestStore(t)
	l, _, changes := runningKeyListener(t, st, func(l *KeyListener) { l.interval = 50 * time.Millisecond })
	within(t, 5*time.Second, "the path is proven", l.Proven)
	// Another replica probing on the same channel.
	other, _, _ := runningKeyListener(t, st, func(l *KeyListener) { l.interval = 50 * time.Millisecond })
	within(t, 5*time.Second, "the other path is proven", other.Proven)
	before := changes.Load()
	time.Sleep(500 * time.Millisecond) // about 20 probes of each
	// Other packages' tests may change keys meanwhile; 20 probes of each listener would
	// be heard as far more than a few changes.
	if got := changes.Load() - before; got >= 10 {
		t.Errorf("%d change calls while only probes were sent", got)
	}
}

func TestKeyListenerReconnectsAfterItsSessionIsKilled(t *testing.T) {
	st := openTestStore(t)
	// A slow first reconnect keeps the session down long enough to see it down.
	l, name, changes := runningKeyListener(t, st, func(l *KeyListener) { l.reconnectMin = 3 * time.Second })
	within(t, 5*time.Second, "the path is proven", l.Proven)
	pid := listenerPID(t, st, name)
	if pid == 0 {
		t.Fatalf("no session named %s in pg_stat_activity", name)
	}
	before := changes.Load()
	if err := st.db.Exec(`SELECT pg_terminate_backend(?)`, pid).Error; err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "the path is unproven once the session is gone", func() bool { return !l.Proven() })
	if changes.Load() == before {
		t.Error("losing the session did not empty the cache")
	}
	lost := changes.Load()
	within(t, 10*time.Second, "the path is proven again", l.Proven)
	if changes.Load() == lost {
		t.Error("the new session did not empty the cache (changes while down went unheard)")
	}
	if got := listenerPID(t, st, name); got == 0 || got == pid {
		t.Errorf("listening session after the kill: pid %d, killed %d", got, pid)
	}
}

func TestKeyListenerWithoutTheTriggersNeverProves(t *testing.T) {
	st := openTestStore(t)
	l, _, _ := runningKeyListener(t, st, func(l *KeyListener) { l.interval = 200 * time.Millisecond })
	within(t, 5*time.Second, "the path is proven", l.Proven)
	if err := st.db.Exec(`ALTER TABLE tenants DISABLE TRIGGER tenants_notify_change`).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.db.Exec(`ALTER TABLE tenants ENABLE TRIGGER tenants_notify_change`).Error; err != nil {
			t.Error(err)
		}
	})
	// The next probe is not sent, so it is overdue a second after its turn.
	within(t, 5*time.Second, "a disabled trigger unproves the path", func() bool { return !l.Proven() })
	time.Sleep(10 * l.interval)
	if l.Proven() {
		t.Error("proven while a trigger is disabled")
	}
}
