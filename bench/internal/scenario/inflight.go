package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/procstat"
	"github.com/otaplane/ota/bench/internal/report"
)

const inFlightPoll = 2 * time.Second

// measureInFlight puts every device's run in flight at once (silent devices never
// answer, in-flight limit = fleet size) and reads the worker's peak memory once every
// run has commanded its device, or when the bounded wait ends. The runs are not
// finished: the stack is torn down afterwards.
//
// The fleet is split into campaigns of RSSCampaignSize devices, all executed together:
// one campaign execution starts at most 1000 child runs and waits for them to finish
// before it continues as new (worker/campaign), so one campaign alone never has more
// than that in flight.
func (e *env) measureInFlight(ctx context.Context, res *report.Run) error {
	name := e.spec.Name()
	n := e.spec.Devices
	size := e.opts.RSSCampaignSize
	if size <= 0 {
		size = n
	}
	var ids []string
	for start := 0; start < n; start += size {
		c, err := e.client.CreateCampaign(ctx, fmt.Sprintf("in flight %d", len(ids)+1), e.firmware.ID,
			e.sets.full[start:min(start+size, n)])
		if err != nil {
			return fmt.Errorf("create campaign: %w", err)
		}
		ids = append(ids, c.ID)
	}
	before := e.cpu()
	t0 := time.Now()
	var execs []float64
	for _, id := range ids {
		t := time.Now()
		if _, err := e.client.ExecuteCampaign(ctx, id); err != nil {
			return fmt.Errorf("execute: %w", err)
		}
		execs = append(execs, round(ms(time.Since(t)), 2))
	}
	m := &report.InFlightMemory{Campaigns: len(ids), ExecuteMs: execs, InFlight: e.spec.InFlight}
	logf("%s: executed %d campaigns in %.1f ms; waiting up to %s for %d runs to command their device", name, len(ids),
		ms(time.Since(t0)), e.opts.RSSWait, n)

	deadline := t0.Add(e.opts.RSSWait)
	lastChange, nextLog := time.Now(), time.Now().Add(progressEvery)
	for {
		if err := sleep(ctx, inFlightPoll); err != nil {
			return err
		}
		st, err := e.sumStatus(ctx, ids)
		if err != nil {
			return err
		}
		now := time.Now()
		// Silent devices never report, so a run that commanded stays COMMANDED; the later
		// non-final states are counted too in case the workflow records them differently.
		k := st.StatusCounts
		commanded := k["COMMANDED"] + k["DOWNLOADING"] + k["INSTALLING"] + k["VERIFYING"]
		if commanded > m.Commanded {
			m.Commanded, lastChange = commanded, now
		}
		switch {
		case commanded >= n:
			m.AllCommanded, m.StoppedBecause = true, "all commanded"
		case st.Finished > 0:
			m.StoppedBecause = fmt.Sprintf("%d runs finished early: %s", st.Finished, counts(st))
		case now.After(deadline):
			m.StoppedBecause = fmt.Sprintf("bounded wait of %s ended", e.opts.RSSWait)
		case now.Sub(lastChange) > e.opts.Stall:
			m.StoppedBecause = fmt.Sprintf("no further run commanded for %s", e.opts.Stall)
		}
		if now.After(nextLog) || m.StoppedBecause != "" {
			nextLog = now.Add(progressEvery)
			wm, _ := procstat.ReadMemory(e.workers[0].PID())
			logf("%s: %d/%d commanded after %.0f s; worker RSS %.0f MiB, peak %.0f MiB: %s", name, commanded, n,
				now.Sub(t0).Seconds(), mib(wm.RSS), mib(wm.Peak), counts(st))
			if err := e.alive(); err != nil {
				return err
			}
		}
		if m.StoppedBecause != "" {
			m.Seconds = round(now.Sub(t0).Seconds(), 1)
			break
		}
	}
	after := e.cpu()
	for _, w := range e.workers {
		wm, err := procstat.ReadMemory(w.PID())
		if err != nil {
			return fmt.Errorf("%s memory: %w", w.Name, err)
		}
		m.WorkerPeakMiB = max(m.WorkerPeakMiB, mib(wm.Peak))
		m.WorkerRSSMiB = max(m.WorkerRSSMiB, mib(wm.RSS))
	}
	if cm, err := procstat.ReadMemory(e.dev.PID); err == nil {
		m.CadencePeakMiB = mib(cm.Peak)
	}
	if m.Commanded > 0 {
		m.CPUMsPerCommand = round(ms(after["cadence"]-before["cadence"])/float64(m.Commanded), 2)
	}
	res.Memory = m
	logf("%s: worker peak RSS %.0f MiB with %d of %d runs commanded (%s)", name, m.WorkerPeakMiB, m.Commanded, n,
		m.StoppedBecause)
	return nil
}

// sumStatus adds up the status of several campaigns.
func (e *env) sumStatus(ctx context.Context, ids []string) (otaapi.Status, error) {
	sum := otaapi.Status{StatusCounts: map[string]int{}}
	for _, id := range ids {
		st, err := e.client.CampaignStatus(ctx, id)
		if err != nil {
			return sum, fmt.Errorf("status: %w", err)
		}
		for k, v := range st.StatusCounts {
			sum.StatusCounts[k] += v
		}
		sum.Total += st.Total
		sum.Finished += st.Finished
	}
	return sum, nil
}
