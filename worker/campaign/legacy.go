package campaign

import (
	"fmt"
	"time"

	"go.uber.org/cadence/client"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
)

type childDone struct {
	Ref     otaflow.CampaignDeviceRef
	Wave    int
	State   model.DeviceState
	Refused bool
}

// fuotaGroup collects a wave's LoRaWAN devices of one device profile: ChirpStack runs one
// FUOTA deployment per profile.
type fuotaGroup struct {
	profile string
	wave    int
	refs    []otaflow.CampaignDeviceRef
}

// childRun is one execution's state; it changes only in workflow code.
type childRun struct {
	acts *Activities
	in   otaflow.CampaignInput
	p    *otaflow.CampaignProgress
	root workflow.Context

	done           workflow.Channel
	control        workflow.Channel
	childCtx       workflow.Context
	cancelChildren workflow.CancelFunc
	inFlight       int
	startedHere    int
	buffer         []otaflow.CampaignDeviceRef
	exhausted      bool // no more devices after AfterSeq (for now)
	retryQueue     []retryItem
	attempts       map[string]int
	refused        []string
	canceled       bool
	aborted        bool
	approved       bool
	decisions      int
	lastRefresh    time.Time
	fuota          []fuotaGroup
	window         rollout.WindowState
}

type retryItem struct {
	ref  otaflow.CampaignDeviceRef
	wave int
}

// buffer adds a LoRaWAN device to its profile's pending deployment.
func (r *childRun) bufferFUOTA(ref otaflow.CampaignDeviceRef, wave int) {
	r.startedHere++
	for i := range r.fuota {
		if r.fuota[i].profile == ref.DeviceProfileID && r.fuota[i].wave == wave {
			r.fuota[i].refs = append(r.fuota[i].refs, ref)
			return
		}
	}
	r.fuota = append(r.fuota, fuotaGroup{profile: ref.DeviceProfileID, wave: wave, refs: []otaflow.CampaignDeviceRef{ref}})
}

// flushFUOTA starts one deployment per buffered profile group.
func (r *childRun) flushFUOTA() {
	for _, g := range r.fuota {
		r.dispatchFUOTA(g)
	}
	r.fuota = nil
}

func (r *childRun) dispatchFUOTA(g fuotaGroup) {
	in := r.in
	r.p.FUOTASeq++
	devices := make([]otaflow.FUOTADevice, len(g.refs))
	for i, ref := range g.refs {
		devices[i] = otaflow.FUOTADevice{DeviceID: ref.DeviceID, DevEUI: ref.DevEUI}
	}
	p := in.FUOTA
	cctx := workflow.WithChildOptions(r.childCtx, workflow.ChildWorkflowOptions{
		WorkflowID:                   otaflow.FUOTAWorkflowID(in.CampaignID, g.profile, r.p.FUOTASeq),
		ExecutionStartToCloseTimeout: p.RunBound(),
		TaskStartToCloseTimeout:      20 * time.Second,
		WorkflowIDReusePolicy:        client.WorkflowIDReusePolicyAllowDuplicate,
		ParentClosePolicy:            client.ParentClosePolicyRequestCancel,
		WaitForCancellation:          true,
		Memo:                         map[string]interface{}{otaflow.MemoCampaignID: in.CampaignID},
	})
	input := otaflow.FUOTAInput{TenantID: in.TenantID, CampaignID: in.CampaignID, Firmware: in.Firmware,
		DeviceProfileID: g.profile, Devices: devices, Params: p, Policy: in.LoRaWANPolicy}
	fut := workflow.ExecuteChildWorkflow(cctx, otaflow.FUOTAWorkflow, input)
	r.inFlight += len(g.refs)
	r.p.Waves[g.wave].Dispatched += len(g.refs)
	workflow.Go(r.root, func(gctx workflow.Context) {
		var res otaflow.FUOTAResult
		err := fut.Get(gctx, &res)
		for i, ref := range g.refs {
			d := childDone{Ref: ref, Wave: g.wave, State: model.StateCanceled}
			if err == nil && i < len(res.States) && res.States[i] != "" {
				d.State = res.States[i]
			} else if err != nil && fut.GetChildWorkflowExecution().IsReady() {
				if werr := fut.GetChildWorkflowExecution().Get(gctx, nil); werr != nil {
					d.State = model.StateRejected
				}
			}
			r.done.Send(gctx, d)
		}
	})
}

