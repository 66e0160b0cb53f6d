package postgres

import "time"

// keyPathProof is what a KeyListener knows of its notification path: which of the probes
// it sent through the ordinary pool came back on its listening session, and how soon.
// It does no I/O and reads no clock: the listener passes the time in.
type keyPathProof struct {
	// bound: a probe proves the path only when it is back within this of being sent.
	bound time.Duration
	// freshness: the path counts as proven only by a probe sent within this.
	freshness time.Duration

	listening      bool
	listeningSince time.Time
	seq            uint64    // the last probe number given out, across sessions
	pending        sentProbe // the latest probe sent and not back yet; seq 0: none
	lastProof      time.Time // when the latest probe that was back in time was sent
	// failed: a probe sent after lastProof came back late or not at all.
	failed bool
}

type sentProbe struct {
	seq uint64
	at  time.Time
}

// listen records that a listening session started (on) or ended at now. Nothing an
// earlier session proved holds for the next: notifications sent in between are lost.
func (p *keyPathProof) listen(on bool, now time.Time) {
	*p = keyPathProof{bound: p.bound, freshness: p.freshness, seq: p.seq, listening: on, listeningSince: now}
}

// send numbers a probe sent at now. overdue reports that the probe before it was not
// back within the bound (the path then stays unproven until a later one is).
func (p *keyPathProof) send(now time.Time) (seq uint64, overdue bool) {
	overdue = p.overdue(now)
	if overdue {
		p.failed = true
	}
	p.seq++
	p.pending = sentProbe{seq: p.seq, at: now}
	return p.seq, overdue
}

// back records probe seq arriving at now. late: it was the pending probe, but it came
// after the bound, so it proves nothing. A probe other than the pending one (superseded,
// or sent before this session listened) is ignored.
func (p *keyPathProof) back(seq uint64, now time.Time) (late bool) {
	if seq == 0 || seq != p.pending.seq {
		return false
	}
	sent := p.pending.at
	p.pending = sentProbe{}
	if now.Sub(sent) > p.bound {
		p.failed = true
		return true
	}
	p.failed, p.lastProof = false, sent
	return false
}

func (p *keyPathProof) overdue(now time.Time) bool {
	return p.pending.seq != 0 && now.Sub(p.pending.at) > p.bound
}

// proven says whether a cache that this path empties may serve at now.
func (p *keyPathProof) proven(now time.Time) bool {
	return p.listening && !p.failed && !p.lastProof.IsZero() && now.Sub(p.lastProof) <= p.freshness &&
		!p.overdue(now)
}

// unprovenFor is how long the session has gone without a probe back in time.
func (p *keyPathProof) unprovenFor(now time.Time) time.Duration {
	since := p.listeningSince
	if p.lastProof.After(since) {
		since = p.lastProof
	}
	return now.Sub(since)
}
