package scenario

import (
	"sync/atomic"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/procstat"
	"github.com/otaplane/ota/bench/internal/report"
)

// timeline records a campaign's progress at every status poll, with the machine's CPU
// use in between, and shares the finished fraction with the PostgreSQL sampler.
type timeline struct {
	t0      time.Time
	devices int
	samples []report.Sample
	// busy and total CPU time at the start and at the latest sample.
	busy0, total0, busy, total time.Duration
	// decile is the tenth of the campaign reached so far (0–9), read by other goroutines.
	decile atomic.Int32
}

func newTimeline(t0 time.Time, devices int) *timeline {
	tl := &timeline{t0: t0, devices: devices}
	tl.busy0, tl.total0, _ = procstat.MachineTimes()
	tl.busy, tl.total = tl.busy0, tl.total0
	return tl
}

// add records one status answer read at now.
func (tl *timeline) add(now time.Time, st otaapi.Status) {
	busy, total, err := procstat.MachineTimes()
	pct := 0.0
	if err == nil && total > tl.total {
		pct = round(100*float64(busy-tl.busy)/float64(total-tl.total), 1)
		tl.busy, tl.total = busy, total
	}
	inFlight := st.Total - st.Finished - st.StatusCounts["PENDING"]
	tl.samples = append(tl.samples, report.Sample{Seconds: round(now.Sub(tl.t0).Seconds(), 2), Finished: st.Finished,
		InFlight: max(inFlight, 0), BusyPct: pct})
	if tl.devices > 0 {
		tl.decile.Store(int32(min(9, st.Finished*10/tl.devices)))
	}
}

// summary is the campaign's progress from execute to the last sample.
func (tl *timeline) summary() *report.Progress {
	p := report.SummarizeProgress(tl.devices, tl.samples, float64(tl.busy-tl.busy0), float64(tl.total-tl.total0))
	return &p
}
