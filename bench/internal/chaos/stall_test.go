package chaos

import (
	"testing"
	"time"
)

func TestLongestGap(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(secs ...float64) []time.Time {
		out := make([]time.Time, len(secs))
		for i, s := range secs {
			out[i] = t0.Add(time.Duration(s * float64(time.Second)))
		}
		return out
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	for _, tc := range []struct {
		name     string
		events   []time.Time
		from, to float64
		want     time.Duration
		wantFrom float64
	}{
		{name: "no events: the whole window", events: nil, from: 0, to: 10, want: sec(10), wantFrom: 0},
		{name: "start to first event", events: at(4, 5, 6), from: 0, to: 6, want: sec(4), wantFrom: 0},
		{name: "between events", events: at(1, 2, 9, 10), from: 0, to: 10, want: sec(7), wantFrom: 2},
		{name: "last event to end", events: at(1, 2), from: 0, to: 12, want: sec(10), wantFrom: 2},
		{name: "events before the window are ignored", events: at(1, 20, 22, 30), from: 15, to: 30,
			want: sec(8), wantFrom: 22},
		{name: "window starts inside a long gap", events: at(1, 40), from: 25, to: 41, want: sec(15), wantFrom: 25},
		{name: "events after the window are ignored", events: at(1, 2, 50), from: 0, to: 3, want: sec(1), wantFrom: 0},
		{name: "event exactly at from", events: at(5, 6), from: 5, to: 6, want: sec(1), wantFrom: 5},
		{name: "empty window", events: at(1), from: 3, to: 3, want: 0, wantFrom: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := t0.Add(sec(tc.from))
			got := longestGap(tc.events, from, t0.Add(sec(tc.to)))
			if got.len != tc.want {
				t.Errorf("len = %s, want %s", got.len, tc.want)
			}
			if want := t0.Add(sec(tc.wantFrom)); !got.from.Equal(want) {
				t.Errorf("from = +%s, want +%s", got.from.Sub(t0), want.Sub(t0))
			}
		})
	}
}
