package campaign

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.uber.org/cadence/encoded"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// ChildCampaignSuite runs OTA_CAMPAIGN as campaigns that began before batch dispatch
// replay it — one child run per device — against mocked activities and stand-in device
// runs whose outcome (and duration) each test chooses per device.
type ChildCampaignSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	devices   int
	outcome   func(deviceID string, attempt int) (model.DeviceState, time.Duration)
	states    []model.CampaignState
	marked    []otaflow.MarkCampaignDevicesRequest
	started   []string
	startedAt []time.Time
	attempts  map[string]int
	retried   []string
	waves     []otaflow.AssignWaveRequest
	inFlight  int
	peak      int
}

func TestChildCampaignSuite(t *testing.T) { suite.Run(t, new(ChildCampaignSuite)) }

func deviceID(seq int) string { return fmt.Sprintf("dev-%05d", seq) }

func (s *ChildCampaignSuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.devices = 0
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, time.Second }
	s.states, s.marked, s.started, s.startedAt, s.retried, s.waves = nil, nil, nil, nil, nil, nil
	s.attempts, s.inFlight, s.peak = map[string]int{}, 0, 0

	// A stand-in device run (not a mock) so cancellation reaches it as it would on a server.
	s.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in otaflow.UpdateDeviceInput) (otaflow.UpdateDeviceResult, error) {
		s.attempts[in.DeviceID]++
		s.started = append(s.started, in.DeviceID)
		s.startedAt = append(s.startedAt, workflow.Now(ctx))
		st, d := s.outcome(in.DeviceID, s.attempts[in.DeviceID])
		if err := workflow.Sleep(ctx, d); err != nil {
			return otaflow.UpdateDeviceResult{State: model.StateCanceled}, nil
		}
		return otaflow.UpdateDeviceResult{State: st}, nil
	}, workflow.RegisterOptions{Name: otaflow.UpdateDeviceWorkflow})
	s.env.OnGetVersion(changeBatchDispatch, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	s.env.OnActivity(otaflow.ActivityResolveTargets, mock.Anything, mock.Anything).Return(
		func(context.Context, otaflow.ResolveTargetsRequest) (int, error) { return s.devices, nil }).Maybe()
	s.env.OnActivity(otaflow.ActivityListCampaignDevices, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error) {
			var page []otaflow.CampaignDeviceRef
			for seq := r.AfterSeq + 1; seq <= s.devices && len(page) < r.Limit; seq++ {
				page = append(page, otaflow.CampaignDeviceRef{Seq: seq, DeviceID: deviceID(seq)})
			}
			return page, nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivitySetCampaignState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.SetCampaignStateRequest) error {
			s.states = append(s.states, r.State)
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityMarkCampaignDevices, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.MarkCampaignDevicesRequest) error {
			s.marked = append(s.marked, r)
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityAssignWave, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.AssignWaveRequest) error { s.waves = append(s.waves, r); return nil }).Maybe()
	s.env.OnActivity(otaflow.ActivityRetryDevice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.RetryDeviceRequest) error {
			s.retried = append(s.retried, r.DeviceID)
			return nil
		}).Maybe()
	s.env.SetOnChildWorkflowStartedListener(func(*workflow.Info, workflow.Context, encoded.Values) {
		s.inFlight++
		s.peak = max(s.peak, s.inFlight)
	})
	s.env.SetOnChildWorkflowCompletedListener(func(*workflow.Info, encoded.Value, error) { s.inFlight-- })
}

func input(maxInFlight int, rollout otaflow.CampaignPolicy) otaflow.CampaignInput {
	return otaflow.CampaignInput{TenantID: "t", CampaignID: "c", MaxInFlight: maxInFlight, Rollout: rollout,
		Firmware: otaflow.FirmwareRef{ID: "fw", Version: "1.0.0"}, ContinuousRefresh: time.Minute}
}

func (s *ChildCampaignSuite) result() otaflow.CampaignRunState {
	s.True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var st otaflow.CampaignRunState
	s.Require().NoError(s.env.GetWorkflowResult(&st))
	return st
}

func (s *ChildCampaignSuite) query() otaflow.CampaignRunState {
	v, err := s.env.QueryWorkflow(otaflow.QueryState)
	s.Require().NoError(err)
	var st otaflow.CampaignRunState
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *ChildCampaignSuite) signal(at time.Duration, a otaflow.ControlAction) {
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(otaflow.SignalCampaignControl, otaflow.CampaignControl{Action: a, Reason: "test"})
	}, at)
}

func (s *ChildCampaignSuite) TestDispatchesEveryDeviceWithinConcurrencyLimit() {
	s.devices = 7
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(3, otaflow.CampaignPolicy{}))
	st := s.result()
	s.Equal(model.CampaignCompleted, st.State)
	s.Equal(7, st.Dispatched)
	s.Equal(7, st.Finished)
	s.Len(s.started, 7)
	s.LessOrEqual(s.peak, 3, "never more than MaxInFlight children at once")
	s.Equal([]model.CampaignState{model.CampaignRunning, model.CampaignCompleted}, s.states)
}

func (s *ChildCampaignSuite) TestWavesAdvanceWhenGatePasses() {
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
	s.Equal(2, st.Waves[0].Succeeded)
	s.ElementsMatch([]otaflow.AssignWaveRequest{
		{TenantID: "t", CampaignID: "c", Wave: 0, FromSeq: 1, ToSeq: 2},
		{TenantID: "t", CampaignID: "c", Wave: 1, FromSeq: 3, ToSeq: 10},
		{TenantID: "t", CampaignID: "c", Wave: 2, FromSeq: 11, ToSeq: 20},
	}, s.waves)
	// No device of wave 1 starts before the canary wave has finished.
	s.ElementsMatch([]string{deviceID(1), deviceID(2)}, s.started[:2])
	s.True(s.startedAt[2].After(s.startedAt[1]))
}

