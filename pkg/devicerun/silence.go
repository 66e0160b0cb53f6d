package devicerun

import (
	"time"

	"github.com/otaplane/ota/pkg/otaflow"
)

// Action is what a run does about a device's silence.
type Action int

const (
	// Wait: nothing to do until the decision's At.
	Wait Action = iota + 1
	// Probe: send a status request now.
	Probe
	// TimeOut: the device stayed silent through the step timeout (or the update deadline)
	// and did not answer the last status request.
	TimeOut
)

// Silence is what a run knows about how long its device has said nothing.
type Silence struct {
	// LastHeard is when the device last said something about the run's command (a report
	// or an answer to a status request).
	LastHeard time.Time
	// Probes counts status requests sent since LastHeard; LastProbe is the latest.
	Probes    int
	LastProbe time.Time
}

// Heard resets the silence at now.
func (s Silence) Heard(now time.Time) Silence { return Silence{LastHeard: now} }

// Answered records an answer to a status request at now: the device is alive, but the
// asks keep backing off, so a device that only ever answers "still working" costs a
// few requests per step timeout, not one per ProbeAfter.
func (s Silence) Answered(now time.Time) Silence {
	s.LastHeard = now
	return s
}

// Probed records a status request sent at now.
func (s Silence) Probed(now time.Time) Silence {
	s.Probes++
	s.LastProbe = now
	return s
}

// SilenceLimits bound a wait for the device.
type SilenceLimits struct {
	// ProbeAfter is the first silence worth a status request; later requests back off
	// (×2 each). 0 asks only at the end.
	ProbeAfter time.Duration
	// StepTimeout is the longest silence a device may keep.
	StepTimeout time.Duration
	// Deadline ends the whole wait (the update timeout).
	Deadline time.Time
}

// answerWait is how long a run waits for the answer to its last status request before
// it declares TIMED_OUT: long enough for a round trip through a busy broker and worker.
func (l SilenceLimits) answerWait() time.Duration {
	return min(max(l.ProbeAfter, 5*time.Second), 30*time.Second)
}

// Decision is the outcome of Next.
type Decision struct {
	Action Action
	// At is when to look again (Wait).
	At time.Time
	// Reason is why the run timed out (TimeOut).
	Reason string
}

// Next decides what to do about the device's silence at now. A run never declares
// TIMED_OUT without having asked the device in the last stretch of the wait and given
// it answerWait to answer.
func (l SilenceLimits) Next(s Silence, now time.Time) Decision {
	end, reason := s.LastHeard.Add(l.StepTimeout), otaflow.ReasonNoReport
	if !l.Deadline.IsZero() && !l.Deadline.After(end) {
		end, reason = l.Deadline, otaflow.ReasonUpdateTimeout
	}
	wait := l.answerWait()
	if !now.Before(end) {
		if s.Probes == 0 || s.LastProbe.Before(end.Add(-wait)) {
			return Decision{Action: Probe}
		}
		if answerBy := s.LastProbe.Add(wait); now.Before(answerBy) {
			return Decision{Action: Wait, At: answerBy}
		}
		return Decision{Action: TimeOut, Reason: reason}
	}
	if l.ProbeAfter <= 0 {
		return Decision{Action: Wait, At: end}
	}
	next := s.LastHeard.Add(l.ProbeAfter << min(s.Probes, 20))
	if !now.Before(next) && next.Before(end) {
		return Decision{Action: Probe}
	}
	if next.Before(end) {
		return Decision{Action: Wait, At: next}
	}
	return Decision{Action: Wait, At: end}
}
