package fuota

import (
	"fmt"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/activity"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/worker/localfirst"
)

// Defaults when the input leaves a wait out.
const (
	defaultPoll    = 30 * time.Second
	defaultTimeout = 6 * time.Hour
	defaultConfirm = 6 * time.Hour
)

func localOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second,
			ExpirationInterval: time.Minute, MaximumAttempts: 3, NonRetriableErrorReasons: permanentReasons,
		},
	}
}

// activityOptions: ChirpStack may be away for a while; retry durably, bounded.
func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    5 * time.Minute,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			ExpirationInterval: 30 * time.Minute, NonRetriableErrorReasons: permanentReasons,
		},
	}
}

// Flow is LORAWAN_FUOTA_DEPLOYMENT, bound to its activities to run them locally.
type Flow struct {
	acts *Activities
}

// NewFlow returns the workflow bound to its activities.
func NewFlow(a *Activities) *Flow { return &Flow{acts: a} }

type run struct {
	acts       *Activities
	in         otaflow.FUOTAInput
	policy     otaflow.UpdatePolicy
	wfID       string
	runID      string
	deployment string
	states     []model.DeviceState
	reasons    []string
	from       []string
	history    [][]otaflow.Transition
}

func (r *run) set(ctx workflow.Context, i int, s model.DeviceState, reason string) bool {
	if r.states[i].Terminal() || r.states[i] == s {
		return false
	}
	r.states[i], r.reasons[i] = s, reason
	r.history[i] = append(r.history[i], otaflow.Transition{State: s, At: workflow.Now(ctx), Detail: reason})
	return true
}

// snapshot answers the state query: a single-device run looks like any device run.
func (r *run) snapshot() (interface{}, error) {
	if len(r.in.Devices) == 1 {
		return otaflow.DeviceRunState{DeviceID: r.in.Devices[0].DeviceID, CampaignID: r.in.CampaignID, State: r.states[0],
			Reason: r.reasons[0], FromVersion: r.from[0], TargetVersion: r.in.Firmware.Version, CommandID: r.deployment,
			History: append([]otaflow.Transition(nil), r.history[0]...)}, nil
	}
	res := otaflow.FUOTAResult{DeploymentID: r.deployment, States: append([]model.DeviceState(nil), r.states...),
		Reasons: append([]string(nil), r.reasons...), DeviceIDs: make([]string, len(r.in.Devices))}
	for i, d := range r.in.Devices {
		res.DeviceIDs[i] = d.DeviceID
	}
	return res, nil
}

// Run is LORAWAN_FUOTA_DEPLOYMENT: prepare (readiness, deployment, devices) → start →
// follow the steps until done or timed out → confirm versions by uplink → record.
func (f *Flow) Run(ctx workflow.Context, in otaflow.FUOTAInput) (otaflow.FUOTAResult, error) {
	info := workflow.GetInfo(ctx)
	n := len(in.Devices)
	r := &run{acts: f.acts, in: in, policy: in.Policy, wfID: info.WorkflowExecution.ID, runID: info.WorkflowExecution.RunID,
		states: make([]model.DeviceState, n), reasons: make([]string, n), from: make([]string, n),
		history: make([][]otaflow.Transition, n)}
	for i := range in.Devices {
		r.set(ctx, i, model.StateChecking, "")
	}
	if err := workflow.SetQueryHandler(ctx, otaflow.QueryState, r.snapshot); err != nil {
		return otaflow.FUOTAResult{}, fmt.Errorf("register query: %w", err)
	}
	err := r.execute(ctx)
	// Whatever happened, every device ends terminal and recorded — also on cancel.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	final := model.StateFailed
	reason := ""
	if err != nil {
		reason = "fuota: " + errText(err)
	}
	if ctx.Err() != nil {
		final, reason = model.StateCanceled, otaflow.ReasonCanceledByRequest
	}
	if r.deployment != "" && (err != nil || ctx.Err() != nil) {
		_ = r.step(dctx, otaflow.ActivityFUOTACleanup, r.acts.Cleanup, TenantDeployment{in.TenantID, r.deployment}, nil)
	}
	for i := range r.states {
		r.set(dctx, i, final, reason)
	}
	if rerr := r.record(dctx); rerr != nil {
		return otaflow.FUOTAResult{}, rerr
	}
	return otaflow.FUOTAResult{DeploymentID: r.deployment, States: r.states, Reasons: r.reasons}, nil
}

