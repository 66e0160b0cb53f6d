// Package lorawan holds the LoRaWAN device-management workflows: LORAWAN_DEVICE_SYNC
// (create, update or delete one device in ChirpStack and its mirror in the database,
// compensating so the two never disagree) and LORAWAN_RECONCILE (report and repair
// drift between them).
package lorawan

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/worker/localfirst"
)

// defaultRetryWindow applies when an input carries no policy.
const defaultRetryWindow = time.Minute

// durableWindow bounds compensation and the record of a ChirpStack change that already
// happened: those must complete, so they retry for a day.
const durableWindow = 24 * time.Hour

// options are the local-activity options of a step and those of its regular-activity
// fallback.
type options struct {
	local    workflow.LocalActivityOptions
	fallback workflow.ActivityOptions
}

func retryWindow(p otaflow.LoRaWANSyncPolicy) time.Duration {
	if p.RetryWindow <= 0 {
		return defaultRetryWindow
	}
	return p.RetryWindow
}

// stepOptions: a step first runs as a local activity for a quarter of its window (at
// most three quick attempts, no task-list round trip), then as a regular activity with
// durable retries for the rest of the window. Permanent reasons are never retried.
func stepOptions(window, attempt time.Duration) options {
	local := min(max(window/4, time.Second), 15*time.Second)
	rest := max(window-local, time.Second)
	return options{
		local: workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: local,
			RetryPolicy: &cadence.RetryPolicy{
				InitialInterval:          200 * time.Millisecond,
				BackoffCoefficient:       2,
				MaximumInterval:          2 * time.Second,
				ExpirationInterval:       local,
				MaximumAttempts:          3,
				NonRetriableErrorReasons: otaflow.LoRaWANPermanentReasons,
			},
		},
		fallback: workflow.ActivityOptions{
			ScheduleToStartTimeout: 5 * time.Minute,
			StartToCloseTimeout:    attempt,
			RetryPolicy: &cadence.RetryPolicy{
				InitialInterval:          time.Second,
				BackoffCoefficient:       2,
				MaximumInterval:          min(max(rest/4, time.Second), time.Minute),
				ExpirationInterval:       rest,
				NonRetriableErrorReasons: otaflow.LoRaWANPermanentReasons,
			},
		},
	}
}

// step runs one activity local-first (see package localfirst).
func step(ctx workflow.Context, name string, fn, arg, result interface{}, o options) error {
	return localfirst.Run(ctx, name, fn, arg, result, o.local, o.fallback)
}

func permanent(err error) bool {
	ce, ok := customError(err)
	return ok && slices.Contains(otaflow.LoRaWANPermanentReasons, ce.Reason())
}

// details is the failure an activity reported, or a description of any other error
// (a timeout, a panic).
func details(err error) otaflow.LoRaWANFailure {
	if ce, ok := customError(err); ok && ce.HasDetails() {
		var f otaflow.LoRaWANFailure
		if ce.Details(&f) == nil {
			return f
		}
	}
	return otaflow.LoRaWANFailure{Message: err.Error()}
}

// fail ends a run: a permanent step failure keeps its reason and details; anything
// else means the dependency did not answer within the retry window.
func fail(err error, unavailableReason, what string, window time.Duration) error {
	f := details(err)
	if permanent(err) {
		ce, _ := customError(err)
		return cadence.NewCustomError(ce.Reason(), f)
	}
	dependency := "ChirpStack"
	if unavailableReason == otaflow.LoRaWANFailDatabase {
		dependency = "the database"
	}
	f.Message = fmt.Sprintf("%s did not answer within the retry window (%s) to %s: %s", dependency, window, what, f.Message)
	return cadence.NewCustomError(unavailableReason, f)
}

// withNote appends what compensation did (or could not do) to a failure.
func withNote(err error, note string) error {
	if note == "" {
		return err
	}
	ce, ok := customError(err)
	if !ok {
		return fmt.Errorf("%w; %s", err, note)
	}
	f := details(err)
	f.Message += "; " + note
	return cadence.NewCustomError(ce.Reason(), f)
}
func customError(err error) (*cadence.CustomError, bool) {
	var ce *cadence.CustomError
	ok := errors.As(err, &ce)
	return ce, ok
}
