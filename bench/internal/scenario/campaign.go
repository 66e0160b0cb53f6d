package scenario

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/procstat"
	"github.com/otaplane/ota/bench/internal/report"
)

const (
	pollEvery       = 500 * time.Millisecond
	smallPollEvery  = 100 * time.Millisecond
	smallWait       = 3 * time.Minute
	progressEvery   = 15 * time.Second
	pollFailureSpan = time.Minute
)

// smallCampaigns runs a warm-up campaign, then the measured small ones, each on its own
// devices and each after the previous completed, so execute meets an idle system.
func (e *env) smallCampaigns(ctx context.Context, res *report.Run) error {
	if len(e.sets.small) == 0 {
		return nil
	}
	s := &report.SmallCampaigns{Size: e.opts.SmallSize}
	run := func(label string, ids []string) (time.Duration, time.Duration, error) {
		c, err := e.client.CreateCampaign(ctx, label, e.firmware.ID, ids)
		if err != nil {
			return 0, 0, fmt.Errorf("create %s: %w", label, err)
		}
		t0 := time.Now()
		if _, err := e.client.ExecuteCampaign(ctx, c.ID); err != nil {
			return 0, 0, fmt.Errorf("execute %s: %w", label, err)
		}
		exec := time.Since(t0)
		if err := e.waitSmall(ctx, label, c.ID, len(ids)); err != nil {
			return 0, 0, err
		}
		return exec, time.Since(t0), nil
	}
	warm, _, err := run("warm-up", e.sets.warmup)
	if err != nil {
		return err
	}
	s.WarmupExecuteMs = round(ms(warm), 2)
	for i, ids := range e.sets.small {
		exec, done, err := run(fmt.Sprintf("small %d", i+1), ids)
		if err != nil {
			return err
		}
		s.ExecuteMs = append(s.ExecuteMs, round(ms(exec), 2))
		s.CompleteSeconds = append(s.CompleteSeconds, round(done.Seconds(), 2))
	}
	s.ExecuteP50Ms = report.Summarize(s.ExecuteMs).P50Ms
	res.Small = s
	logf("%s: %d small campaigns: execute p50 %.1f ms (%v), warm-up %.1f ms", e.spec.Name(), len(s.ExecuteMs),
		s.ExecuteP50Ms, s.ExecuteMs, s.WarmupExecuteMs)
	return nil
}