func (s *ChildCampaignSuite) TestFailedGateWaitsForApproval() {
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
}

func (s *ChildCampaignSuite) TestManualGateAlwaysWaits() {
	s.devices = 3
	rollout := otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Count: 1}, {Percent: 100}},
		Gate: otaflow.GatePolicy{Mode: otaflow.GateManual}}
	s.env.RegisterDelayedCallback(func() { s.Equal(model.CampaignWaitingApproval, s.query().State) }, time.Hour)
	s.signal(90*time.Minute, otaflow.ControlApprove)
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(10, rollout))
	s.Equal(model.CampaignCompleted, s.result().State)
	s.Len(s.started, 3)
}

func (s *ChildCampaignSuite) TestFailingCanaryAbortsTheRest() {
	s.devices = 50
	s.outcome = func(id string, _ int) (model.DeviceState, time.Duration) {
		return model.StateFailed, time.Second
	}
	rollout := otaflow.CampaignPolicy{
		Waves: []otaflow.Wave{{Name: "canary", Count: 5}, {Percent: 100}},
		Abort: otaflow.AbortPolicy{Rules: []otaflow.AbortRule{{FailureType: otaflow.FailureAll, ThresholdPercent: 20, MinFinished: 3}}},
	}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(5, rollout))
	st := s.result()
	s.Equal(model.CampaignAborted, st.State)
	s.Contains(st.Reason, "ALL failures")
	s.Len(s.started, 5, "nothing after the canary is dispatched")
	s.Require().NotEmpty(s.marked)
	last := s.marked[len(s.marked)-1]
	s.True(last.AllPending)
	s.Equal(model.StateCanceled, last.State)
	s.Equal(otaflow.ReasonCampaignAborted, last.Reason)
}

func (s *ChildCampaignSuite) TestAbortWaitsForMinimumFinished() {
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

func (s *ChildCampaignSuite) TestAbortCancelsInFlightWhenAsked() {
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
	s.Equal(3, st.Waves[0].Canceled, "the in-flight runs were canceled, not left to finish")
}

func (s *ChildCampaignSuite) TestPauseThenResume() {
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

func (s *ChildCampaignSuite) TestCancelMidWave() {
	s.devices = 10
	s.outcome = func(string, int) (model.DeviceState, time.Duration) { return model.StateSucceeded, time.Hour }
	s.signal(time.Minute, otaflow.ControlCancel)
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(3, otaflow.CampaignPolicy{}))
	st := s.result()
	s.Equal(model.CampaignCanceled, st.State)
	s.Len(s.started, 3)
	s.Equal(3, st.Waves[0].Canceled, "in-flight runs were canceled and waited for")
	s.Require().NotEmpty(s.marked)
	last := s.marked[len(s.marked)-1]
	s.True(last.AllPending, "never-dispatched devices end CANCELED")
	s.Equal(model.StateCanceled, last.State)
}

func (s *ChildCampaignSuite) TestRetryBudgetByFailureType() {
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
	s.Equal(3, s.attempts[deviceID(1)])
	s.Equal(2, s.attempts[deviceID(2)])
	s.Equal(1, s.attempts[deviceID(3)])
	s.Equal([]string{deviceID(1), deviceID(2), deviceID(1)}, s.retried)
	w := st.Waves[0]
	s.Equal(3, w.Finished)
	s.Equal(1, w.Succeeded)
	s.Equal(1, w.TimedOut)
	s.Equal(1, w.Rejected)
}

func (s *ChildCampaignSuite) TestMaintenanceWindowHoldsDispatch() {
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

func (s *ChildCampaignSuite) TestFixedRatePacesDispatch() {
	s.devices = 5
	rollout := otaflow.CampaignPolicy{Rate: otaflow.RatePolicy{PerMinute: 2}}
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(100, rollout))
	s.Equal(model.CampaignCompleted, s.result().State)
	s.Require().Len(s.startedAt, 5)
	span := s.startedAt[4].Sub(s.startedAt[0])
	s.GreaterOrEqual(span, 2*time.Minute-time.Second, "5 dispatches at 2/min take about 2 minutes")
}

func (s *ChildCampaignSuite) TestExponentialRateGrowsWithSuccess() {
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

func (s *ChildCampaignSuite) TestContinuousCampaignPicksUpNewDevices() {
	s.devices = 2
	s.env.RegisterDelayedCallback(func() { s.devices = 4 }, 10*time.Minute)
	s.signal(30*time.Minute, otaflow.ControlCancel)
	rollout := otaflow.CampaignPolicy{Continuous: true}
	in := input(10, rollout)
	in.ResolveTargets = true
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, in)
	st := s.result()
	s.Equal(model.CampaignCanceled, st.State, "a continuous campaign runs until canceled")
	s.ElementsMatch([]string{deviceID(1), deviceID(2), deviceID(3), deviceID(4)}, s.started)
}

func (s *ChildCampaignSuite) TestLargeCampaignContinuesAsNew() {
	s.devices = defaultChildrenPerRun + 3*pageSize
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(200, otaflow.CampaignPolicy{}))
	s.True(s.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	s.Len(s.started, defaultChildrenPerRun, "the first run drains exactly its share, then continues")
	s.Equal([]model.CampaignState{model.CampaignRunning}, s.states, "not completed before the continuation")
}
