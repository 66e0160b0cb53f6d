package chaos

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/report"
)

const (
	progressLogEvery = 10 * time.Second
	aliveEvery       = 2 * time.Second
)

// campaign creates and executes the campaign over every device, strikes the fault once
// its share of the runs has finished, and waits until the campaign completes or the
// watch gives up. It fills in the timeline and progress figures of res and returns the
// campaign id ("" if there is none to verify).
func (e *env) campaign(ctx context.Context, res *report.FaultRun) (string, error) {
	name := e.fault.name
	c, err := e.client.CreateCampaignWith(ctx, otaapi.NewCampaign{Name: "chaos " + name, FirmwareID: e.firmware.ID,
		DeviceIDs: e.ids, Rollout: map[string]any{"max_in_flight": e.cfg.InFlight}})
	if err != nil {
		return "", fmt.Errorf("create campaign: %w", err)
	}
	res.CampaignID = c.ID

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	t0 := time.Now()
	if _, err := e.client.ExecuteCampaign(ctx, c.ID); err != nil {
		return "", fmt.Errorf("execute: %w", err)
	}
	p := watch(wctx, e.client, c.ID, len(e.ids), e.cfg.StallLimit, t0)
	logf("%s: campaign %s executed over %d devices (max_in_flight %d)", name, c.ID, len(e.ids), e.cfg.InFlight)

	t := timeline{fault: name}
	strikeAt := int(math.Ceil(e.fault.at * float64(len(e.ids))))
	got, err := p.waitFinished(ctx, strikeAt)
	if err != nil {
		return c.ID, fmt.Errorf("before the fault: %w", err)
	}
	logf("%s: %d/%d runs finished after %.1f s: injecting the fault", name, got, len(e.ids), time.Since(t0).Seconds())
	res.InjectedAtFinished = got
	res.MidUpdateAtFault = e.midUpdate()
	t.note("at the strike the campaign stood at %s, and %d devices were mid-update on the device side",
		counts(p.status()), len(res.MidUpdateAtFault))
	ferr := e.fault.inject(ctx, e, &t)
	res.Notes = t.notes
	if !t.injected.IsZero() {
		res.InjectedAtSec = secondsSince(t0, t.injected)
	}
	if !t.back.IsZero() {
		res.BackAtSec = secondsSince(t0, t.back)
	}
	if ferr != nil {
		return c.ID, fmt.Errorf("fault: %w", ferr)
	}

	r, err := e.awaitEnd(ctx, p, t0)
	events := p.finishEvents()
	res.StatusPollFailures = p.pollFailures()
	res.CampaignState = r.status.State
	res.StatusCounts = nonZero(r.status.StatusCounts)
	res.Completed = r.completed
	res.CampaignSeconds = secondsSince(t0, r.at)
	overall := longestGap(events, t0, r.at)
	res.StallOverallSec, res.StallOverallFrom = round(overall.len.Seconds(), 2), secondsSince(t0, overall.from)
	afterBack := longestGap(events, t.back, r.at)
	res.StallAfterBackSec, res.StallAfterBackFrom = round(afterBack.len.Seconds(), 2), secondsSince(t0, afterBack.from)
	logf("%s: campaign %s after %.1f s: %s; longest stall %.1f s after the fault was back, %.1f s overall", name,
		r.status.State, res.CampaignSeconds, counts(r.status), res.StallAfterBackSec, res.StallOverallSec)
	return c.ID, err
}

// awaitEnd waits for the watch to end, making sure meanwhile that the processes that
// should run still do and logging progress.
func (e *env) awaitEnd(ctx context.Context, p *progress, t0 time.Time) (progressResult, error) {
	alive := time.NewTicker(aliveEvery)
	defer alive.Stop()
	nextLog := time.Now().Add(progressLogEvery)
	for {
		select {
		case <-p.done:
			return p.result, p.result.err
		case <-ctx.Done():
			r := p.wait()
			return r, ctx.Err()
		case <-alive.C:
		}
		if err := e.alive(); err != nil {
			return progressResult{status: p.status(), at: time.Now()}, err
		}
		if time.Now().After(nextLog) {
			nextLog = time.Now().Add(progressLogEvery)
			st := p.status()
			logf("%s: %d/%d finished after %.0f s: %s", e.fault.name, st.Finished, st.Total, time.Since(t0).Seconds(), counts(st))
		}
	}
}

func secondsSince(t0, t time.Time) float64 { return round(t.Sub(t0).Seconds(), 2) }

// counts prints the non-zero device states, e.g. "COMMANDED=12 SUCCEEDED=188".
func counts(st otaapi.Status) string {
	nz := nonZero(st.StatusCounts)
	keys := slices.Sorted(maps.Keys(nz))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, nz[k])
	}
	return strings.Join(parts, " ")
}

func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
