package campaign

import (
	"fmt"
	"time"

	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
)

// batchRun is one execution of a campaign that dispatches its device runs in batches and
// collects their outcomes from the database. What must outlive the execution
// (continue-as-new does not wait for runs in flight) is in p; the rest is this
// execution's bookkeeping.
type batchRun struct {
	acts    *Activities
	in      otaflow.CampaignInput
	p       *otaflow.CampaignProgress
	control workflow.Channel
	runID   string

	operator operatorState
	fuota    []fuotaGroup // LoRaWAN devices waiting for their wave's FUOTA deployments
	window   rollout.WindowState
	wake     wakeTimer

	dispatchedHere int           // device runs this execution dispatched
	cycles         int           // waits this execution went through
	collections    int           // numbers the collections (their acknowledgement ids)
	dispatches     int           // numbers the dispatches (their group keys)
	collectWait    time.Duration // grows while collections find nothing
	nextSweep      time.Time
	lastRefresh    time.Time
}

// operatorState is what the operator's signals asked for and the loop has not acted on.
type operatorState struct {
	canceled bool
	approved bool
}

// runBatches is OTA_CAMPAIGN since batch dispatch.
func (f *Flow) runBatches(ctx workflow.Context, in otaflow.CampaignInput) (otaflow.CampaignRunState, error) {
	r := &batchRun{acts: f.acts, in: in, p: in.Progress, control: workflow.GetSignalChannel(ctx, otaflow.SignalCampaignControl),
		runID: workflow.GetInfo(ctx).WorkflowExecution.RunID, collectWait: collectEvery}
	if r.p == nil {
		r.p = &otaflow.CampaignProgress{State: model.CampaignRunning, RateAt: workflow.Now(ctx), RateTokens: 1}
	}
	r.nextSweep = workflow.Now(ctx).Add(sweepEvery)
	if err := workflow.SetQueryHandler(ctx, otaflow.QueryState, r.snapshot); err != nil {
		return otaflow.CampaignRunState{}, fmt.Errorf("register query: %w", err)
	}
	if in.Progress == nil {
		if err := r.start(ctx); err != nil {
			return otaflow.CampaignRunState{}, err
		}
	}
	return r.loop(ctx)
}

func (r *batchRun) snapshot() (otaflow.CampaignRunState, error) {
	st := otaflow.CampaignRunState{CampaignID: r.in.CampaignID, State: r.p.State, Reason: r.p.Reason, Paused: r.p.Paused,
		Wave: r.p.Wave, Total: r.p.Total, InFlight: r.p.InFlight, Waves: append([]otaflow.WaveStats(nil), r.p.Waves...)}
	for _, w := range r.p.Waves {
		st.Dispatched += w.Dispatched
		st.Finished += w.Finished
	}
	return st, nil
}

// start resolves the targets, cuts the waves and records every device's wave.
func (r *batchRun) start(ctx workflow.Context) error {
	total := 0
	if err := local(ctx, otaflow.ActivityResolveTargets, r.acts.ResolveTargets,
		otaflow.ResolveTargetsRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID}, &total); err != nil {
		return fmt.Errorf("resolve targets: %w", err)
	}
	r.p.Total = total
	r.p.Bounds = rollout.CutWaves(r.in.Rollout.Waves, total)
	r.p.Waves = rollout.NewWaveStats(r.in.Rollout.Waves, r.p.Bounds)
	// Every device knows its wave from the start, so per-wave status counts are right
	// even for waves an abort or cancel never reaches.
	for i := range r.p.Bounds {
		from, to := rollout.WaveStart(r.p.Bounds, i)+1, r.p.Bounds[i]
		if to < from {
			continue
		}
		req := otaflow.AssignWaveRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, Wave: i, FromSeq: from, ToSeq: to}
		if err := local(ctx, otaflow.ActivityAssignWave, r.acts.AssignWave, req, nil); err != nil {
			return fmt.Errorf("assign wave %d: %w", i, err)
		}
	}
	return r.setState(ctx, model.CampaignRunning, "")
}

