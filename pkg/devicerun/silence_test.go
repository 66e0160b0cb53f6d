package devicerun

import (
	"testing"
	"time"

	"github.com/otaplane/ota/pkg/otaflow"
)

func TestSilenceNext(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	limits := SilenceLimits{ProbeAfter: 10 * time.Second, StepTimeout: 2 * time.Minute, Deadline: at(time.Hour)}
	quiet := Silence{LastHeard: t0}
	tests := []struct {
		name   string
		limits SilenceLimits
		s      Silence
		now    time.Duration
		want   Decision
	}{
		{"just heard: wait for the first probe", limits, quiet, 0, Decision{Action: Wait, At: at(10 * time.Second)}},
		{"first probe due", limits, quiet, 10 * time.Second, Decision{Action: Probe}},
		{"second probe backs off", limits, quiet.Probed(at(10 * time.Second)), 11 * time.Second,
			Decision{Action: Wait, At: at(20 * time.Second)}},
		{"third probe at 40 s", limits, quiet.Probed(at(10 * time.Second)).Probed(at(20 * time.Second)), 40 * time.Second,
			Decision{Action: Probe}},
		{"next probe past the step end: wait for the end", limits,
			Silence{LastHeard: t0, Probes: 4, LastProbe: at(80 * time.Second)}, 81 * time.Second,
			Decision{Action: Wait, At: at(2 * time.Minute)}},
		{"step end after an old probe: ask once more", limits,
			Silence{LastHeard: t0, Probes: 4, LastProbe: at(80 * time.Second)}, 2 * time.Minute,
			Decision{Action: Probe}},
		{"step end, final probe unanswered so far: wait for the answer", limits,
			Silence{LastHeard: t0, Probes: 5, LastProbe: at(2 * time.Minute)}, 2*time.Minute + time.Second,
			Decision{Action: Wait, At: at(2*time.Minute + 10*time.Second)}},
		{"final probe unanswered: timed out", limits,
			Silence{LastHeard: t0, Probes: 5, LastProbe: at(2 * time.Minute)}, 2*time.Minute + 10*time.Second,
			Decision{Action: TimeOut, Reason: otaflow.ReasonNoReport}},
		{"deadline before the step end: update timeout",
			SilenceLimits{ProbeAfter: 10 * time.Second, StepTimeout: 2 * time.Minute, Deadline: at(30 * time.Second)},
			Silence{LastHeard: t0, Probes: 2, LastProbe: at(29 * time.Second)}, 40 * time.Second,
			Decision{Action: TimeOut, Reason: otaflow.ReasonUpdateTimeout}},
		{"no probing: wait for the step end",
			SilenceLimits{StepTimeout: time.Minute}, quiet, 0, Decision{Action: Wait, At: at(time.Minute)}},
		{"no probing: still asks before timing out",
			SilenceLimits{StepTimeout: time.Minute}, quiet, time.Minute, Decision{Action: Probe}},
		{"answer wait is at least 5 s",
			SilenceLimits{ProbeAfter: time.Second, StepTimeout: 10 * time.Second},
			Silence{LastHeard: t0, Probes: 3, LastProbe: at(10 * time.Second)}, 12 * time.Second,
			Decision{Action: Wait, At: at(15 * time.Second)}},
		{"overslept (worker was down): probe at once", limits, quiet, 90 * time.Second, Decision{Action: Probe}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.limits.Next(tt.s, at(tt.now))
			if got != tt.want {
				t.Fatalf("Next = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSilenceNeverTimesOutWithoutAsking walks a silent device through a whole wait: the
// run asks several times, asks in the last stretch, and only then times out.
func TestSilenceNeverTimesOutWithoutAsking(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := SilenceLimits{ProbeAfter: 15 * time.Second, StepTimeout: 10 * time.Minute}
	s := Silence{LastHeard: t0}
	now := t0
	for i := 0; i < 100; i++ {
		d := l.Next(s, now)
		switch d.Action {
		case Wait:
			if !d.At.After(now) {
				t.Fatalf("wait until %v is not after now %v", d.At, now)
			}
			now = d.At
		case Probe:
			s = s.Probed(now)
		case TimeOut:
			if s.Probes < 3 || now.Sub(s.LastProbe) < 5*time.Second || s.LastProbe.Before(t0.Add(10*time.Minute-30*time.Second)) {
				t.Fatalf("timed out at %v after %d probes, last at %v", now.Sub(t0), s.Probes, s.LastProbe.Sub(t0))
			}
			if now.Sub(t0) > 10*time.Minute+30*time.Second {
				t.Fatalf("timed out late: %v", now.Sub(t0))
			}
			return
		}
	}
	t.Fatal("never timed out")
}
