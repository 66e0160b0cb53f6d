package postgres

import (
	"testing"
	"time"
)

func TestKeyPathProof(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const ms = time.Millisecond
	type step struct {
		at   time.Duration
		do   string // listen, unlisten, send, back <n>, back-stale
		want bool   // proven right after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a session alone proves nothing", []step{{0, "listen", false}}},
		{"a probe back in time proves", []step{{0, "listen", false}, {0, "send", false}, {10 * ms, "back", true}}},
		{"the proof ages out without probes", []step{
			{0, "listen", false}, {0, "send", false}, {10 * ms, "back", true}, {5 * time.Second, "check", true},
			{5*time.Second + ms, "check", false}}},
		{"a probe not back within the bound unproves at once", []step{
			{0, "listen", false}, {0, "send", false}, {10 * ms, "back", true},
			{2 * time.Second, "send", true}, {3 * time.Second, "check", true}, {3*time.Second + ms, "check", false}}},
		{"a late probe proves nothing", []step{
			{0, "listen", false}, {0, "send", false}, {10 * ms, "back", true},
			{2 * time.Second, "send", true}, {3500 * ms, "back", false}}},
		{"sending past an overdue probe does not restore the proof", []step{
			{0, "listen", false}, {0, "send", false}, {10 * ms, "back", true},
			{2 * time.Second, "send", true}, {4 * time.Second, "send", false}, {4100 * ms, "check", false},
			{4200 * ms, "back", true}}},
		{"a superseded probe is ignored", []step{
			{0, "listen", false}, {0, "send", false}, {2 * time.Second, "send", false}, {2100 * ms, "back-stale", false},
			{2200 * ms, "back", true}}},
		{"a new session starts unproven", []step{
			{0, "listen", false}, {0, "send", false}, {10 * ms, "back", true}, {20 * ms, "unlisten", false},
			{30 * ms, "listen", false}}},
		{"a probe of the previous session does not prove the next", []step{
			{0, "listen", false}, {0, "send", false}, {20 * ms, "listen", false}, {30 * ms, "back", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := keyPathProof{bound: time.Second, freshness: 5 * time.Second}
			var last uint64
			for i, s := range tt.steps {
				now := at(s.at)
				switch s.do {
				case "listen":
					p.listen(true, now)
				case "unlisten":
					p.listen(false, now)
				case "send":
					last, _ = p.send(now)
				case "back":
					p.back(last, now)
				case "back-stale":
					p.back(last-1, now)
				}
				if got := p.proven(now); got != s.want {
					t.Fatalf("step %d (%s at %s): proven = %v, want %v", i, s.do, s.at, got, s.want)
				}
			}
		})
	}
}

func TestKeyPathProofReportsOverdueAndLate(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := keyPathProof{bound: time.Second, freshness: 5 * time.Second}
	p.listen(true, t0)
	seq, overdue := p.send(t0)
	if overdue {
		t.Fatal("the first probe cannot find one overdue")
	}
	if _, overdue = p.send(t0.Add(2 * time.Second)); !overdue {
		t.Error("the probe before was never back: overdue")
	}
	if late := p.back(seq, t0.Add(2100*time.Millisecond)); late {
		t.Error("a superseded probe is ignored, not late")
	}
	seq, _ = p.send(t0.Add(4 * time.Second))
	if late := p.back(seq, t0.Add(5100*time.Millisecond)); !late {
		t.Error("back 1.1 s after sending: late")
	}
	if got := p.unprovenFor(t0.Add(6 * time.Second)); got != 6*time.Second {
		t.Errorf("unprovenFor = %s, want 6s: nothing proved since the session started", got)
	}
}