func (r *childRun) snapshot() (otaflow.CampaignRunState, error) {
	st := otaflow.CampaignRunState{CampaignID: r.in.CampaignID, State: r.p.State, Reason: r.p.Reason, Paused: r.p.Paused,
		Wave: r.p.Wave, Total: r.p.Total, InFlight: r.inFlight, Waves: append([]otaflow.WaveStats(nil), r.p.Waves...)}
	for _, w := range r.p.Waves {
		st.Dispatched += w.Dispatched
		st.Finished += w.Finished
	}
	return st, nil
}

// runChildren is OTA_CAMPAIGN as recorded before batch dispatch: one child run per device,
// a decision per child start and finish, drained to zero before each continue-as-new.
// Executions that began this way replay through it.
func (f *Flow) runChildren(ctx workflow.Context, in otaflow.CampaignInput) (otaflow.CampaignRunState, error) {
	r := &childRun{acts: f.acts, in: in, p: in.Progress, attempts: map[string]int{},
		done: workflow.NewChannel(ctx), control: workflow.GetSignalChannel(ctx, otaflow.SignalCampaignControl)}
	if r.p == nil {
		r.p = &otaflow.CampaignProgress{State: model.CampaignRunning, RateAt: workflow.Now(ctx), RateTokens: 1}
	}
	r.root = ctx
	if err := workflow.SetQueryHandler(ctx, otaflow.QueryState, r.snapshot); err != nil {
		return otaflow.CampaignRunState{}, fmt.Errorf("register query: %w", err)
	}
	r.childCtx, r.cancelChildren = workflow.WithCancel(ctx)
	if in.Progress == nil {
		if err := r.start(ctx); err != nil {
			return otaflow.CampaignRunState{}, err
		}
	}
	return r.loop(ctx)
}

// start resolves the targets, cuts the waves and assigns the first one.
func (r *childRun) start(ctx workflow.Context) error {
	total := 0
	if err := r.local(ctx, otaflow.ActivityResolveTargets, r.acts.ResolveTargets,
		otaflow.ResolveTargetsRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID}, &total); err != nil {
		return fmt.Errorf("resolve targets: %w", err)
	}
	r.p.Total = total
	r.p.Bounds = rollout.CutWaves(r.in.Rollout.Waves, total)
	r.p.Waves = rollout.NewWaveStats(r.in.Rollout.Waves, r.p.Bounds)
	// Every device knows its wave from the start, so per-wave status counts are right
	// even for waves an abort or cancel never reaches.
	for i := range r.p.Bounds {
		if r.waveEnd(i) > r.waveStart(i) {
			if err := r.assignWave(ctx, i); err != nil {
				return err
			}
		}
	}
	return r.setState(ctx, model.CampaignRunning, "")
}

func (r *childRun) childrenPerRun() int {
	if r.in.ChildrenPerRun > 0 {
		return r.in.ChildrenPerRun
	}
	return defaultChildrenPerRun
}

func (r *childRun) waveStart(i int) int { return rollout.WaveStart(r.p.Bounds, i) }

func (r *childRun) waveEnd(i int) int { return r.p.Bounds[i] }

func (r *childRun) assignWave(ctx workflow.Context, i int) error {
	req := otaflow.AssignWaveRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, Wave: i,
		FromSeq: r.waveStart(i) + 1, ToSeq: r.waveEnd(i)}
	if err := r.local(ctx, otaflow.ActivityAssignWave, r.acts.AssignWave, req, nil); err != nil {
		return fmt.Errorf("assign wave %d: %w", i, err)
	}
	return nil
}

