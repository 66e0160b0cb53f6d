package campaign

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/rollout"
)

// BatchCampaignSuite runs OTA_CAMPAIGN as it dispatches today — device runs started in
// batches by an activity, outcomes collected from the database — against a campaign
// table kept in memory by the mocked activities: each test chooses every device run's
// outcome and duration (in workflow time).
type BatchCampaignSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	devices int
	outcome func(deviceID string, attempt int) (model.DeviceState, time.Duration)
	// busy devices are held by another update: their start is refused.
	busy map[string]bool

	rows      map[string]*fakeRow
	states    []model.CampaignState
	marked    []otaflow.MarkCampaignDevicesRequest
	started   []string
	startedAt []time.Time
	retried   []string
	waves     []otaflow.AssignWaveRequest
	canceled  int
	peak      int
	dispatchN []int // devices asked for per dispatch activity
	acks      map[string][]otaflow.DeviceOutcome
	// events is what the campaign recorded, in order: "state:X" and "wave:N".
	events        []string
	finishedWaves []otaflow.WaveStats
}

// fakeRow is one campaign device as the mocked activities keep it.
type fakeRow struct {
	seq, wave, attempts int
	state               model.DeviceState
	reason              string
	dispatched          bool
	finishAt            time.Time // when the run records its outcome
	final               model.DeviceState
	acked               string
}

func TestBatchCampaignSuite(t *testing.T) { suite.Run(t, new(BatchCampaignSuite)) }

func (s *BatchCampaignSuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.devices, s.busy = 0, map[string]bool{}
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, time.Second }
	s.rows, s.acks = map[string]*fakeRow{}, map[string][]otaflow.DeviceOutcome{}
	s.states, s.marked, s.started, s.startedAt, s.retried, s.waves, s.dispatchN = nil, nil, nil, nil, nil, nil, nil
	s.canceled, s.peak = 0, 0
	s.events, s.finishedWaves = nil, nil

	s.env.OnActivity(otaflow.ActivityResolveTargets, mock.Anything, mock.Anything).Return(
		func(context.Context, otaflow.ResolveTargetsRequest) (int, error) {
			for seq := 1; seq <= s.devices; seq++ {
				if s.rows[deviceID(seq)] == nil {
					s.rows[deviceID(seq)] = &fakeRow{seq: seq, attempts: 1, state: model.StatePending}
				}
			}
			return s.devices, nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityAssignWave, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.AssignWaveRequest) error {
			s.waves = append(s.waves, r)
			for _, row := range s.rows {
				if row.seq >= r.FromSeq && row.seq <= r.ToSeq {
					row.wave = r.Wave
				}
			}
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivitySetCampaignState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.SetCampaignStateRequest) error {
			s.states = append(s.states, r.State)
			s.events = append(s.events, "state:"+string(r.State))
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityMarkCampaignDevices, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.MarkCampaignDevicesRequest) error {
			s.marked = append(s.marked, r)
			if r.AllPending {
				for _, row := range s.rows {
					if row.state == model.StatePending && !row.dispatched {
						row.state, row.reason = r.State, r.Reason
					}
				}
			}
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityRecordWaveFinished, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.WaveFinishedRequest) error {
			s.finishedWaves = append(s.finishedWaves, r.Wave)
			s.events = append(s.events, fmt.Sprintf("wave:%d", r.Wave.Index))
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityDispatchDeviceRuns, mock.Anything, mock.Anything).Return(s.dispatch).Maybe()
	s.env.OnActivity(otaflow.ActivityCollectOutcomes, mock.Anything, mock.Anything).Return(s.collect).Maybe()
	s.env.OnActivity(otaflow.ActivityCancelDeviceRuns, mock.Anything, mock.Anything).Return(
		func(context.Context, otaflow.CancelRunsRequest) (int, error) {
			n := 0
			for _, row := range s.rows {
				if row.dispatched && row.acked == "" && s.env.Now().Before(row.finishAt) {
					row.finishAt, row.final = s.env.Now(), model.StateCanceled
					n++
				}
			}
			s.canceled += n
			return n, nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityRetryDevices, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.RetryDevicesRequest) error {
			for _, id := range r.DeviceIDs {
				row := s.rows[id]
				row.attempts++
				row.state, row.dispatched, row.acked = model.StatePending, false, ""
				s.retried = append(s.retried, id)
			}
			return nil
		}).Maybe()
}

