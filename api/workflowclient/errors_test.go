package workflowclient

import (
	"errors"
	"testing"

	"go.uber.org/cadence/.gen/go/shared"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/store"
)

func TestStartErrorsAreNeverAMissingWorkflow(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		// A start needs no existing entity but its domain: an unknown one is Cadence
		// catching up with a new tenant, not a 404.
		{"domain not known yet", &shared.EntityNotExistsError{Message: "domain does not exist"}, app.ErrUnavailable},
		{"server busy", &shared.ServiceBusyError{}, app.ErrUnavailable},
		{"unreachable", errors.New("connection refused"), app.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := startError(tt.err)
			if !errors.Is(got, tt.want) || errors.Is(got, store.ErrNotFound) {
				t.Errorf("startError(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if got := classify(&shared.EntityNotExistsError{}); !errors.Is(got, store.ErrNotFound) {
		t.Errorf("a query of a missing run is a 404: %v", got)
	}
}