func (e *env) waitSmall(ctx context.Context, label, id string, devices int) error {
	deadline := time.Now().Add(smallWait)
	for {
		st, err := e.client.CampaignStatus(ctx, id)
		if err != nil {
			return fmt.Errorf("%s status: %w", label, err)
		}
		if st.Done() || st.Ended() {
			if !st.Done() || st.Succeeded != devices {
				return fmt.Errorf("%s ended %s (%s) with %d of %d succeeded: %s", label, st.State, st.StateReason,
					st.Succeeded, devices, counts(st))
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not complete after %s: %s %s", label, smallWait, st.State, counts(st))
		}
		if err := sleep(ctx, smallPollEvery); err != nil {
			return err
		}
	}
}

// fullCampaign runs the campaign over the whole fleet on an otherwise idle system and
// measures throughput, CPU per device run and worker memory.
func (e *env) fullCampaign(ctx context.Context, res *report.Run) error {
	c, _, err := e.campaign(ctx, "full fleet", e.firmware.ID, false)
	if c != nil {
		res.Campaign = c
	}
	return err
}

// statusCampaign updates the whole fleet once more (to a newer image, so every run does
// real work) while many clients call GET …/status, to measure its latency under load.
func (e *env) statusCampaign(ctx context.Context, res *report.Run) error {
	image := make([]byte, e.opts.FirmwareKiB<<10)
	rng := rand.NewChaCha8([32]byte{2})
	_, _ = rng.Read(image)
	fw, err := e.client.UploadFirmware(ctx, loadVersion, hardwareModel, image)
	if err != nil {
		return fmt.Errorf("upload firmware: %w", err)
	}
	c, load, err := e.campaign(ctx, "under status load", fw.ID, true)
	res.Status = load
	if load != nil && c != nil {
		load.CampaignSeconds, load.CampaignDevicesPerMin = c.Seconds, c.DevicesPerMin
	}
	return err
}

// campaign creates and executes a campaign over the whole fleet and waits for it to
// complete, optionally under status load. It returns what it measured even on failure.
func (e *env) campaign(ctx context.Context, label, firmwareID string, withLoad bool) (*report.Campaign, *report.StatusLoad, error) {
	name := e.spec.Name()
	t := time.Now()
	c, err := e.client.CreateCampaign(ctx, label, firmwareID, e.sets.full)
	if err != nil {
		return nil, nil, fmt.Errorf("create campaign: %w", err)
	}
	logf("%s: campaign %q over %d devices created in %.1f s", name, label, len(e.sets.full), time.Since(t).Seconds())
	if err := e.alive(); err != nil {
		return nil, nil, err
	}

	watch := e.startPGWatch(ctx)
	before := e.cpu()
	t0 := time.Now()
	tl := newTimeline(t0, e.spec.Devices)
	if watch != nil {
		watch.progress = tl
	}
	exec, err := e.client.ExecuteCampaign(ctx, c.ID)
	if err != nil {
		watch.stop()
		return nil, nil, fmt.Errorf("execute: %w", err)
	}
	execTook := time.Since(t0)
	logf("%s: executed in %.1f ms", name, ms(execTook))
	var load *statusLoad
	if withLoad {
		load = startStatusLoad(ctx, e.client, c.ID, e.opts.StatusClients, e.opts.StatusDuration)
		logf("%s: %d clients calling status", name, e.opts.StatusClients)
	}
	wr, err := e.waitFull(ctx, c.ID, t0, load, tl)
	st, doneAt := wr.status, wr.at
	after := e.cpu()
	pg := watch.stop()
	var loadRes *report.StatusLoad
	if load != nil {
		loadRes = load.stop(st.Finished, doneAt)
		logf("%s: status under load: %d requests, p50 %.1f ms, p99 %.1f ms, %d errors", name,
			loadRes.Requests, loadRes.P50Ms, loadRes.P99Ms, loadRes.Errors)
	}
	if err != nil {
		return nil, loadRes, err
	}
	elapsed := doneAt.Sub(t0)
	out := &report.Campaign{ID: c.ID, ExecuteMs: round(ms(execTook), 2), Seconds: round(elapsed.Seconds(), 2),
		DevicesPerMin: perMinute(e.spec.Devices, elapsed), State: st.State, Succeeded: st.Succeeded, Failed: st.Failed,
		Counts: nonZero(st.StatusCounts), CPUMsPerDevice: perDevice(before, after, e.spec.Devices), StatusPollFails: wr.pollFails,
		Pauses: wr.pauses, PausedSeconds: round(wr.paused.Seconds(), 1), Progress: tl.summary(), Postgres: pg}
	for _, w := range e.workers {
		m, err := procstat.ReadMemory(w.PID())
		if err != nil {
			return out, loadRes, fmt.Errorf("%s memory: %w", w.Name, err)
		}
		out.WorkerPeakMiB = append(out.WorkerPeakMiB, mib(m.Peak))
	}
	out.WorkerCounters = e.workerCounters(ctx)
	out.History = e.historyCost(ctx, c.ID, exec.RunID)
	if p := out.Progress; p != nil {
		logf("%s: first tenth %.0f/min, last tenth %.0f/min (ratio %.2f); mean in flight %.0f; CPU %.0f %%", name,
			p.FirstTenthPerMin, p.LastTenthPerMin, p.LastToFirst, p.MeanInFlight, p.CPUUtilPct)
	}
	if h := out.History; h != nil {
		logf("%s: device run %.1f events, %.1f decision tasks; campaign %.2f events, %.3f decision tasks per device "+
			"(%d executions)", name, h.EventsPerRun, h.DecisionsPerRun, h.CampaignEventsPerDevice,
			h.CampaignDecisionsPerDevice, h.CampaignRuns)
	}
	logf("%s: %q COMPLETED in %.1f s: %.0f devices/min, %d succeeded, %d failed; CPU ms/device %v", name, label,
		out.Seconds, out.DevicesPerMin, out.Succeeded, out.Failed, out.CPUMsPerDevice)
	if err := e.alive(); err != nil {
		return out, loadRes, err
	}
	if st.Succeeded != e.spec.Devices {
		return out, loadRes, fmt.Errorf("campaign %q completed with %d of %d succeeded: %s", label, st.Succeeded,
			e.spec.Devices, counts(st))
	}
	return out, loadRes, nil
}

// waitResult is how a campaign's wait ended.
type waitResult struct {
	status    otaapi.Status
	at        time.Time // when the last status was read
	pollFails int
	// Pauses of at least pauseGap in which no device run finished, and their total.
	pauses int
	paused time.Duration
}

// pauseGap is the shortest stretch without any finished run that counts as a pause; at
// thousands of runs per minute, normal progress never goes this long.
const pauseGap = 10 * time.Second

// waitFull polls status until the campaign is COMPLETED at 100 %, failing on another
// final state, on a stall, or when status keeps failing.
func (e *env) waitFull(ctx context.Context, id string, t0 time.Time, load *statusLoad, tl *timeline) (waitResult, error) {
	name := e.spec.Name()
	var r waitResult
	lastFinished, lastChange := 0, t0
	nextLog := time.Now().Add(progressEvery)
	var failingSince time.Time
	for {
		if err := sleep(ctx, pollEvery); err != nil {
			return r, err
		}
		st, err := e.client.CampaignStatus(ctx, id)
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			r.pollFails++
			if failingSince.IsZero() {
				failingSince = now
			} else if now.Sub(failingSince) > pollFailureSpan {
				return r, fmt.Errorf("status failing for %s: %w", pollFailureSpan, err)
			}
			continue
		}
		failingSince = time.Time{}
		r.status, r.at = st, now
		tl.add(now, st)
		if load != nil {
			load.observe(st.Finished, now)
		}
		if st.Finished > lastFinished {
			if gap := now.Sub(lastChange); gap >= pauseGap {
				r.pauses++
				r.paused += gap
			}
			lastFinished, lastChange = st.Finished, now
		} else if now.Sub(lastChange) > e.opts.Stall {
			return r, fmt.Errorf("stalled: no device run finished for %s (%d/%d finished): %s",
				e.opts.Stall, st.Finished, st.Total, counts(st))
		}
		if st.Done() {
			return r, nil
		}
		if st.Ended() {
			return r, fmt.Errorf("campaign ended %s (%s) at %d/%d finished: %s", st.State, st.StateReason,
				st.Finished, st.Total, counts(st))
		}
		if now.After(nextLog) {
			nextLog = now.Add(progressEvery)
			logf("%s: %d/%d finished, %.0f devices/min so far, state %s: %s", name, st.Finished, st.Total,
				perMinute(st.Finished, now.Sub(t0)), st.State, counts(st))
			if err := e.alive(); err != nil {
				return r, err
			}
		}
	}
}

// counts prints the non-zero device states, e.g. "COMMANDED=12 SUCCEEDED=488".
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
