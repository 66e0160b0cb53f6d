package postgres

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/store"
)

// openTestStore opens the database make test prepares, or skips.
func openTestStore(t *testing.T) *Store {
	t.Helper()
	dsn := os.Getenv("OTA_DATABASE_DSN")
	if dsn == "" {
		t.Skip("OTA_DATABASE_DSN names no database: the store is tested on PostgreSQL under `make test`")
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.DSN = dsn
	st, err := Open(cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tenant := uuid.NewString()
	if err := st.AppendAudit(ctx, store.AuditEntry{TenantID: tenant, ActorName: "test", Action: "x.y",
		Result: store.AuditSucceeded}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET action = 'changed' WHERE tenant_id = '` + tenant + `'`,
		`DELETE FROM audit_log WHERE tenant_id = '` + tenant + `'`,
		`TRUNCATE audit_log`,
	} {
		if err := st.db.WithContext(ctx).Exec(stmt).Error; err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
	got, err := st.ListAudit(ctx, tenant, store.AuditFilter{Limit: 10})
	if err != nil || len(got) != 1 || got[0].Action != "x.y" {
		t.Fatalf("after the refused changes: %+v, %v", got, err)
	}
}

func TestAuditedKeepsChangesAndRowTogether(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tenant := uuid.NewString()
	entry := func(action string) store.AuditEntry {
		return store.AuditEntry{TenantID: tenant, ActorName: "test", Action: action, Result: store.AuditSucceeded,
			At: time.Now()}
	}
	appendIn := func(ctx context.Context, action string) {
		if err := st.AppendAudit(ctx, entry(action)); err != nil {
			t.Fatal(err)
		}
	}
	// Kept: the change made inside (here another row) commits with the call's row.
	if err := st.Audited(ctx, func(ctx context.Context) (store.AuditEntry, bool) {
		appendIn(ctx, "inner.kept")
		return entry("call.kept"), true
	}); err != nil {
		t.Fatal(err)
	}
	// Not kept: the change is rolled back, the call's row is still written.
	if err := st.Audited(ctx, func(ctx context.Context) (store.AuditEntry, bool) {
		appendIn(ctx, "inner.dropped")
		e := entry("call.refused")
		e.Result = store.AuditRefused
		return e, false
	}); err != nil {
		t.Fatal(err)
	}
	// A panic inside leaves nothing behind.
	func() {
		defer func() { _ = recover() }()
		_ = st.Audited(ctx, func(ctx context.Context) (store.AuditEntry, bool) {
			appendIn(ctx, "inner.panicked")
			panic("handler failed")
		})
	}()
	if err := st.Audited(ctx, func(ctx context.Context) (store.AuditEntry, bool) {
		return store.AuditEntry{}, true
	}); err == nil {
		t.Error("an audit row the database refuses (no tenant) was kept")
	} else if errors.Is(err, store.ErrNotFound) {
		t.Errorf("unexpected error class: %v", err)
	}
	got, err := st.ListAudit(ctx, tenant, store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range got {
		actions = append(actions, e.Action)
	}
	want := []string{"call.refused", "call.kept", "inner.kept"}
	if len(actions) != len(want) {
		t.Fatalf("audit rows %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audit rows %v, want %v", actions, want)
		}
	}
}
