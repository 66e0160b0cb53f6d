package otaupdate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.uber.org/cadence"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

var testInput = otaflow.UpdateDeviceInput{
	TenantID: "tenant-1", DeviceID: "dev-1", CampaignID: "camp-1",
	Firmware: otaflow.FirmwareRef{ID: "fw-1", Version: "1.1.0", HardwareModel: "board", SHA256: "abc", SizeBytes: 10},
	Policy: otaflow.UpdatePolicy{HeartbeatMaxAge: time.Minute, ReadyRetryWindow: time.Minute, StepTimeout: time.Minute,
		UpdateTimeout: 10 * time.Minute, RollbackTimeout: time.Minute, CommandTTL: time.Hour},
}

type WorkflowSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	commands  []otaflow.CommandRequest
	outcome   *otaflow.OutcomeRequest
	sendErr   error
	sendHook  func() error
	verifyErr error
}

func TestWorkflowSuite(t *testing.T) { suite.Run(t, new(WorkflowSuite)) }

func (s *WorkflowSuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.commands, s.outcome, s.sendErr, s.sendHook, s.verifyErr = nil, nil, nil, nil, nil
	s.env.OnActivity(otaflow.ActivitySendMQTTCommand, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.CommandRequest) error {
			if s.sendErr != nil {
				return s.sendErr
			}
			if s.sendHook != nil {
				if err := s.sendHook(); err != nil {
					return err
				}
			}
			s.commands = append(s.commands, req)
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityRollback, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.CommandRequest) error {
			s.commands = append(s.commands, req)
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityUpdateDevice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.OutcomeRequest) error { s.outcome = &req; return nil }).Maybe()
	s.env.OnActivity(otaflow.ActivityVerifyFirmware, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ otaflow.VerifyRequest) error { return s.verifyErr }).Maybe()
}

func (s *WorkflowSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

func (s *WorkflowSuite) ready(current string) {
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).
		Return(otaflow.ReadyCheck{Ready: true, CurrentVersion: current}, nil).Once()
}

// report sends a device report for command number seq after delay.
func (s *WorkflowSuite) report(delay time.Duration, seq int, status otaflow.ReportStatus, mutate ...func(*otaflow.DeviceReport)) {
	s.env.RegisterDelayedCallback(func() {
		r := otaflow.DeviceReport{CommandID: otaflow.CommandID(s.runID(), seq), Status: status,
			FirmwareVersion: "1.1.0", ImageSHA256: "abc"}
		for _, m := range mutate {
			m(&r)
		}
		s.env.SignalWorkflow(otaflow.SignalDeviceReport, r)
	}, delay)
}

// testRunID is the run id the Cadence test environment gives every execution.
const testRunID = "default-test-run-id"

func (s *WorkflowSuite) runID() string { return testRunID }

func (s *WorkflowSuite) result() otaflow.UpdateDeviceResult {
	s.True(s.env.IsWorkflowCompleted())
	s.NoError(s.env.GetWorkflowError())
	var res otaflow.UpdateDeviceResult
	s.NoError(s.env.GetWorkflowResult(&res))
	return res
}

func (s *WorkflowSuite) states() []model.DeviceState {
	v, err := s.env.QueryWorkflow(otaflow.QueryState)
	s.Require().NoError(err)
	var st otaflow.DeviceRunState
	s.Require().NoError(v.Get(&st))
	out := make([]model.DeviceState, len(st.History))
	for i, h := range st.History {
		out[i] = h.State
	}
	return out
}

func (s *WorkflowSuite) TestHappyPath() {
	s.ready("1.0.0")
	s.report(time.Second, otaflow.CommandSeqUpdate, otaflow.ReportAccepted)
	s.report(2*time.Second, otaflow.CommandSeqUpdate, otaflow.ReportDownloading, func(r *otaflow.DeviceReport) { r.ProgressPercent = 50 })
	s.report(3*time.Second, otaflow.CommandSeqUpdate, otaflow.ReportInstalling)
	s.report(4*time.Second, otaflow.CommandSeqUpdate, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)

	res := s.result()
	s.Equal(model.StateSucceeded, res.State)
	s.Equal("1.0.0", res.FromVersion)
	s.Equal([]model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded, model.StateDownloading,
		model.StateInstalling, model.StateVerifying, model.StateSucceeded}, s.states())
	s.Require().Len(s.commands, 1)
	s.Equal("1.0.0", s.commands[0].RollbackVersion)
	s.Require().NotNil(s.outcome)
	s.True(s.outcome.Installed)
	s.Equal(model.StateSucceeded, s.outcome.State)
}