// dispatch starts the runs as dispatch_device_runs does: retries first, then the next
// devices of the wave.
func (s *BatchCampaignSuite) dispatch(_ context.Context, r otaflow.DispatchRequest) (otaflow.DispatchResult, error) {
	s.dispatchN = append(s.dispatchN, r.Limit)
	now := s.env.Now()
	res := otaflow.DispatchResult{AfterSeq: r.AfterSeq}
	perWave := map[int]int{}
	run := func(row *fakeRow) {
		id := deviceID(row.seq)
		perWave[row.wave]++
		row.dispatched = true
		if s.busy[id] {
			row.state, row.reason, row.finishAt, row.final = model.StateRejected, otaflow.ReasonUpdateInProgress, now, model.StateRejected
			return
		}
		st, d := s.outcome(id, row.attempts)
		row.final, row.finishAt = st, now.Add(d)
		s.started = append(s.started, id)
		s.startedAt = append(s.startedAt, now)
	}
	for _, ref := range r.Retries {
		run(s.rows[ref.DeviceID])
	}
	for seq := r.AfterSeq + 1; seq <= r.ToSeq && seq <= s.devices; seq++ {
		if sum(perWave) >= r.Limit {
			break
		}
		run(s.rows[deviceID(seq)])
		res.AfterSeq = seq
	}
	if sum(perWave) < r.Limit {
		res.AfterSeq = max(res.AfterSeq, r.ToSeq)
	}
	for w := 0; w <= 100; w++ {
		if n := perWave[w]; n > 0 {
			res.Dispatched = append(res.Dispatched, otaflow.WaveCount{Wave: w, N: n})
		}
	}
	running := 0
	for _, row := range s.rows {
		if row.dispatched && now.Before(row.finishAt) {
			running++
		}
	}
	s.peak = max(s.peak, running)
	return res, nil
}

// collect acknowledges the runs finished by now, repeatably per acknowledgement id.
func (s *BatchCampaignSuite) collect(_ context.Context, r otaflow.CollectRequest) (otaflow.CollectResult, error) {
	outs, ok := s.acks[r.AckID]
	if !ok {
		for seq := 1; seq <= s.devices; seq++ {
			row := s.rows[deviceID(seq)]
			if row.dispatched && row.acked == "" && !s.env.Now().Before(row.finishAt) {
				row.acked, row.state = r.AckID, row.final
				outs = append(outs, otaflow.DeviceOutcome{Seq: row.seq, DeviceID: deviceID(row.seq), Wave: row.wave,
					State: row.final, Reason: row.reason, Attempts: row.attempts})
			}
		}
		s.acks[r.AckID] = outs
	}
	var res otaflow.CollectResult
	counts := map[otaflow.OutcomeCount]int{}
	for _, o := range outs {
		if rollout.FailureTypeOf(o.State) != "" {
			res.Failures = append(res.Failures, o)
		} else {
			counts[otaflow.OutcomeCount{Wave: o.Wave, State: o.State}]++
		}
	}
	for k, n := range counts {
		k.N = n
		res.Counts = append(res.Counts, k)
	}
	return res, nil
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (s *BatchCampaignSuite) result() otaflow.CampaignRunState {
	s.True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var st otaflow.CampaignRunState
	s.Require().NoError(s.env.GetWorkflowResult(&st))
	return st
}

func (s *BatchCampaignSuite) query() otaflow.CampaignRunState {
	v, err := s.env.QueryWorkflow(otaflow.QueryState)
	s.Require().NoError(err)
	var st otaflow.CampaignRunState
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *BatchCampaignSuite) signal(at time.Duration, a otaflow.ControlAction) {
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(otaflow.SignalCampaignControl, otaflow.CampaignControl{Action: a, Reason: "test"})
	}, at)
}