// loop dispatches and reacts until the campaign ends or continues as new.
func (r *childRun) loop(ctx workflow.Context) (otaflow.CampaignRunState, error) {
	for {
		r.drainSignals(ctx)
		switch {
		case r.canceled:
			return r.finish(ctx, model.CampaignCanceled, r.p.Reason, true)
		case r.aborted && r.inFlight == 0:
			return r.finish(ctx, model.CampaignAborted, r.p.Reason, false)
		}
		if !r.aborted {
			if done, err := r.advanceWaves(ctx); err != nil || done {
				if err != nil {
					return otaflow.CampaignRunState{}, err
				}
				return r.finish(ctx, model.CampaignCompleted, "", false)
			}
		}
		if (r.startedHere >= r.childrenPerRun() || r.decisions >= decisionsPerRun) && r.inFlight == 0 &&
			len(r.retryQueue) == 0 && len(r.fuota) == 0 && !r.aborted {
			if err := r.flushRefused(ctx); err != nil {
				return otaflow.CampaignRunState{}, err
			}
			next := r.in
			next.Progress = r.p
			return otaflow.CampaignRunState{}, workflow.NewContinueAsNewError(ctx, otaflow.CampaignWorkflow, next)
		}
		wait, err := r.dispatchReady(ctx)
		if err != nil {
			return otaflow.CampaignRunState{}, err
		}
		if wait < 0 {
			continue // dispatched something; look again before blocking
		}
		r.block(ctx, wait)
	}
}