func (s *WorkflowSuite) TestReportsForOtherCommandsAreIgnored() {
	s.ready("1.0.0")
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(otaflow.SignalDeviceReport, otaflow.DeviceReport{CommandID: "old-run:1", Status: otaflow.ReportFailed})
	}, time.Second)
	s.report(2*time.Second, otaflow.CommandSeqUpdate, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
}

func (s *WorkflowSuite) TestNotEligibleIsRejectedWithoutCommand() {
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).
		Return(otaflow.ReadyCheck{Reason: otaflow.ReasonHardwareMismatch, CurrentVersion: "1.0.0"}, nil).Once()
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateRejected, res.State)
	s.Equal(otaflow.ReasonHardwareMismatch, res.Reason)
	s.Empty(s.commands)
	s.Equal(model.StateRejected, s.outcome.State)
}

func (s *WorkflowSuite) TestOfflineIsRetriedThenRejected() {
	calls := 0
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ otaflow.UpdateDeviceInput) (otaflow.ReadyCheck, error) {
			calls++
			return otaflow.ReadyCheck{Reason: otaflow.ReasonOffline, CurrentVersion: "1.0.0"}, nil
		})
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateRejected, res.State)
	s.Equal(otaflow.ReasonOffline, res.Reason)
	s.Greater(calls, 1, "an offline device is retried within the ready window")
	s.Empty(s.commands)
}

func (s *WorkflowSuite) TestOfflineDeviceComingOnlineIsUpdated() {
	calls := 0
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ otaflow.UpdateDeviceInput) (otaflow.ReadyCheck, error) {
			calls++
			if calls < 3 {
				return otaflow.ReadyCheck{Reason: otaflow.ReasonOffline, CurrentVersion: "1.0.0"}, nil
			}
			return otaflow.ReadyCheck{Ready: true, CurrentVersion: "1.0.0"}, nil
		})
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(otaflow.SignalDeviceReport, otaflow.DeviceReport{
			CommandID: otaflow.CommandID(testRunID, otaflow.CommandSeqUpdate), Status: otaflow.ReportInstalled, FirmwareVersion: "1.1.0", ImageSHA256: "abc"})
	}, 50*time.Second)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
	s.Equal(3, calls)
}

func (s *WorkflowSuite) TestAlreadyOnTargetSucceedsWithoutCommand() {
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).
		Return(otaflow.ReadyCheck{AlreadyOnTarget: true, CurrentVersion: "1.1.0"}, nil).Once()
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateSucceeded, res.State)
	s.Equal(otaflow.ReasonAlreadyOnTarget, res.Reason)
	s.Empty(s.commands)
}

func (s *WorkflowSuite) TestTransientFailureFallsBackToRegularActivity() {
	s.ready("1.0.0")
	attempts := 0
	s.env.OnActivity(otaflow.ActivityRollback, mock.Anything, mock.Anything).Return(nil).Maybe()
	s.sendHook = func() error {
		attempts++
		if attempts <= 3 { // every local attempt fails: the broker is briefly away
			return errors.New("mqtt: not connected")
		}
		return nil
	}
	s.report(time.Minute, otaflow.CommandSeqUpdate, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
	s.Equal(4, attempts, "three local attempts, then the regular activity")
}

func (s *WorkflowSuite) TestCommandNotDeliveredFails() {
	s.ready("1.0.0")
	s.sendErr = cadence.NewCustomError(ErrReasonPermanent, "broker refused")
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateFailed, res.State)
	s.Contains(res.Reason, "command_not_delivered")
}