func (s *BatchCampaignSuite) TestDispatchesEveryDeviceWithinConcurrencyLimit() {
	s.devices = 7
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(3, otaflow.CampaignPolicy{}))
	st := s.result()
	s.Equal(model.CampaignCompleted, st.State)
	s.Equal(7, st.Dispatched)
	s.Equal(7, st.Finished)
	s.Equal(7, st.Waves[0].Succeeded)
	s.Equal(0, st.InFlight)
	s.Len(s.started, 7)
	s.LessOrEqual(s.peak, 3, "never more than MaxInFlight runs at once")
	for _, n := range s.dispatchN {
		s.LessOrEqual(n, 3, "a dispatch never asks for more than the free slots")
	}
	s.Equal([]model.CampaignState{model.CampaignRunning, model.CampaignCompleted}, s.states)
}

func (s *BatchCampaignSuite) TestManyDevicesGoOutInFewBatches() {
	s.devices = 1200
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, 10 * time.Second }
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(5000, otaflow.CampaignPolicy{}))
	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	s.Len(s.started, defaultChildrenPerRun, "an execution dispatches its share, then continues")
	s.LessOrEqual(len(s.dispatchN), defaultChildrenPerRun/dispatchBatch, "in batches, not one activity per device")
}

func (s *BatchCampaignSuite) TestContinuesAsNewWithRunsInFlight() {
	s.devices = 10
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, time.Hour }
	in := input(10, otaflow.CampaignPolicy{})
	in.ChildrenPerRun = 4
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, in)
	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	s.Len(s.started, 4)
	// The next execution gets the runs in flight, not a drained campaign.
	var next otaflow.CampaignInput
	s.Require().NoError(decodeContinueAsNew(can, &next))
	s.Require().NotNil(next.Progress)
	s.Equal(4, next.Progress.InFlight)
	s.Equal(4, next.Progress.AfterSeq)
}

func (s *BatchCampaignSuite) TestContinuedExecutionCollectsWhatTheLastOneDispatched() {
	s.devices = 6
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, time.Minute }
	// The previous execution dispatched devices 1–4; they are still running.
	first := input(10, otaflow.CampaignPolicy{})
	p := &otaflow.CampaignProgress{State: model.CampaignRunning, Total: 6, Bounds: []int{6}, AfterSeq: 4, InFlight: 4,
		Waves: []otaflow.WaveStats{{Size: 6, Dispatched: 4}}, RateTokens: 1}
	s.rows = map[string]*fakeRow{}
	for seq := 1; seq <= 6; seq++ {
		row := &fakeRow{seq: seq, attempts: 1, state: model.StatePending}
		if seq <= 4 {
			row.dispatched, row.final = true, model.StateSucceeded
			row.finishAt = time.Time{} // finished already
		}
		s.rows[deviceID(seq)] = row
	}
	first.Progress = p
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, first)
	st := s.result()
	s.Equal(model.CampaignCompleted, st.State)
	s.Equal(6, st.Waves[0].Succeeded)
	s.ElementsMatch([]string{deviceID(5), deviceID(6)}, s.started, "only the devices not dispatched before")
}

func (s *BatchCampaignSuite) TestWavesAdvanceWhenGatePasses() {
	s.devices = 20
	rollout := otaflow.CampaignPolicy{
		Waves: []otaflow.Wave{{Name: "canary", Count: 2}, {Percent: 50}, {Percent: 100}},
		Gate:  otaflow.GatePolicy{Mode: otaflow.GateAuto, SuccessThresholdPercent: 90},
	}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(50, rollout))
	st := s.result()
	s.Equal(model.CampaignCompleted, st.State)
	s.Require().Len(st.Waves, 3)
	s.Equal([]int{2, 8, 10}, []int{st.Waves[0].Size, st.Waves[1].Size, st.Waves[2].Size})
	s.Equal([]int{2, 8, 10}, []int{st.Waves[0].Succeeded, st.Waves[1].Succeeded, st.Waves[2].Succeeded})
	s.ElementsMatch([]otaflow.AssignWaveRequest{
		{TenantID: "t", CampaignID: "c", Wave: 0, FromSeq: 1, ToSeq: 2},
		{TenantID: "t", CampaignID: "c", Wave: 1, FromSeq: 3, ToSeq: 10},
		{TenantID: "t", CampaignID: "c", Wave: 2, FromSeq: 11, ToSeq: 20},
	}, s.waves)
	// No device of wave 1 starts before the canary wave has finished.
	s.ElementsMatch([]string{deviceID(1), deviceID(2)}, s.started[:2])
	s.True(s.startedAt[2].After(s.startedAt[1]))
	// Each wave's end is recorded once, in order, with its final counts, before the
	// campaign completes.
	s.Equal([]string{"state:RUNNING", "wave:0", "wave:1", "wave:2", "state:COMPLETED"}, s.events)
	s.Require().Len(s.finishedWaves, 3)
	for i, w := range s.finishedWaves {
		s.Equal(st.Waves[i], w, "wave %d is reported with its final counts", i)
	}
}