func (r *run) execute(ctx workflow.Context) error {
	in := r.in
	members := r.members(ctx)
	if len(members) == 0 {
		return nil
	}
	sub := in
	sub.Devices = make([]otaflow.FUOTADevice, len(members))
	for k, i := range members {
		sub.Devices[k] = in.Devices[i]
	}
	var prep Prepared
	req := PrepareRequest{Input: sub, Name: "ota " + r.wfID + " " + r.runID, Policy: r.policy}
	if err := r.step(ctx, otaflow.ActivityFUOTAPrepare, r.acts.Prepare, req, &prep); err != nil {
		return err
	}
	r.deployment = prep.DeploymentID
	live := 0
	for k, i := range members {
		r.from[i] = prep.From[k]
		reason := prep.Rejected[k]
		switch {
		case reason == otaflow.ReasonAlreadyOnTarget:
			r.set(ctx, i, model.StateSucceeded, reason)
		case reason != "":
			r.set(ctx, i, model.StateRejected, reason)
		default:
			r.set(ctx, i, model.StateCommanded, r.deployment)
			live++
		}
	}
	if live == 0 {
		return nil
	}
	if err := r.progress(ctx); err != nil {
		return err
	}
	td := TenantDeployment{TenantID: in.TenantID, DeploymentID: r.deployment}
	if err := r.step(ctx, otaflow.ActivityFUOTAStart, r.acts.Start, td, nil); err != nil {
		return err
	}
	if err := r.follow(ctx, td); err != nil {
		return err
	}
	return r.confirm(ctx)
}

// deviceHoldsChange versions the device holds: runs recorded before them replay without.
const deviceHoldsChange = "device-holds"

// members are the indexes of the devices that take part. A campaign's deployment first
// holds each device's update id (see holdDevices); a single-device update already runs
// under that id.
func (r *run) members(ctx workflow.Context) []int {
	all := make([]int, 0, len(r.in.Devices))
	for i := range r.in.Devices {
		all = append(all, i)
	}
	single := len(r.in.Devices) == 1 && r.wfID == otaflow.DeviceWorkflowID(r.in.Devices[0].DeviceID)
	if single || len(all) == 0 || workflow.GetVersion(ctx, deviceHoldsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return all
	}
	held := r.holdDevices(ctx)
	var members []int
	for _, i := range all {
		if held[i] {
			members = append(members, i)
		}
	}
	return members
}

// follow polls the deployment until ChirpStack completes it or the timeout ends it.
func (r *run) follow(ctx workflow.Context, td TenantDeployment) error {
	p := r.in.Params
	poll := durationOr(p.PollInterval.D(), defaultPoll)
	deadline := workflow.Now(ctx).Add(durationOr(p.DeploymentTimeout.D(), defaultTimeout))
	index := make(map[string]int, len(r.in.Devices))
	for i, d := range r.in.Devices {
		index[d.DevEUI] = i
	}
	for {
		if err := workflow.Sleep(ctx, poll); err != nil {
			return err
		}
		var st otaflow.FUOTAStatus
		if err := r.step(ctx, otaflow.ActivityFUOTAStatus, r.acts.Status, td, &st); err != nil {
			return err
		}
		changed := false
		for _, ds := range st.Devices {
			if i, ok := index[ds.DevEUI]; ok && !r.states[i].Terminal() && r.states[i] != model.StateVerifying {
				reason := ""
				if ds.Error != "" {
					reason = "fuota: " + ds.Error
				}
				changed = r.set(ctx, i, ds.State, reason) || changed
			}
		}
		if changed {
			if err := r.progress(ctx); err != nil {
				return err
			}
		}
		if st.Completed {
			r.finishUnreported(ctx, model.StateFailed, "fuota: deployment completed without this device")
			return nil
		}
		if !workflow.Now(ctx).Before(deadline) {
			r.finishUnreported(ctx, model.StateTimedOut, "fuota: deployment timeout")
			return r.step(ctx, otaflow.ActivityFUOTACleanup, r.acts.Cleanup, td, nil)
		}
	}
}

// finishUnreported ends every device still short of VERIFYING.
func (r *run) finishUnreported(ctx workflow.Context, s model.DeviceState, reason string) {
	for i, st := range r.states {
		if !st.Terminal() && st != model.StateVerifying {
			r.set(ctx, i, s, reason)
		}
	}
}