// loop dispatches, waits and collects until the campaign ends or continues as new.
func (r *batchRun) loop(ctx workflow.Context) (otaflow.CampaignRunState, error) {
	for {
		r.drainSignals(ctx)
		switch {
		case r.operator.canceled:
			return r.finish(ctx, model.CampaignCanceled, r.p.Reason, true)
		case r.p.Aborted && r.p.InFlight == 0:
			return r.finish(ctx, model.CampaignAborted, r.p.Reason, false)
		}
		if !r.p.Aborted {
			done, err := r.advanceWaves(ctx)
			if err != nil {
				return otaflow.CampaignRunState{}, err
			}
			if done {
				return r.finish(ctx, model.CampaignCompleted, "", false)
			}
		}
		if r.dispatchedHere >= r.childrenPerRun() || r.cycles >= cyclesPerRun {
			return otaflow.CampaignRunState{}, r.continueAsNew(ctx)
		}
		wait, err := r.dispatchReady(ctx)
		if err != nil {
			return otaflow.CampaignRunState{}, err
		}
		r.block(ctx, r.nextWake(wait))
		if r.p.InFlight > 0 {
			if err := r.collect(ctx); err != nil {
				return otaflow.CampaignRunState{}, err
			}
		}
	}
}

func (r *batchRun) childrenPerRun() int {
	if r.in.ChildrenPerRun > 0 {
		return r.in.ChildrenPerRun
	}
	return defaultChildrenPerRun
}

// continueAsNew hands the campaign to a fresh execution: runs in flight go on, and the
// next execution collects their outcomes. LoRaWAN devices read but not yet deployed go
// out first.
func (r *batchRun) continueAsNew(ctx workflow.Context) error {
	if err := r.flushFUOTA(ctx); err != nil {
		return err
	}
	next := r.in
	next.Progress = r.p
	return workflow.NewContinueAsNewError(ctx, otaflow.CampaignWorkflow, next)
}

// nextWake is how long to wait before looking again: until dispatch may go on (wait,
// 0 = only an event helps), and no longer than the next collection while runs are in
// flight.
func (r *batchRun) nextWake(wait time.Duration) time.Duration {
	if r.p.InFlight == 0 {
		return wait
	}
	if wait <= 0 {
		return r.collectWait
	}
	return min(wait, r.collectWait)
}