func (s *BatchCampaignSuite) TestFailedGateWaitsForApproval() {
	s.devices = 4
	s.outcome = func(id string, _ int) (model.DeviceState, time.Duration) {
		if id == deviceID(1) {
			return model.StateRolledBack, time.Second
		}
		return model.StateSucceeded, time.Second
	}
	rollout := otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Count: 2}, {Percent: 100}},
		Gate: otaflow.GatePolicy{Mode: otaflow.GateAuto, SuccessThresholdPercent: 100}}
	s.env.RegisterDelayedCallback(func() {
		q := s.query()
		s.Equal(model.CampaignWaitingApproval, q.State)
		s.Equal(2, q.Finished)
		s.Equal(2, len(s.started), "wave 1 waits for approval")
	}, time.Hour)
	s.signal(2*time.Hour, otaflow.ControlApprove)
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(10, rollout))
	st := s.result()
	s.Equal(model.CampaignCompleted, st.State)
	s.Len(s.started, 4)
	s.Contains(s.states, model.CampaignWaitingApproval)
	s.Equal([]string{"state:RUNNING", "wave:0", "state:WAITING_APPROVAL", "state:RUNNING", "wave:1", "state:COMPLETED"},
		s.events, "the wave's end comes before the gate waits, and only once while it waits")
	s.Equal([2]int{1, 1}, [2]int{s.finishedWaves[0].Succeeded, s.finishedWaves[0].Failed},
		"the canary's rollback is in its report")
}

func (s *BatchCampaignSuite) TestManualGateAlwaysWaits() {
	s.devices = 3
	rollout := otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Count: 1}, {Percent: 100}},
		Gate: otaflow.GatePolicy{Mode: otaflow.GateManual}}
	s.env.RegisterDelayedCallback(func() { s.Equal(model.CampaignWaitingApproval, s.query().State) }, time.Hour)
	s.signal(90*time.Minute, otaflow.ControlApprove)
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(10, rollout))
	s.Equal(model.CampaignCompleted, s.result().State)
	s.Len(s.started, 3)
}

func (s *BatchCampaignSuite) TestFailingCanaryAbortsTheRest() {
	s.devices = 50
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateFailed, time.Second }
	rollout := otaflow.CampaignPolicy{
		Waves: []otaflow.Wave{{Name: "canary", Count: 5}, {Percent: 100}},
		Abort: otaflow.AbortPolicy{Rules: []otaflow.AbortRule{{FailureType: otaflow.FailureAll, ThresholdPercent: 20, MinFinished: 3}}},
	}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(5, rollout))
	st := s.result()
	s.Equal(model.CampaignAborted, st.State)
	s.Contains(st.Reason, "ALL failures")
	s.Len(s.started, 5, "nothing after the canary is dispatched")
	s.Empty(s.finishedWaves, "an aborted wave never finishes")
	s.Require().NotEmpty(s.marked)
	last := s.marked[len(s.marked)-1]
	s.True(last.AllPending)
	s.Equal(model.StateCanceled, last.State)
	s.Equal(otaflow.ReasonCampaignAborted, last.Reason)
}

func (s *BatchCampaignSuite) TestAbortWaitsForMinimumFinished() {
	s.devices = 6
	s.outcome = func(id string, _ int) (model.DeviceState, time.Duration) {
		if id == deviceID(1) {
			return model.StateTimedOut, time.Second
		}
		return model.StateSucceeded, 2 * time.Second
	}
	rollout := otaflow.CampaignPolicy{Abort: otaflow.AbortPolicy{Rules: []otaflow.AbortRule{
		{FailureType: otaflow.FailureTimedOut, ThresholdPercent: 50, MinFinished: 4}}}}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(1, rollout))
	s.Equal(model.CampaignCompleted, s.result().State, "1 of 1 timed out, but fewer than 4 had finished")
}

