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

// dispatchReady starts the device runs allowed now: within the in-flight limit, the
// rate and the maintenance window, retries first, then the current wave in order. It
// returns how long until more may go (0: only an outcome or a signal can help).
func (r *batchRun) dispatchReady(ctx workflow.Context) (time.Duration, error) {
	if r.p.Aborted || r.operator.canceled || r.p.Paused || r.p.State == model.CampaignWaitingApproval {
		return 0, nil
	}
	if r.in.Rollout.Window != nil {
		ws, err := r.windowAt(ctx)
		if err != nil {
			return 0, err
		}
		if !ws.Open {
			if r.p.State != model.CampaignScheduled {
				reason := "outside maintenance window; opens " + ws.Next.UTC().Format(time.RFC3339)
				if err := r.setState(ctx, model.CampaignScheduled, reason); err != nil {
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
	for range batchesPerCycle {
		free := r.in.MaxInFlight - r.p.InFlight
		waiting := len(r.p.Retries) + max(r.waveEnd()-r.p.AfterSeq, 0)
		if free <= 0 || waiting == 0 || r.dispatchedHere >= r.childrenPerRun() {
			break
		}
		rate := rollout.Rate(r.in.Rollout.Rate, r.p.Succeeded)
		b, granted, wait := rollout.Bucket{Tokens: r.p.RateTokens, At: r.p.RateAt}.Take(workflow.Now(ctx), rate,
			min(free, waiting, dispatchBatch, r.childrenPerRun()-r.dispatchedHere))
		r.p.RateTokens, r.p.RateAt = b.Tokens, b.At
		if granted == 0 {
			return wait, nil
		}
		if err := r.dispatchBatch(ctx, granted, rate); err != nil {
			return 0, err
		}
	}
	// A wave's LoRaWAN devices go out together, one multicast deployment per profile,
	// once the whole wave has been read.
	if len(r.fuota) > 0 && r.p.AfterSeq >= r.waveEnd() && len(r.p.Retries) == 0 {
		if err := r.flushFUOTA(ctx); err != nil {
			return 0, err
		}
	}
	if r.in.Rollout.Continuous && r.p.Wave == len(r.p.Bounds)-1 && r.waveIdle() {
		return r.refreshTargets(ctx)
	}
	return 0, nil
}

// dispatchBatch starts up to n device runs in one activity.
func (r *batchRun) dispatchBatch(ctx workflow.Context, n int, rate float64) error {
	retries := r.p.Retries[:min(n, len(r.p.Retries))]
	req := otaflow.DispatchRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, Firmware: r.in.Firmware,
		Policy: rollout.DevicePolicy(r.in.Rollout, r.in.Policy), Retries: retries, AfterSeq: r.p.AfterSeq,
		ToSeq: r.waveEnd(), Limit: n, DispatchID: fmt.Sprintf("%s:%d", r.runID, r.dispatches)}
	r.dispatches++
	var res otaflow.DispatchResult
	if err := local(ctx, otaflow.ActivityDispatchDeviceRuns, r.acts.DispatchDeviceRuns, req, &res); err != nil {
		return fmt.Errorf("dispatch device runs: %w", err)
	}
	r.p.Retries = r.p.Retries[len(retries):]
	r.p.AfterSeq = max(r.p.AfterSeq, res.AfterSeq)
	used := len(res.LoRaWAN)
	for _, c := range res.Dispatched {
		r.p.Waves[c.Wave].Dispatched += c.N
		r.p.InFlight += c.N
		r.dispatchedHere += c.N
		used += c.N
	}
	for _, ref := range res.LoRaWAN {
		r.bufferFUOTA(ref)
	}
	if used < n {
		r.p.RateTokens = rollout.Bucket{Tokens: r.p.RateTokens}.Refund(rate, n-used).Tokens
	}
	return nil
}

// bufferFUOTA adds a LoRaWAN device to its profile's deployment for its wave.
func (r *batchRun) bufferFUOTA(ref otaflow.CampaignDeviceRef) {
	for i := range r.fuota {
		if r.fuota[i].profile == ref.DeviceProfileID && r.fuota[i].wave == ref.Wave {
			r.fuota[i].refs = append(r.fuota[i].refs, ref)
			return
		}
	}
	r.fuota = append(r.fuota, fuotaGroup{profile: ref.DeviceProfileID, wave: ref.Wave, refs: []otaflow.CampaignDeviceRef{ref}})
}

// flushFUOTA starts one deployment per buffered profile group.
func (r *batchRun) flushFUOTA(ctx workflow.Context) error {
	for _, g := range r.fuota {
		if err := r.startFUOTA(ctx, g); err != nil {
			return err
		}
	}
	r.fuota = nil
	return nil
}

// startFUOTA starts a FUOTA deployment for a group. It records the deployment's workflow
// id on its devices first: the deployment records every device's outcome, and the
// campaign collects them like any other; the campaign does not wait on it (it may
// continue as new meanwhile), so the deployment outlives this execution.
func (r *batchRun) startFUOTA(ctx workflow.Context, g fuotaGroup) error {
	in := r.in
	r.p.FUOTASeq++
	wfID := otaflow.FUOTAWorkflowID(in.CampaignID, g.profile, r.p.FUOTASeq)
	ids := make([]string, len(g.refs))
	devices := make([]otaflow.FUOTADevice, len(g.refs))
	for i, ref := range g.refs {
		ids[i] = ref.DeviceID
		devices[i] = otaflow.FUOTADevice{DeviceID: ref.DeviceID, DevEUI: ref.DevEUI}
	}
	rec := otaflow.RecordDispatchRequest{TenantID: in.TenantID, CampaignID: in.CampaignID, DeviceIDs: ids, WorkflowID: wfID}
	if err := local(ctx, otaflow.ActivityRecordDispatch, r.acts.RecordDispatch, rec, nil); err != nil {
		return fmt.Errorf("record FUOTA dispatch: %w", err)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:                   wfID,
		ExecutionStartToCloseTimeout: in.FUOTA.RunBound(),
		TaskStartToCloseTimeout:      20 * time.Second,
		WorkflowIDReusePolicy:        client.WorkflowIDReusePolicyAllowDuplicate,
		ParentClosePolicy:            client.ParentClosePolicyAbandon,
		Memo:                         map[string]interface{}{otaflow.MemoCampaignID: in.CampaignID},
	})
	input := otaflow.FUOTAInput{TenantID: in.TenantID, CampaignID: in.CampaignID, Firmware: in.Firmware,
		DeviceProfileID: g.profile, Devices: devices, Params: in.FUOTA, Policy: in.LoRaWANPolicy}
	fut := workflow.ExecuteChildWorkflow(cctx, otaflow.FUOTAWorkflow, input)
	r.p.InFlight += len(g.refs)
	r.p.Waves[g.wave].Dispatched += len(g.refs)
	r.dispatchedHere += len(g.refs)
	if err := fut.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		// Never started: its devices end REJECTED, collected like any outcome.
		mark := otaflow.MarkCampaignDevicesRequest{TenantID: in.TenantID, CampaignID: in.CampaignID, DeviceIDs: ids,
			State: model.StateRejected, Reason: "fuota_not_started: " + err.Error()}
		if err := local(ctx, otaflow.ActivityMarkCampaignDevices, r.acts.MarkCampaignDevices, mark, nil); err != nil {
			return fmt.Errorf("mark FUOTA devices not started: %w", err)
		}
	}
	return nil
}

// refreshTargets looks for devices that joined a continuous campaign's target since the
// last look, and opens them for dispatch in the last wave.
func (r *batchRun) refreshTargets(ctx workflow.Context) (time.Duration, error) {
	now := workflow.Now(ctx)
	if wait := r.lastRefresh.Add(r.in.ContinuousRefresh).Sub(now); !r.lastRefresh.IsZero() && wait > 0 {
		return wait, nil
	}
	r.lastRefresh = now
	total := 0
	if err := local(ctx, otaflow.ActivityResolveTargets, r.acts.ResolveTargets,
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
	if err := local(ctx, otaflow.ActivityAssignWave, r.acts.AssignWave, req, nil); err != nil {
		return 0, fmt.Errorf("assign new devices: %w", err)
	}
	return time.Second, nil
}

// windowAt says whether the maintenance window is open now (see windowState).
func (r *batchRun) windowAt(ctx workflow.Context) (rollout.WindowState, error) {
	ws, err := windowState(ctx, r.window, *r.in.Rollout.Window)
	if err != nil {
		return rollout.WindowState{}, err
	}
	r.window = ws
	return ws, nil
}