func (s *WorkflowSuite) TestDeviceFailureRollsBack() {
	s.ready("1.0.0")
	s.report(time.Second, otaflow.CommandSeqUpdate, otaflow.ReportDownloading)
	s.report(2*time.Second, otaflow.CommandSeqUpdate, otaflow.ReportFailed, func(r *otaflow.DeviceReport) { r.ErrorCode = "install_failed" })
	s.report(3*time.Second, otaflow.CommandSeqRollback, otaflow.ReportRolledBack, func(r *otaflow.DeviceReport) { r.FirmwareVersion = "1.0.0" })
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)

	res := s.result()
	s.Equal(model.StateRolledBack, res.State)
	s.Contains(res.Reason, "install_failed")
	s.Require().Len(s.commands, 2)
	s.Equal(otaflow.CommandID(s.runID(), otaflow.CommandSeqRollback), s.commands[1].CommandID)
	s.Equal("1.0.0", s.commands[1].RollbackVersion)
	s.False(s.outcome.Installed)
	s.Equal([]model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded, model.StateDownloading,
		model.StateRollingBack, model.StateRolledBack}, s.states())
}

func (s *WorkflowSuite) TestUnconfirmedRollbackFails() {
	s.ready("1.0.0")
	s.report(time.Second, otaflow.CommandSeqUpdate, otaflow.ReportFailed)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateFailed, res.State)
	s.Contains(res.Reason, otaflow.ReasonRollbackNoAnswer)
}

func (s *WorkflowSuite) TestVerificationMismatchRollsBack() {
	s.ready("1.0.0")
	s.verifyErr = cadence.NewCustomError(ErrReasonVerifyMismatch, "sha256 mismatch")
	s.report(time.Second, otaflow.CommandSeqUpdate, otaflow.ReportInstalled, func(r *otaflow.DeviceReport) { r.ImageSHA256 = "evil" })
	s.report(2*time.Second, otaflow.CommandSeqRollback, otaflow.ReportRolledBack)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateRolledBack, res.State)
	s.Contains(res.Reason, otaflow.ReasonVerifyMismatch)
}

func (s *WorkflowSuite) TestSilentDeviceTimesOut() {
	s.ready("1.0.0")
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateTimedOut, res.State)
	s.Equal(otaflow.ReasonNoReport, res.Reason)
	s.Require().Len(s.commands, 2, "a cancel command follows the timeout")
	s.Equal(s.commands[0].CommandID, s.commands[1].CancelsCommand)
}

func (s *WorkflowSuite) TestSlowDeviceHitsOverallTimeout() {
	s.ready("1.0.0")
	// A progress report every 50 s keeps each step alive; the 10-minute bound still ends it.
	for i := 1; i <= 20; i++ {
		s.report(time.Duration(i)*50*time.Second, otaflow.CommandSeqUpdate, otaflow.ReportDownloading)
	}
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateTimedOut, res.State)
	s.Equal(otaflow.ReasonUpdateTimeout, res.Reason)
}

func (s *WorkflowSuite) TestDeviceRejects() {
	s.ready("1.0.0")
	s.report(time.Second, otaflow.CommandSeqUpdate, otaflow.ReportRejected, func(r *otaflow.DeviceReport) { r.ErrorCode = "expired" })
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateRejected, res.State)
	s.Contains(res.Reason, "expired")
}

func (s *WorkflowSuite) TestCancelWhileWaitingSendsCancel() {
	s.ready("1.0.0")
	s.report(time.Second, otaflow.CommandSeqUpdate, otaflow.ReportDownloading)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 5*time.Second)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.True(s.env.IsWorkflowCompleted())
	s.Require().NotNil(s.outcome, "the outcome is recorded even when canceled")
	s.Equal(model.StateCanceled, s.outcome.State)
	s.Require().Len(s.commands, 2)
	s.Equal(s.commands[0].CommandID, s.commands[1].CancelsCommand)
}

func (s *WorkflowSuite) TestQueryShowsLiveState() {
	s.ready("1.0.0")
	s.report(time.Second, otaflow.CommandSeqUpdate, otaflow.ReportDownloading, func(r *otaflow.DeviceReport) { r.ProgressPercent = 40 })
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(otaflow.QueryState)
		s.Require().NoError(err)
		var st otaflow.DeviceRunState
		s.Require().NoError(v.Get(&st))
		s.Equal(model.StateDownloading, st.State)
		s.Equal(40, st.ProgressPercent)
		s.Equal("1.1.0", st.TargetVersion)
	}, 2*time.Second)
	s.report(3*time.Second, otaflow.CommandSeqUpdate, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
}
