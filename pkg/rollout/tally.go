package rollout

import (
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// FailureTypeOf classifies a final device state for abort rules and retry budgets ("" for
// success or cancel).
func FailureTypeOf(s model.DeviceState) otaflow.FailureType {
	switch s {
	case model.StateFailed, model.StateRolledBack:
		return otaflow.FailureFailed
	case model.StateTimedOut:
		return otaflow.FailureTimedOut
	case model.StateRejected:
		return otaflow.FailureRejected
	}
	return ""
}

// Record counts one finished device run in its wave's counters.
func Record(w *otaflow.WaveStats, s model.DeviceState) {
	w.Finished++
	switch {
	case s == model.StateSucceeded:
		w.Succeeded++
	case s == model.StateCanceled:
		w.Canceled++
	default:
		switch FailureTypeOf(s) {
		case otaflow.FailureFailed:
			w.Failed++
		case otaflow.FailureTimedOut:
			w.TimedOut++
		case otaflow.FailureRejected:
			w.Rejected++
		}
	}
}

// Failures counts finished devices of a failure type.
func Failures(w otaflow.WaveStats, t otaflow.FailureType) int {
	switch t {
	case otaflow.FailureFailed:
		return w.Failed
	case otaflow.FailureTimedOut:
		return w.TimedOut
	case otaflow.FailureRejected:
		return w.Rejected
	case otaflow.FailureAll:
		return w.Failed + w.TimedOut + w.Rejected
	}
	return 0
}

// Budget is how many extra runs the policy gives a device per failure type.
func Budget(b otaflow.RetryBudget, t otaflow.FailureType) int {
	switch t {
	case otaflow.FailureFailed:
		return b.Failed
	case otaflow.FailureTimedOut:
		return b.TimedOut
	case otaflow.FailureRejected:
		return b.Rejected
	}
	return 0
}

// Finished describes a device run that ended, as the campaign learns it.
type Finished struct {
	State model.DeviceState
	// Retries is how many extra runs the device has had already.
	Retries int
	// Refused: the run never started, because another update holds the device. Waiting
	// for that one to end is not the campaign's job, so it is not retried.
	Refused bool
}

// Retry reports whether a finished device gets another run: its failure type has budget
// left, and the campaign is still dispatching (not aborted or canceled).
func Retry(b otaflow.RetryBudget, f Finished, stopping bool) bool {
	ft := FailureTypeOf(f.State)
	return ft != "" && !f.Refused && !stopping && f.Retries < Budget(b, ft)
}
