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
