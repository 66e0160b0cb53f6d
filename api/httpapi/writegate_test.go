package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWriteGate(t *testing.T) {
	const wait = 20 * time.Millisecond
	tests := []struct {
		name      string
		perTenant int
		total     int
		held      []string // tenants whose writes are in progress
		enter     string
		want      error
	}{
		{"room for the tenant", 2, 4, []string{"a"}, "a", nil},
		{"the tenant is at its bound", 2, 4, []string{"a", "a"}, "a", errTenantWritesBusy},
		{"another tenant is not held back by it", 2, 4, []string{"a", "a"}, "b", nil},
		{"the replica is at its bound", 2, 3, []string{"a", "a", "b"}, "c", errReplicaWritesBusy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newWriteGate(tt.perTenant, tt.total, wait)
			for _, tenant := range tt.held {
				if _, err := g.enter(context.Background(), tenant); err != nil {
					t.Fatalf("holding a write of %s: %v", tenant, err)
				}
			}
			leave, err := g.enter(context.Background(), tt.enter)
			if !errors.Is(err, tt.want) {
				t.Fatalf("enter(%s) = %v, want %v", tt.enter, err, tt.want)
			}
			if err == nil {
				leave()
			}
		})
	}
}

func TestWriteGateWaitsForASlotAndFreesWhatItTook(t *testing.T) {
	g := newWriteGate(1, 1, time.Second)
	leave, err := g.enter(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		leave()
	}()
	next, err := g.enter(context.Background(), "a")
	if err != nil {
		t.Fatalf("a write that waits gets the slot once it is left: %v", err)
	}
	next()

	// A refused entry gives back the tenant slot it held while it waited for the replica.
	g = newWriteGate(1, 1, 10*time.Millisecond)
	if _, err := g.enter(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.enter(context.Background(), "b"); !errors.Is(err, errReplicaWritesBusy) {
		t.Fatalf("replica full: %v", err)
	}
	if len(g.tenantSlots("b")) != 0 {
		t.Fatal("b's slot was not given back")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.enter(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a client that went away: %v", err)
	}
}
