package chaos

import "time"

// gap is a stretch of time in which no device run finished.
type gap struct {
	from time.Time
	len  time.Duration
}

// longestGap is the longest stretch within [from, to] without an event; events are
// sorted. The stretch from `from` to the first event counts, and so does the one from
// the last event to `to`: a campaign that never finishes again stalls until the end.
func longestGap(events []time.Time, from, to time.Time) gap {
	best := gap{from: from}
	prev := from
	for _, e := range events {
		if e.Before(from) {
			continue
		}
		if e.After(to) {
			break
		}
		if d := e.Sub(prev); d > best.len {
			best = gap{from: prev, len: d}
		}
		prev = e
	}
	if d := to.Sub(prev); d > best.len {
		best = gap{from: prev, len: d}
	}
	return best
}
