package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	if !g.tenant("b").TryAcquire(1) {
		t.Fatal("b's slot was not given back")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.enter(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a client that went away: %v", err)
	}
}

// A write the gate refuses is answered before the request touches the store: readStore
// panics on any write, and a panic would be a 500.
func TestAWriteTheGateRefusesIsA429Or503AndChangesNothing(t *testing.T) {
	const tenant = "11111111-1111-1111-1111-111111111111" // readStore's caller
	tests := []struct {
		name       string
		perTenant  int
		total      int
		held       []string
		wantStatus int
		wantCode   string
	}{
		{"the tenant's bound", 1, 4, []string{tenant}, http.StatusTooManyRequests, "too_many_requests"},
		{"the replica's bound", 4, 1, []string{"another tenant"}, http.StatusServiceUnavailable, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, readStore{})
			s.writes = newWriteGate(tt.perTenant, tt.total, 10*time.Millisecond)
			for _, held := range tt.held {
				_, err := s.writes.enter(context.Background(), held)
				require.NoError(t, err)
			}
			h := s.router()
			rec := serve(t, h, badRequest{method: http.MethodPost, path: "/devices",
				body: `{"id":"d1","hardware_model":"m","firmware_version":"1.0.0"}`})
			require.Equalf(t, tt.wantStatus, rec.Code, "%s", rec.Body)
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			var body struct {
				Error errorBody `json:"error"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, tt.wantCode, body.Error.Code)

			// Reads do not pass the gate.
			read := serve(t, h, badRequest{method: http.MethodGet, path: "/devices"})
			assert.Equalf(t, http.StatusOK, read.Code, "%s", read.Body)
		})
	}
}
