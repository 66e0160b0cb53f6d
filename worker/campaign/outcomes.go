package campaign

import (
	"fmt"

	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
)

// maxCollectionsPerCycle bounds the collections one wait is followed by when outcomes
// keep coming faster than one collection takes them.
const maxCollectionsPerCycle = 4

// collect takes the outcomes that came in since the last collection: counts them, gives
// failed devices their retries, and applies the abort rules. A collection that finds
// nothing makes the next one wait longer.
func (r *batchRun) collect(ctx workflow.Context) error {
	for range maxCollectionsPerCycle {
		req := otaflow.CollectRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID,
			AckID: fmt.Sprintf("%s:%d", r.runID, r.collections), Limit: collectLimit}
		if now := workflow.Now(ctx); !now.Before(r.nextSweep) {
			req.SweepIdle, r.nextSweep = sweepIdle, now.Add(sweepEvery)
		}
		var res otaflow.CollectResult
		if err := local(ctx, otaflow.ActivityCollectOutcomes, r.acts.CollectOutcomes, req, &res); err != nil {
			return fmt.Errorf("collect outcomes: %w", err)
		}
		r.collections++
		if len(res.Counts) == 0 && len(res.Failures) == 0 {
			r.collectWait = min(2*r.collectWait, collectIdleMax)
			return nil
		}
		r.collectWait = collectEvery
		if err := r.apply(ctx, res); err != nil {
			return err
		}
		if !res.More {
			return nil
		}
	}
	return nil
}

// apply counts collected outcomes into the waves. A failure with retry budget left goes
// back for another run instead of being counted.
func (r *batchRun) apply(ctx workflow.Context, res otaflow.CollectResult) error {
	for _, c := range res.Counts {
		r.p.InFlight -= c.N
		for range c.N {
			rollout.Record(&r.p.Waves[c.Wave], c.State)
		}
		if c.State == model.StateSucceeded {
			r.p.Succeeded += c.N
		}
	}
	var retry []otaflow.DeviceOutcome
	for _, f := range res.Failures {
		r.p.InFlight--
		fin := rollout.Finished{State: f.State, Retries: max(f.Attempts-1, 0),
			Refused: f.State == model.StateRejected && f.Reason == otaflow.ReasonUpdateInProgress}
		if rollout.Retry(r.in.Rollout.Retry, fin, r.p.Aborted || r.operator.canceled) {
			retry = append(retry, f)
			continue
		}
		rollout.Record(&r.p.Waves[f.Wave], f.State)
	}
	if len(retry) > 0 {
		r.retry(ctx, retry)
	}
	return r.checkAbort(ctx)
}

// retry puts failed devices back for another run; if that cannot be recorded, their
// failures count as they are.
func (r *batchRun) retry(ctx workflow.Context, failed []otaflow.DeviceOutcome) {
	req := otaflow.RetryDevicesRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID}
	for _, f := range failed {
		req.DeviceIDs = append(req.DeviceIDs, f.DeviceID)
	}
	if err := local(ctx, otaflow.ActivityRetryDevices, r.acts.RetryDevices, req, nil); err != nil {
		for _, f := range failed {
			rollout.Record(&r.p.Waves[f.Wave], f.State)
		}
		return
	}
	for _, f := range failed {
		r.p.Retries = append(r.p.Retries, otaflow.CampaignDeviceRef{Seq: f.Seq, DeviceID: f.DeviceID, Wave: f.Wave})
		r.p.Waves[f.Wave].Dispatched-- // the retry dispatches it again
	}
}

// checkAbort applies the abort rules to the whole campaign's finished devices.
func (r *batchRun) checkAbort(ctx workflow.Context) error {
	if r.p.Aborted || r.operator.canceled {
		return nil
	}
	reason := rollout.AbortReason(r.in.Rollout.Abort, r.p.Waves)
	if reason == "" {
		return nil
	}
	r.p.Aborted = true
	r.p.Retries = nil
	if err := r.setState(ctx, model.CampaignAborted, reason); err != nil {
		return err
	}
	if r.in.Rollout.Abort.CancelInFlight {
		return r.cancelInFlight(ctx)
	}
	return nil
}

// cancelInFlight asks every run the campaign has in flight (device runs and FUOTA
// deployments, whichever execution started them) to cancel.
func (r *batchRun) cancelInFlight(ctx workflow.Context) error {
	req := otaflow.CancelRunsRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID}
	if err := local(ctx, otaflow.ActivityCancelDeviceRuns, r.acts.CancelDeviceRuns, req, nil); err != nil {
		return fmt.Errorf("cancel runs in flight: %w", err)
	}
	return nil
}

func (r *batchRun) drainSignals(ctx workflow.Context) {
	for {
		var sig otaflow.CampaignControl
		if !r.control.ReceiveAsync(&sig) {
			return
		}
		r.onControl(ctx, sig)
	}
}

func (r *batchRun) onControl(ctx workflow.Context, sig otaflow.CampaignControl) {
	if r.operator.canceled || r.p.Aborted {
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
			r.operator.approved = true
		}
	case otaflow.ControlCancel:
		r.operator.canceled = true
		r.p.Reason = sig.Reason
	}
}