// confirm waits until each device whose deployment completed reports the new version in
// an uplink; the ones that never do end TIMED_OUT without holding the others.
func (r *run) confirm(ctx workflow.Context) error {
	p := r.in.Params
	poll := durationOr(p.PollInterval.D(), defaultPoll)
	since := workflow.Now(ctx).Add(-poll) // the last uplinks may predate our last look
	deadline := workflow.Now(ctx).Add(durationOr(p.ConfirmTimeout.D(), defaultConfirm))
	for {
		var waiting []int
		for i, st := range r.states {
			if st == model.StateVerifying {
				waiting = append(waiting, i)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		ids := make([]string, len(waiting))
		for k, i := range waiting {
			ids[k] = r.in.Devices[i].DeviceID
		}
		var ok []bool
		req := ConfirmRequest{TenantID: r.in.TenantID, DeviceIDs: ids, Version: r.in.Firmware.Version, Since: since}
		if err := r.step(ctx, otaflow.ActivityFUOTAConfirm, r.acts.Confirm, req, &ok); err != nil {
			return err
		}
		for k, i := range waiting {
			if ok[k] {
				r.set(ctx, i, model.StateSucceeded, "")
			}
		}
		if !workflow.Now(ctx).Before(deadline) {
			r.finishUnconfirmed(ctx)
			return nil
		}
		if err := workflow.Sleep(ctx, poll); err != nil {
			return err
		}
	}
}

func (r *run) finishUnconfirmed(ctx workflow.Context) {
	for i, st := range r.states {
		if st == model.StateVerifying {
			r.set(ctx, i, model.StateTimedOut, "version not confirmed by an uplink")
		}
	}
}

func (r *run) progress(ctx workflow.Context) error {
	req := ProgressRequest{TenantID: r.in.TenantID, CampaignID: r.in.CampaignID, WorkflowID: r.wfID, RunID: r.runID}
	for i, d := range r.in.Devices {
		if !r.states[i].Terminal() {
			req.DeviceIDs = append(req.DeviceIDs, d.DeviceID)
			req.States = append(req.States, r.states[i])
		}
	}
	if len(req.DeviceIDs) == 0 {
		return nil
	}
	return r.step(ctx, otaflow.ActivityFUOTAProgress, r.acts.Progress, req, nil)
}

func (r *run) record(ctx workflow.Context) error {
	outs := make([]otaflow.OutcomeRequest, len(r.in.Devices))
	for i, d := range r.in.Devices {
		outs[i] = otaflow.OutcomeRequest{TenantID: r.in.TenantID, DeviceID: d.DeviceID, CampaignID: r.in.CampaignID,
			Firmware: r.in.Firmware, State: r.states[i], Reason: r.reasons[i], FromVersion: r.from[i],
			Installed: r.states[i] == model.StateSucceeded, WorkflowID: r.wfID, RunID: r.runID}
	}
	opts := activityOptions()
	opts.RetryPolicy.ExpirationInterval = 24 * time.Hour // the outcome must reach the database
	if err := r.stepWith(ctx, otaflow.ActivityFUOTARecord, r.acts.Record, outs, nil, opts); err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	return nil
}

func (r *run) step(ctx workflow.Context, name string, fn, arg, result interface{}) error {
	return r.stepWith(ctx, name, fn, arg, result, activityOptions())
}

// stepWith runs an activity local-first (see package localfirst).
func (r *run) stepWith(ctx workflow.Context, name string, fn, arg, result interface{}, fallback workflow.ActivityOptions) error {
	return localfirst.Run(ctx, name, fn, arg, result, localOptions(), fallback)
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Registry is what a Cadence worker (or test environment, or replayer) registers on.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}

// Register registers the workflow and its activities under their contract names.
func Register(reg Registry, a *Activities) {
	reg.RegisterWorkflowWithOptions(NewFlow(a).Run, workflow.RegisterOptions{Name: otaflow.FUOTAWorkflow})
	reg.RegisterWorkflowWithOptions(Hold, workflow.RegisterOptions{Name: otaflow.DeviceHoldWorkflow})
	for _, act := range []struct {
		name string
		fn   interface{}
	}{
		{otaflow.ActivityFUOTAPrepare, a.Prepare},
		{otaflow.ActivityFUOTAStart, a.Start},
		{otaflow.ActivityFUOTAStatus, a.Status},
		{otaflow.ActivityFUOTAProgress, a.Progress},
		{otaflow.ActivityFUOTAConfirm, a.Confirm},
		{otaflow.ActivityFUOTARecord, a.Record},
		{otaflow.ActivityFUOTACleanup, a.Cleanup},
	} {
		reg.RegisterActivityWithOptions(act.fn, activity.RegisterOptions{Name: act.name})
	}
}