// advanceWaves moves past finished waves (gates permitting). It reports done when the
// last wave has finished and the campaign is not continuous.
func (r *childRun) advanceWaves(ctx workflow.Context) (bool, error) {
	for r.waveIdle() {
		last := r.p.Wave == len(r.p.Bounds)-1
		if last {
			if r.in.Rollout.Continuous {
				return false, nil // keeps waiting for new devices
			}
			return true, r.flushRefused(ctx)
		}
		if !r.gateOpen() {
			if r.p.State != model.CampaignWaitingApproval {
				reason := fmt.Sprintf("wave %d finished; approve to start wave %d", r.p.Wave, r.p.Wave+1)
				if err := r.setState(ctx, model.CampaignWaitingApproval, reason); err != nil {
					return false, err
				}
			}
			return false, nil
		}
		r.approved = false
		r.p.Wave++
		if r.p.State == model.CampaignWaitingApproval {
			if err := r.setState(ctx, r.runningState(), ""); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// waveIdle: everything of the current wave was dispatched and has finished.
func (r *childRun) waveIdle() bool {
	return r.p.AfterSeq >= r.waveEnd(r.p.Wave) && r.inFlight == 0 && len(r.retryQueue) == 0 && len(r.fuota) == 0
}

func (r *childRun) gateOpen() bool {
	return rollout.GateOpen(r.in.Rollout.Gate, r.p.Waves[r.p.Wave], r.approved)
}

func (r *childRun) runningState() model.CampaignState {
	if r.p.Paused {
		return model.CampaignPaused
	}
	return model.CampaignRunning
}

// dispatchReady starts every run allowed now. It returns -1 when it started something,
// otherwise how long until something may be allowed (0 = only an event can help).
func (r *childRun) dispatchReady(ctx workflow.Context) (time.Duration, error) {
	if r.aborted || r.canceled || r.p.Paused || r.p.State == model.CampaignWaitingApproval {
		return 0, nil
	}
	if r.startedHere >= r.childrenPerRun() || r.decisions >= decisionsPerRun {
		return 0, nil // draining before continue-as-new
	}
	if r.in.Rollout.Window != nil {
		ws, err := r.windowAt(ctx)
		if err != nil {
			return 0, err
		}
		if !ws.Open {
			if r.p.State != model.CampaignScheduled {
				if err := r.setState(ctx, model.CampaignScheduled, "outside maintenance window; opens "+ws.Next.UTC().Format(time.RFC3339)); err != nil {
					return 0, err
				}
			}
			return ws.Next.Sub(workflow.Now(ctx)), nil
		}
		if r.p.State == model.CampaignScheduled {
			if err := r.setState(ctx, model.CampaignRunning, ""); err != nil {
				return 0, err
			}
		}
	}
	started := false
	for r.inFlight < r.in.MaxInFlight && r.startedHere < r.childrenPerRun() {
		if wait := r.takeToken(ctx); wait > 0 {
			if started {
				return -1, nil
			}
			return wait, nil
		}
		ref, wave, ok, err := r.next(ctx)
		if err != nil {
			return 0, err
		}
		if !ok {
			r.refundToken()
			break
		}
		if ref.Transport == model.TransportLoRaWAN {
			r.bufferFUOTA(ref, wave)
			continue
		}
		r.dispatch(ref, wave)
		started = true
	}
	// A wave's LoRaWAN devices go out together, one multicast deployment per profile,
	// once the whole wave has been read (or before the run continues as new).
	if len(r.fuota) > 0 && (r.p.AfterSeq >= r.waveEnd(r.p.Wave) || r.startedHere >= r.childrenPerRun()) {
		r.flushFUOTA()
		started = true
	}
	if started {
		return -1, nil
	}
	if r.in.Rollout.Continuous && r.p.Wave == len(r.p.Bounds)-1 && r.waveIdle() {
		return r.refreshTargets(ctx)
	}
	return 0, nil
}

// refreshTargets looks for devices that joined a continuous campaign's target since the
// last look, and opens them for dispatch in the last wave.
func (r *childRun) refreshTargets(ctx workflow.Context) (time.Duration, error) {
	now := workflow.Now(ctx)
	if wait := r.lastRefresh.Add(r.in.ContinuousRefresh).Sub(now); !r.lastRefresh.IsZero() && wait > 0 {
		return wait, nil
	}
	r.lastRefresh = now
	total := 0
	if err := r.local(ctx, otaflow.ActivityResolveTargets, r.acts.ResolveTargets,
		otaflow.ResolveTargetsRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID}, &total); err != nil {
		return 0, fmt.Errorf("refresh targets: %w", err)
	}
	last := len(r.p.Bounds) - 1
	if total <= r.p.Bounds[last] {
		return r.in.ContinuousRefresh, nil
	}
	from := r.p.Bounds[last] + 1
	r.p.Waves[last].Size += total - r.p.Bounds[last]
	r.p.Bounds[last], r.p.Total = total, total
	req := otaflow.AssignWaveRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, Wave: last, FromSeq: from, ToSeq: total}
	if err := r.local(ctx, otaflow.ActivityAssignWave, r.acts.AssignWave, req, nil); err != nil {
		return 0, fmt.Errorf("assign new devices: %w", err)
	}
	r.buffer = nil
	return -1, nil
}

// windowAt says whether the maintenance window is open now (see windowState).
func (r *childRun) windowAt(ctx workflow.Context) (rollout.WindowState, error) {
	ws, err := windowState(ctx, r.window, *r.in.Rollout.Window)
	if err != nil {
		return rollout.WindowState{}, err
	}
	r.window = ws
	return ws, nil
}

// currentRate is the dispatch rate allowed now, per minute (0 = unlimited).
func (r *childRun) currentRate() float64 { return rollout.Rate(r.in.Rollout.Rate, r.p.Succeeded) }

// takeToken spends one dispatch from the token bucket. It returns 0 when a dispatch may
// go now, else how long to wait.
func (r *childRun) takeToken(ctx workflow.Context) time.Duration {
	b, _, wait := rollout.Bucket{Tokens: r.p.RateTokens, At: r.p.RateAt}.Take(workflow.Now(ctx), r.currentRate(), 1)
	r.p.RateTokens, r.p.RateAt = b.Tokens, b.At
	return wait
}

func (r *childRun) refundToken() {
	r.p.RateTokens = rollout.Bucket{Tokens: r.p.RateTokens}.Refund(r.currentRate(), 1).Tokens
}

// next returns the next device to run: retries first, then the current wave in order.
func (r *childRun) next(ctx workflow.Context) (otaflow.CampaignDeviceRef, int, bool, error) {
	if len(r.retryQueue) > 0 {
		it := r.retryQueue[0]
		r.retryQueue = r.retryQueue[1:]
		return it.ref, it.wave, true, nil
	}
	end := r.waveEnd(r.p.Wave)
	if r.p.AfterSeq >= end {
		return otaflow.CampaignDeviceRef{}, 0, false, nil
	}
	if len(r.buffer) == 0 {
		var page []otaflow.CampaignDeviceRef
		req := otaflow.ListCampaignDevicesRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID,
			AfterSeq: r.p.AfterSeq, Limit: pageSize}
		if err := r.local(ctx, otaflow.ActivityListCampaignDevices, r.acts.ListCampaignDevices, req, &page); err != nil {
			return otaflow.CampaignDeviceRef{}, 0, false, fmt.Errorf("list campaign devices: %w", err)
		}
		if len(page) == 0 {
			// Fewer rows than counted (devices deleted meanwhile): close the gap.
			r.p.AfterSeq = end
			return otaflow.CampaignDeviceRef{}, 0, false, nil
		}
		r.buffer = page
	}
	ref := r.buffer[0]
	if ref.Seq > end {
		r.p.AfterSeq = end
		return otaflow.CampaignDeviceRef{}, 0, false, nil
	}
	r.buffer = r.buffer[1:]
	r.p.AfterSeq = ref.Seq
	return ref, r.p.Wave, true, nil
}

