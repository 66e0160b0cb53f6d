// Package campaign holds OTA_CAMPAIGN: a staged rollout that runs OTA_UPDATE_DEVICE for
// every device — in waves, within a concurrency limit, a dispatch rate and a maintenance
// window — with gates between waves, automatic abort, per-device retries, operator
// pause/resume/cancel/approve, and a history kept bounded by continue-as-new. The rules
// themselves (waves, gates, abort, retries, pacing, windows) are pkg/rollout's.
//
// A campaign starts its device runs in batches from an activity and learns their
// outcomes from the database, a batch at a time (batch.go): its own history grows by a
// fraction of an event per device. Campaigns that began before that started one child
// workflow per device and replay through legacy.go.
package campaign

import (
	"fmt"

	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
	"github.com/otaplane/ota/worker/localfirst"
)

// changeBatchDispatch versions the campaign that starts device runs in batches and
// collects their outcomes from the database instead of running them as children.
const changeBatchDispatch = "batch-dispatch"

// changeWaveFinished versions the batch campaign that records a wave.finished event when
// a wave's last outcome is in.
const changeWaveFinished = "wave-finished-event"

const (
	// pageSize is how many device ids one list activity returns (child-workflow campaigns).
	pageSize = 500
	// defaultChildrenPerRun is how many device runs one execution starts before it
	// continues as new.
	defaultChildrenPerRun = 1000
	// cancelGrace bounds the wait for canceled device runs to record their outcome.
	cancelGrace = 10 * time.Minute
	// decisionsPerRun bounds the history of a long-lived (continuous, paused, windowed)
	// child-workflow campaign that dispatches little.
	decisionsPerRun = 2000
	// cyclesPerRun bounds a batch campaign's execution the same way: each cycle (a wait,
	// a collection, a dispatch) is about seven events.
	cyclesPerRun = 400
	// dispatchBatch is the most device runs one dispatch activity starts, and
	// batchesPerCycle how many of them one decision runs before it waits.
	dispatchBatch   = 500
	batchesPerCycle = 4
	// collectEvery is how often outcomes are collected while runs are in flight; a
	// collection that finds nothing doubles the wait, up to collectIdleMax.
	collectEvery   = time.Second
	collectIdleMax = 30 * time.Second
	// collectLimit is the most outcomes one collection takes.
	collectLimit = 5000
	// sweepEvery is how often a collection also looks for runs in flight that ended
	// without an outcome (timed out, terminated), among those idle for sweepIdle.
	sweepEvery = time.Minute
	sweepIdle  = time.Minute
)

func localOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
			ExpirationInterval: time.Minute,
		},
	}
}

func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    5 * time.Minute,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			ExpirationInterval: 24 * time.Hour,
		},
	}
}

// local runs a short database step local-first (see package localfirst).
func local(ctx workflow.Context, name string, fn, arg, result interface{}) error {
	return localfirst.Run(ctx, name, fn, arg, result, localOptions(), activityOptions())
}

// Flow is OTA_CAMPAIGN, bound to its activities so it can run them locally.
type Flow struct {
	acts *Activities
}

// NewFlow returns the workflow bound to its activities.
func NewFlow(a *Activities) *Flow { return &Flow{acts: a} }

// Run is OTA_CAMPAIGN.
func (f *Flow) Run(ctx workflow.Context, in otaflow.CampaignInput) (otaflow.CampaignRunState, error) {
	if workflow.GetVersion(ctx, changeBatchDispatch, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return f.runChildren(ctx, in)
	}
	return f.runBatches(ctx, in)
}

// windowAnswer is a recorded window evaluation (errors travel as text).
type windowAnswer struct {
	State rollout.WindowState
	Err   string
}

// windowState is the maintenance window's state now: last while it still holds, else
// evaluated afresh. Evaluating reads time-zone data, so it runs as a side effect
// (recorded, not re-read on replay), and only when the last answer has run out.
func windowState(ctx workflow.Context, last rollout.WindowState, w otaflow.MaintenanceWindow) (rollout.WindowState, error) {
	now := workflow.Now(ctx)
	if !last.Next.IsZero() && now.Before(last.Next) {
		return last, nil
	}
	var res windowAnswer
	if err := workflow.SideEffect(ctx, func(workflow.Context) interface{} {
		ws, err := rollout.WindowAt(w, now)
		if err != nil {
			return windowAnswer{Err: err.Error()}
		}
		return windowAnswer{State: ws}
	}).Get(&res); err != nil {
		return rollout.WindowState{}, fmt.Errorf("maintenance window: %w", err)
	}
	if res.Err != "" {
		return rollout.WindowState{}, fmt.Errorf("maintenance window: %s", res.Err)
	}
	return res.State, nil
}
