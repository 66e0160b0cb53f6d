package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

// errStillGoing tells poll to look again.
var errStillGoing = errors.New("still going")

// poll calls look every interval until it returns something other than errStillGoing.
// A refusal by the API (4xx) ends the poll: looking again will not help. Anything else
// (the API restarting, a network blip) is said and retried. what names the thing
// watched in the timeout's message.
func (e *env) poll(ctx context.Context, w watchFlags, what string, look func() error) error {
	var deadline <-chan time.Time
	if w.timeout > 0 {
		t := time.NewTimer(w.timeout)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(max(w.interval, 100*time.Millisecond))
	defer tick.Stop()
	for {
		err := look()
		var api *apiclient.Error
		switch {
		case errors.Is(err, errStillGoing):
		case errors.As(err, &api) && api.Status < 500:
			return err
		case errors.As(err, &api), isTransport(err):
			e.note("otactl: " + err.Error() + "; trying again")
		default:
			return err // nil (ended) or an exit
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return &exitError{code: exitNotCompleted, msg: fmt.Sprintf("%s did not end within %s", what, w.timeout)}
		case <-tick.C:
		}
	}
}

// isTransport says err came from reaching the API, not from the answer.
func isTransport(err error) bool {
	var exit *exitError
	return err != nil && !errors.As(err, &exit)
}
