package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

func newTestDevice(t *testing.T, st *Store, tenant, id string) {
	t.Helper()
	if err := st.db.Exec(`INSERT INTO devices (tenant_id, id, hardware_model, firmware_version) VALUES (?, ?, 'board', '1.0.0')`,
		tenant, id).Error; err != nil {
		t.Fatal(err)
	}
}

func claimOf(t *testing.T, st *Store, tenant, device string) store.Claim {
	t.Helper()
	c, ok, err := st.DeviceClaim(context.Background(), tenant, device)
	if err != nil || !ok {
		t.Fatalf("DeviceClaim = %+v, %v, %v", c, ok, err)
	}
	return c
}

// A claim is the run's until its outcome is recorded; then the next run gets it, and the
// released row still names the run that held it last.
func TestClaimHeldUntilTheOutcome(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tenant := newTestTenant(t, st)
	newTestDevice(t, st, tenant, "dev-1")

	if _, ok, err := st.DeviceClaim(ctx, tenant, "dev-1"); err != nil || ok {
		t.Fatalf("a device never claimed has a claim: %v, %v", ok, err)
	}
	first, err := st.ClaimDevice(ctx, tenant, "dev-1", "ota-group:a", "run-a")
	if err != nil || !first.Holds("ota-group:a", "run-a") {
		t.Fatalf("first claim = %+v, %v", first, err)
	}
	again, err := st.ClaimDevice(ctx, tenant, "dev-1", "ota-group:a", "run-a")
	if err != nil || !again.Holds("ota-group:a", "run-a") {
		t.Fatalf("the holder's repeated claim = %+v, %v", again, err)
	}
	other, err := st.ClaimDevice(ctx, tenant, "dev-1", "ota-device:dev-1", "run-b")
	if err != nil || other != first {
		t.Fatalf("another run's claim = %+v, %v; want the holder %+v", other, err, first)
	}

	rec := otaflow.OutcomeRequest{TenantID: tenant, DeviceID: "dev-1", State: model.StateSucceeded,
		Firmware: otaflow.FirmwareRef{Version: "1.1.0"}, WorkflowID: "ota-device:dev-1", RunID: "run-b"}
	if err := st.RecordOutcome(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, st, tenant, "dev-1"); !c.Holds("ota-group:a", "run-a") {
		t.Fatalf("another run's outcome released the claim: %+v", c)
	}
	rec.WorkflowID, rec.RunID = "ota-group:a", "run-a"
	if err := st.RecordOutcome(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, st, tenant, "dev-1"); c.Held || c.WorkflowID != "ota-group:a" {
		t.Fatalf("after the holder's outcome: %+v, want released and naming it", c)
	}
	next, err := st.ClaimDevice(ctx, tenant, "dev-1", "ota-device:dev-1", "run-b")
	if err != nil || !next.Holds("ota-device:dev-1", "run-b") {
		t.Fatalf("claim after release = %+v, %v", next, err)
	}
}

// A claim whose run closed without an outcome is taken over once, by one run; the sweep's
// EndRuns releases the claims of the runs it ends.
func TestStaleClaimTakenOverOnce(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tenant := newTestTenant(t, st)
	newTestDevice(t, st, tenant, "dev-1")
	newTestDevice(t, st, tenant, "dev-2")
	stale, err := st.ClaimDevice(ctx, tenant, "dev-1", "ota-group:gone", "run-gone")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	won := make([]bool, 8)
	for i := range won {
		wg.Go(func() {
			ok, err := st.TakeOverClaim(ctx, tenant, "dev-1", stale, "ota-group:new", string(rune('a'+i)))
			if err != nil {
				t.Error(err)
			}
			won[i] = ok
		})
	}
	wg.Wait()
	n := 0
	for _, w := range won {
		if w {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d runs took over one claim", n)
	}

	if _, err := st.ClaimDevice(ctx, tenant, "dev-2", "ota-group:ended", "run-ended"); err != nil {
		t.Fatal(err)
	}
	if err := st.EndRuns(ctx, tenant, "00000000-0000-0000-0000-000000000001",
		[]store.RunRef{{DeviceID: "dev-2", WorkflowID: "ota-group:ended", RunID: "run-ended"}},
		model.StateCanceled, otaflow.ReasonRunEnded); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, st, tenant, "dev-2"); c.Held {
		t.Fatalf("a run the sweep ended still holds its device: %+v", c)
	}
	if err := st.ReleaseClaim(ctx, tenant, "dev-1", "ota-group:gone", "run-gone"); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, st, tenant, "dev-1"); !c.Held || c.WorkflowID != "ota-group:new" {
		t.Fatalf("the old holder released the new holder's claim: %+v", c)
	}
}

// Of many runs that claim one device at once, exactly one gets it.
func TestConcurrentClaimsOneWinner(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tenant := newTestTenant(t, st)
	newTestDevice(t, st, tenant, "dev-1")
	var wg sync.WaitGroup
	got := make([]store.Claim, 8)
	for i := range got {
		wg.Go(func() {
			c, err := st.ClaimDevice(ctx, tenant, "dev-1", "ota-group:g", string(rune('a'+i)))
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		})
	}
	wg.Wait()
	winners := 0
	for i, c := range got {
		if c.Holds("ota-group:g", string(rune('a'+i))) {
			winners++
		}
		if c != got[0] {
			t.Errorf("claim %d saw %+v, claim 0 saw %+v", i, c, got[0])
		}
	}
	if winners != 1 {
		t.Fatalf("%d winners", winners)
	}
}