// advanceWaves moves past finished waves (gates permitting). It reports done when the
// last wave has finished and the campaign is not continuous.
func (r *batchRun) advanceWaves(ctx workflow.Context) (bool, error) {
	for r.waveIdle() {
		last := r.p.Wave == len(r.p.Bounds)-1
		// A continuous campaign's last wave never finishes: it takes new devices.
		if !last || !r.in.Rollout.Continuous {
			if err := r.reportWaveFinished(ctx); err != nil {
				return false, err
			}
		}
		if last {
			return !r.in.Rollout.Continuous, nil
		}
		if !rollout.GateOpen(r.in.Rollout.Gate, r.p.Waves[r.p.Wave], r.operator.approved) {
			if r.p.State != model.CampaignWaitingApproval {
				reason := fmt.Sprintf("wave %d finished; approve to start wave %d", r.p.Wave, r.p.Wave+1)
				if err := r.setState(ctx, model.CampaignWaitingApproval, reason); err != nil {
					return false, err
				}
			}
			return false, nil
		}
		r.operator.approved = false
		r.p.Wave++
		if r.p.State == model.CampaignWaitingApproval {
			if err := r.setState(ctx, r.runningState(), ""); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// reportWaveFinished records the current wave's wave.finished event, once.
func (r *batchRun) reportWaveFinished(ctx workflow.Context) error {
	if r.p.WavesReported > r.p.Wave {
		return nil
	}
	if workflow.GetVersion(ctx, changeWaveFinished, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	req := otaflow.WaveFinishedRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, Wave: r.p.Waves[r.p.Wave]}
	if err := local(ctx, otaflow.ActivityRecordWaveFinished, r.acts.RecordWaveFinished, req, nil); err != nil {
		return fmt.Errorf("record wave %d finished: %w", r.p.Wave, err)
	}
	r.p.WavesReported = r.p.Wave + 1
	return nil
}

// waveIdle: every device of the current wave was dispatched and its outcome collected.
func (r *batchRun) waveIdle() bool {
	return r.p.AfterSeq >= r.waveEnd() && r.p.InFlight == 0 && len(r.p.Retries) == 0 && len(r.fuota) == 0
}

func (r *batchRun) waveEnd() int { return r.p.Bounds[r.p.Wave] }

func (r *batchRun) runningState() model.CampaignState {
	if r.p.Paused {
		return model.CampaignPaused
	}
	return model.CampaignRunning
}

// block waits for an operator's signal, or for d (0: a signal only).
func (r *batchRun) block(ctx workflow.Context, d time.Duration) {
	r.cycles++
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(r.control, func(c workflow.Channel, _ bool) {
		var sig otaflow.CampaignControl
		c.Receive(ctx, &sig)
		r.onControl(ctx, sig)
	})
	if d > 0 {
		sel.AddFuture(r.wake.arm(ctx, workflow.Now(ctx).Add(d)), func(workflow.Future) { r.wake.fired() })
	}
	sel.Select(ctx)
}

// finish ends the campaign. On cancel, runs in flight are asked to cancel and their
// outcomes collected (for a bounded time); devices never dispatched end CANCELED.
func (r *batchRun) finish(ctx workflow.Context, st model.CampaignState, reason string, cancelInFlight bool) (otaflow.CampaignRunState, error) {
	if cancelInFlight && r.p.InFlight > 0 {
		if err := r.cancelInFlight(ctx); err != nil {
			return otaflow.CampaignRunState{}, err
		}
		deadline := workflow.Now(ctx).Add(cancelGrace)
		for r.p.InFlight > 0 && workflow.Now(ctx).Before(deadline) {
			r.block(ctx, min(r.collectWait, deadline.Sub(workflow.Now(ctx))))
			if err := r.collect(ctx); err != nil {
				return otaflow.CampaignRunState{}, err
			}
		}
	}
	if st != model.CampaignCompleted {
		devReason := otaflow.ReasonCampaignCanceled
		if st == model.CampaignAborted {
			devReason = otaflow.ReasonCampaignAborted
		}
		req := otaflow.MarkCampaignDevicesRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, AllPending: true,
			State: model.StateCanceled, Reason: devReason}
		if err := local(ctx, otaflow.ActivityMarkCampaignDevices, r.acts.MarkCampaignDevices, req, nil); err != nil {
			return otaflow.CampaignRunState{}, fmt.Errorf("cancel pending devices: %w", err)
		}
	}
	if err := r.setState(ctx, st, reason); err != nil {
		return otaflow.CampaignRunState{}, err
	}
	return r.snapshot()
}

func (r *batchRun) setState(ctx workflow.Context, s model.CampaignState, reason string) error {
	r.p.State, r.p.Reason = s, reason
	req := otaflow.SetCampaignStateRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, State: s, Reason: reason}
	if err := local(ctx, otaflow.ActivitySetCampaignState, r.acts.SetCampaignState, req, nil); err != nil {
		return fmt.Errorf("set campaign state %s: %w", s, err)
	}
	return nil
}

// wakeTimer is the one timer a campaign waits on. A pending timer due no later than the
// next wake is kept rather than canceled and started again: the campaign wakes, finds
// little to do, and waits again — fewer events than a timer per wait.
type wakeTimer struct {
	timer  workflow.Future
	at     time.Time
	cancel workflow.CancelFunc
}

func (w *wakeTimer) arm(ctx workflow.Context, at time.Time) workflow.Future {
	if w.timer != nil && !w.at.After(at) {
		return w.timer
	}
	if w.timer != nil && !w.timer.IsReady() {
		w.cancel()
	}
	tctx, cancel := workflow.WithCancel(ctx)
	w.timer, w.at, w.cancel = workflow.NewTimer(tctx, max(at.Sub(workflow.Now(ctx)), time.Second)), at, cancel
	return w.timer
}

func (w *wakeTimer) fired() { w.timer = nil }