// dispatch starts one device's child run; its outcome arrives on r.done.
func (r *childRun) dispatch(ref otaflow.CampaignDeviceRef, wave int) {
	in := r.in
	policy := rollout.DevicePolicy(in.Rollout, in.Policy)
	cctx := workflow.WithChildOptions(r.childCtx, workflow.ChildWorkflowOptions{
		WorkflowID:                   otaflow.DeviceWorkflowID(ref.DeviceID),
		ExecutionStartToCloseTimeout: policy.RunTimeout(),
		TaskStartToCloseTimeout:      otaflow.DecisionTimeout,
		WorkflowIDReusePolicy:        client.WorkflowIDReusePolicyAllowDuplicate,
		// A campaign that ends for any reason asks its device runs to cancel cleanly.
		ParentClosePolicy:   client.ParentClosePolicyRequestCancel,
		WaitForCancellation: true,
		Memo:                map[string]interface{}{otaflow.MemoCampaignID: in.CampaignID},
	})
	input := otaflow.UpdateDeviceInput{TenantID: in.TenantID, DeviceID: ref.DeviceID, CampaignID: in.CampaignID,
		Firmware: in.Firmware, Policy: policy}
	fut := workflow.ExecuteChildWorkflow(cctx, otaflow.UpdateDeviceWorkflow, input)
	r.inFlight++
	r.startedHere++
	r.p.Waves[wave].Dispatched++
	workflow.Go(r.root, func(gctx workflow.Context) {
		d := childDone{Ref: ref, Wave: wave}
		// A start failure means Cadence refused the id: another update runs on the device.
		if err := fut.GetChildWorkflowExecution().Get(gctx, nil); err != nil {
			d.Refused, d.State = true, model.StateRejected
		} else {
			var res otaflow.UpdateDeviceResult
			if err := fut.Get(gctx, &res); err != nil || res.State == "" {
				d.State = model.StateCanceled
			} else {
				d.State = res.State
			}
		}
		r.done.Send(gctx, d)
	})
}

// block waits for one event: a child finishing, an operator signal, or the timer.
func (r *childRun) block(ctx workflow.Context, wait time.Duration) {
	r.decisions++
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(r.done, func(c workflow.Channel, _ bool) {
		var d childDone
		c.Receive(ctx, &d)
		r.onChildDone(ctx, d)
	})
	sel.AddReceive(r.control, func(c workflow.Channel, _ bool) {
		var sig otaflow.CampaignControl
		c.Receive(ctx, &sig)
		r.onControl(ctx, sig)
	})
	var cancelTimer workflow.CancelFunc
	if wait > 0 {
		var tctx workflow.Context
		tctx, cancelTimer = workflow.WithCancel(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) {})
	}
	sel.Select(ctx)
	if cancelTimer != nil {
		cancelTimer()
	}
	// Take every other child result already waiting: one decision handles a burst.
	for {
		var d childDone
		if !r.done.ReceiveAsync(&d) {
			break
		}
		r.onChildDone(ctx, d)
	}
}

func (r *childRun) drainSignals(ctx workflow.Context) {
	for {
		var sig otaflow.CampaignControl
		if !r.control.ReceiveAsync(&sig) {
			return
		}
		r.onControl(ctx, sig)
	}
}

func (r *childRun) onChildDone(ctx workflow.Context, d childDone) {
	r.inFlight--
	id := d.Ref.DeviceID
	if d.Refused {
		r.refused = append(r.refused, id)
	}
	f := rollout.Finished{State: d.State, Retries: r.attempts[id], Refused: d.Refused}
	if rollout.Retry(r.in.Rollout.Retry, f, r.aborted || r.canceled) {
		r.attempts[id]++
		req := otaflow.RetryDeviceRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, DeviceID: id}
		if err := r.local(ctx, otaflow.ActivityRetryDevice, r.acts.RetryDevice, req, nil); err == nil {
			r.retryQueue = append(r.retryQueue, retryItem{ref: d.Ref, wave: d.Wave})
			r.p.Waves[d.Wave].Dispatched-- // the retry dispatches it again
			return
		}
	}
	rollout.Record(&r.p.Waves[d.Wave], d.State)
	if d.State == model.StateSucceeded {
		r.p.Succeeded++
	}
	r.checkAbort(ctx)
}