func (s *BatchCampaignSuite) TestAbortCancelsInFlightWhenAsked() {
	s.devices = 10
	s.outcome = func(id string, _ int) (model.DeviceState, time.Duration) {
		if id == deviceID(1) {
			return model.StateRejected, time.Second
		}
		return model.StateSucceeded, time.Hour
	}
	rollout := otaflow.CampaignPolicy{Abort: otaflow.AbortPolicy{CancelInFlight: true,
		Rules: []otaflow.AbortRule{{FailureType: otaflow.FailureRejected, ThresholdPercent: 0, MinFinished: 1}}}}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(4, rollout))
	st := s.result()
	s.Equal(model.CampaignAborted, st.State)
	s.Len(s.started, 4)
	s.Equal(3, s.canceled)
	s.Equal(3, st.Waves[0].Canceled, "the in-flight runs were canceled, not left to finish")
	s.Equal(0, st.InFlight)
}

func (s *BatchCampaignSuite) TestPauseThenResume() {
	s.devices = 6
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, 10 * time.Second }
	s.signal(5*time.Second, otaflow.ControlPause)
	s.env.RegisterDelayedCallback(func() {
		q := s.query()
		s.Equal(model.CampaignPaused, q.State)
		s.True(q.Paused)
		s.Equal(2, len(s.started), "in-flight runs finish, nothing new starts while paused")
		s.Equal(0, q.InFlight)
	}, time.Hour)
	s.signal(2*time.Hour, otaflow.ControlResume)
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(2, otaflow.CampaignPolicy{}))
	s.Equal(model.CampaignCompleted, s.result().State)
	s.Len(s.started, 6)
	s.Equal([]model.CampaignState{model.CampaignRunning, model.CampaignPaused, model.CampaignRunning, model.CampaignCompleted}, s.states)
}

func (s *BatchCampaignSuite) TestCancelMidWave() {
	s.devices = 10
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, time.Hour }
	s.signal(time.Minute, otaflow.ControlCancel)
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(3, otaflow.CampaignPolicy{}))
	st := s.result()
	s.Equal(model.CampaignCanceled, st.State)
	s.Len(s.started, 3)
	s.Equal(3, st.Waves[0].Canceled, "in-flight runs were canceled and their outcomes collected")
	s.Require().NotEmpty(s.marked)
	last := s.marked[len(s.marked)-1]
	s.True(last.AllPending, "never-dispatched devices end CANCELED")
	s.Equal(model.StateCanceled, last.State)
}

func (s *BatchCampaignSuite) TestRetryBudgetByFailureType() {
	s.devices = 3
	s.outcome = func(id string, attempt int) (model.DeviceState, time.Duration) {
		switch id {
		case deviceID(1): // fails twice, then succeeds: budget 2
			if attempt <= 2 {
				return model.StateRolledBack, time.Second
			}
		case deviceID(2): // always times out: budget 1
			return model.StateTimedOut, time.Second
		case deviceID(3): // rejected: no budget
			return model.StateRejected, time.Second
		}
		return model.StateSucceeded, time.Second
	}
	rollout := otaflow.CampaignPolicy{Retry: otaflow.RetryBudget{Failed: 2, TimedOut: 1}}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(10, rollout))
	st := s.result()
	s.Equal(model.CampaignCompleted, st.State)
	s.Equal(3, s.rows[deviceID(1)].attempts)
	s.Equal(2, s.rows[deviceID(2)].attempts)
	s.Equal(1, s.rows[deviceID(3)].attempts)
	s.Equal([]string{deviceID(1), deviceID(2), deviceID(1)}, s.retried)
	w := st.Waves[0]
	s.Equal(3, w.Finished)
	s.Equal(1, w.Succeeded)
	s.Equal(1, w.TimedOut)
	s.Equal(1, w.Rejected)
}

