package cadenceclient

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.uber.org/cadence/.gen/go/shared"
)

func TestStartRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"server busy", &shared.ServiceBusyError{Message: "busy"}, true},
		{"server error", &shared.InternalServiceError{Message: "persistence"}, true},
		{"domain not known yet", &shared.EntityNotExistsError{Message: "domain does not exist"}, true},
		{"unreachable", errors.New("connection refused"), true},
		{"wrapped busy", fmt.Errorf("start: %w", &shared.ServiceBusyError{}), true},
		{"bad request", &shared.BadRequestError{Message: "bad"}, false},
		{"already started", &shared.WorkflowExecutionAlreadyStartedError{}, false},
		{"domain not active", &shared.DomainNotActiveError{}, false},
		{"limit exceeded", &shared.LimitExceededError{}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled", fmt.Errorf("rpc: %w", context.Canceled), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StartRetryable(tt.err); got != tt.want {
				t.Errorf("StartRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRetryStart(t *testing.T) {
	busy := &shared.ServiceBusyError{Message: "busy"}
	refused := &shared.BadRequestError{Message: "refused"}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		errs      []error // what each try answers; nil from then on
		wantCalls int
		wantErr   error
	}{
		{"first try", context.Background(), nil, 1, nil},
		{"a busy server, then the start", context.Background(), []error{busy}, 2, nil},
		{"a refusal is final", context.Background(), []error{refused}, 1, refused},
		{"gives up after its tries", context.Background(), []error{busy, busy, busy, busy, busy, busy}, startTries, busy},
		{"a domain not known yet, then the start", context.Background(), []error{&shared.EntityNotExistsError{}}, 2, nil},
		{"a caller gone stops the waiting", canceled, []error{busy}, 1, busy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := RetryStart(tt.ctx, StartRetryable, func() error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) {
				t.Fatalf("%d calls, %v; want %d calls, %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}