// checkAbort applies the abort rules to the whole campaign's finished devices.
func (r *childRun) checkAbort(ctx workflow.Context) {
	if r.aborted || r.canceled {
		return
	}
	reason := rollout.AbortReason(r.in.Rollout.Abort, r.p.Waves)
	if reason == "" {
		return
	}
	r.aborted = true
	r.p.Reason = reason
	_ = r.setState(ctx, model.CampaignAborted, r.p.Reason)
	r.retryQueue = nil
	if r.in.Rollout.Abort.CancelInFlight {
		r.cancelChildren()
	}
}

func (r *childRun) onControl(ctx workflow.Context, sig otaflow.CampaignControl) {
	if r.canceled || r.aborted {
		return
	}
	switch sig.Action {
	case otaflow.ControlPause:
		if !r.p.Paused {
			r.p.Paused = true
			if r.p.State == model.CampaignRunning || r.p.State == model.CampaignScheduled {
				_ = r.setState(ctx, model.CampaignPaused, sig.Reason)
			}
		}
	case otaflow.ControlResume:
		if r.p.Paused {
			r.p.Paused = false
			if r.p.State == model.CampaignPaused {
				_ = r.setState(ctx, model.CampaignRunning, "")
			}
		}
	case otaflow.ControlApprove:
		if r.p.State == model.CampaignWaitingApproval {
			r.approved = true
		}
	case otaflow.ControlCancel:
		r.canceled = true
		r.p.Reason = sig.Reason
	}
}

// finish ends the campaign: on cancel, in-flight runs are canceled and waited for
// (bounded); devices never dispatched end CANCELED.
func (r *childRun) finish(ctx workflow.Context, st model.CampaignState, reason string, cancelInFlight bool) (otaflow.CampaignRunState, error) {
	if cancelInFlight && r.inFlight > 0 {
		r.cancelChildren()
		deadline := workflow.Now(ctx).Add(cancelGrace)
		for r.inFlight > 0 && workflow.Now(ctx).Before(deadline) {
			r.block(ctx, deadline.Sub(workflow.Now(ctx)))
		}
	}
	if err := r.flushRefused(ctx); err != nil {
		return otaflow.CampaignRunState{}, err
	}
	if st != model.CampaignCompleted {
		devReason := otaflow.ReasonCampaignCanceled
		if st == model.CampaignAborted {
			devReason = otaflow.ReasonCampaignAborted
		}
		req := otaflow.MarkCampaignDevicesRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, AllPending: true,
			State: model.StateCanceled, Reason: devReason}
		if err := r.local(ctx, otaflow.ActivityMarkCampaignDevices, r.acts.MarkCampaignDevices, req, nil); err != nil {
			return otaflow.CampaignRunState{}, fmt.Errorf("cancel pending devices: %w", err)
		}
	}
	if err := r.setState(ctx, st, reason); err != nil {
		return otaflow.CampaignRunState{}, err
	}
	return r.snapshot()
}

func (r *childRun) flushRefused(ctx workflow.Context) error {
	if len(r.refused) == 0 {
		return nil
	}
	req := otaflow.MarkCampaignDevicesRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, DeviceIDs: r.refused,
		State: model.StateRejected, Reason: otaflow.ReasonUpdateInProgress}
	if err := r.local(ctx, otaflow.ActivityMarkCampaignDevices, r.acts.MarkCampaignDevices, req, nil); err != nil {
		return fmt.Errorf("mark refused devices: %w", err)
	}
	r.refused = nil
	return nil
}

func (r *childRun) setState(ctx workflow.Context, s model.CampaignState, reason string) error {
	r.p.State, r.p.Reason = s, reason
	req := otaflow.SetCampaignStateRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, State: s, Reason: reason}
	if err := r.local(ctx, otaflow.ActivitySetCampaignState, r.acts.SetCampaignState, req, nil); err != nil {
		return fmt.Errorf("set campaign state %s: %w", s, err)
	}
	return nil
}

// local runs a short database step local-first (see package localfirst).
func (r *childRun) local(ctx workflow.Context, name string, fn, arg, result interface{}) error {
	return local(ctx, name, fn, arg, result)
}