func (s *BatchCampaignSuite) TestDeviceHeldByAnotherUpdateIsRejectedNotRetried() {
	s.devices = 3
	s.busy[deviceID(2)] = true
	rollout := otaflow.CampaignPolicy{Retry: otaflow.RetryBudget{Rejected: 3}}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(10, rollout))
	st := s.result()
	s.Equal(model.CampaignCompleted, st.State)
	s.ElementsMatch([]string{deviceID(1), deviceID(3)}, s.started)
	s.Empty(s.retried, "waiting for the other update is not the campaign's job")
	s.Equal(1, st.Waves[0].Rejected)
	s.Equal(2, st.Waves[0].Succeeded)
}

func (s *BatchCampaignSuite) TestMaintenanceWindowHoldsDispatch() {
	s.devices = 2
	start := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) // window opens daily 02:00–03:00 UTC
	s.env.SetStartTime(start)
	rollout := otaflow.CampaignPolicy{Window: &otaflow.MaintenanceWindow{Cron: "0 2 * * *",
		Duration: otaflow.Duration(time.Hour), TimeZone: "UTC"}}
	s.env.RegisterDelayedCallback(func() {
		s.Equal(model.CampaignScheduled, s.query().State)
		s.Empty(s.started)
	}, time.Hour)
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(10, rollout))
	s.Equal(model.CampaignCompleted, s.result().State)
	s.Require().Len(s.startedAt, 2)
	for _, at := range s.startedAt {
		s.Equal(2, at.UTC().Hour(), "dispatched inside the window")
	}
}

func (s *BatchCampaignSuite) TestFixedRatePacesDispatch() {
	s.devices = 5
	rollout := otaflow.CampaignPolicy{Rate: otaflow.RatePolicy{PerMinute: 2}}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(100, rollout))
	s.Equal(model.CampaignCompleted, s.result().State)
	s.Require().Len(s.startedAt, 5)
	span := s.startedAt[4].Sub(s.startedAt[0])
	s.GreaterOrEqual(span, 2*time.Minute-time.Second, "5 dispatches at 2/min take about 2 minutes")
}

func (s *BatchCampaignSuite) TestExponentialRateGrowsWithSuccess() {
	s.devices = 12
	rollout := otaflow.CampaignPolicy{Rate: otaflow.RatePolicy{Exponential: &otaflow.ExponentialRate{
		BasePerMinute: 1, IncrementFactor: 4, AfterSucceeded: 2}}}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(100, rollout))
	s.Equal(model.CampaignCompleted, s.result().State)
	s.Require().Len(s.startedAt, 12)
	first := s.startedAt[2].Sub(s.startedAt[1])
	later := s.startedAt[11].Sub(s.startedAt[10])
	s.Less(later, first, "gaps shrink as successes raise the rate")
}

func (s *BatchCampaignSuite) TestContinuousCampaignPicksUpNewDevices() {
	s.devices = 2
	s.env.RegisterDelayedCallback(func() { s.devices = 4 }, 10*time.Minute)
	s.signal(30*time.Minute, otaflow.ControlCancel)
	in := input(10, otaflow.CampaignPolicy{Continuous: true})
	in.ResolveTargets = true
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, in)
	st := s.result()
	s.Equal(model.CampaignCanceled, st.State, "a continuous campaign runs until canceled")
	s.ElementsMatch([]string{deviceID(1), deviceID(2), deviceID(3), deviceID(4)}, s.started)
	s.Empty(s.finishedWaves, "the last wave of a continuous campaign never finishes")
}

func (s *BatchCampaignSuite) TestIdleCollectionsBackOff() {
	s.devices = 1
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, time.Hour }
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(1, otaflow.CampaignPolicy{}))
	s.Equal(model.CampaignCompleted, s.result().State)
	// One hour of waiting at most 30 s apart, not once a second.
	s.Less(len(s.acks), 3600/int(collectIdleMax/time.Second)+20, "%d collections in an hour", len(s.acks))
}

func decodeContinueAsNew(can *workflow.ContinueAsNewError, out *otaflow.CampaignInput) error {
	args := can.Args()
	if len(args) != 1 {
		return fmt.Errorf("%d continue-as-new arguments", len(args))
	}
	in, ok := args[0].(otaflow.CampaignInput)
	if !ok {
		return fmt.Errorf("continue-as-new argument %T", args[0])
	}
	*out = in
	return nil
}
