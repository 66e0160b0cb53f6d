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
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

var testInput = otaflow.UpdateDeviceInput{
	TenantID: "tenant-1", DeviceID: "dev-1", CampaignID: "camp-1",
	Firmware: otaflow.FirmwareRef{ID: "fw-1", Version: "1.1.0", HardwareModel: "board", SHA256: "abc", SizeBytes: 10},
	Policy: otaflow.UpdatePolicy{HeartbeatMaxAge: time.Minute, ReadyRetryWindow: time.Minute, StepTimeout: time.Minute,
		UpdateTimeout: 10 * time.Minute, RollbackTimeout: time.Minute, CommandTTL: time.Hour, ProbeAfter: 10 * time.Second},
}

type WorkflowSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// deviceTruth runs the suite on the version before changeQuietProgress, whose update
	// command is not quiet; updateSeq is the update command's number either way.
	deviceTruth bool
	updateSeq   int
	// recorded is the progress read_run_progress finds (nil: none recorded).
	recorded func() otaflow.RunProgress

	commands  []otaflow.CommandRequest
	outcome   *otaflow.OutcomeRequest
	sendErr   error
	sendHook  func() error
	verifyErr error
	// answer, when set, is how the device answers a status request (nil: it does not).
	answer func(req otaflow.CommandRequest) *otaflow.DeviceReport
	probes []otaflow.CommandRequest
	health func() otaflow.DeviceHealth
}

func TestWorkflowSuite(t *testing.T) { suite.Run(t, new(WorkflowSuite)) }

// TestWorkflowSuiteDeviceTruth: runs started before changeQuietProgress keep every
// behaviour.
func TestWorkflowSuiteDeviceTruth(t *testing.T) { suite.Run(t, &WorkflowSuite{deviceTruth: true}) }

func (s *WorkflowSuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.commands, s.outcome, s.sendErr, s.sendHook, s.verifyErr = nil, nil, nil, nil, nil
	s.answer, s.probes, s.health, s.recorded = nil, nil, nil, nil
	s.updateSeq = otaflow.CommandSeqQuietUpdate
	if s.deviceTruth {
		s.updateSeq = otaflow.CommandSeqUpdate
		s.env.OnGetVersion(changeQuietProgress, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	}
	s.env.OnActivity(otaflow.ActivityRunProgress, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.RunProgressRequest) (otaflow.RunProgress, error) {
			s.Require().False(s.deviceTruth, "only quiet runs read recorded progress")
			if s.recorded == nil {
				return otaflow.RunProgress{}, nil
			}
			return s.recorded(), nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivitySendMQTTCommand, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.CommandRequest) error {
			if req.RequestStatus {
				s.probes = append(s.probes, req)
				if s.answer != nil {
					if rep := s.answer(req); rep != nil {
						rep.Restated, rep.RequestID = true, req.CommandID
						s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(otaflow.SignalDeviceReport, *rep) }, time.Second)
					}
				}
				return nil
			}
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
	s.env.OnActivity(otaflow.ActivityCheckDeviceHealth, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ otaflow.HealthRequest) (otaflow.DeviceHealth, error) {
			return s.health(), nil
		}).Maybe()
}

// updates returns the UPDATE commands sent.
func (s *WorkflowSuite) updates() []otaflow.CommandRequest {
	var out []otaflow.CommandRequest
	for _, c := range s.commands {
		if c.CommandID == otaflow.CommandID(testRunID, s.updateSeq) {
			out = append(out, c)
		}
	}
	return out
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
	s.report(time.Second, s.updateSeq, otaflow.ReportAccepted)
	s.report(2*time.Second, s.updateSeq, otaflow.ReportDownloading, func(r *otaflow.DeviceReport) { r.ProgressPercent = 50 })
	s.report(3*time.Second, s.updateSeq, otaflow.ReportInstalling)
	s.report(4*time.Second, s.updateSeq, otaflow.ReportInstalled)
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

// TestUpdateCommandSaysWhetherItMayDowngrade: the device installs a lower version or
// release counter only when the manifest says rollback, which only allow_downgrade sets.
func (s *WorkflowSuite) TestUpdateCommandSaysWhetherItMayDowngrade() {
	for _, allow := range []bool{false, true} {
		s.SetupTest()
		in := testInput
		in.Policy.AllowDowngrade = allow
		s.ready("1.2.0")
		s.report(time.Second, s.updateSeq, otaflow.ReportInstalled)
		s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, in)
		s.Equal(model.StateSucceeded, s.result().State)
		s.Require().Len(s.updates(), 1)
		s.Equal(allow, s.updates()[0].AllowDowngrade, "allow_downgrade %v", allow)
	}
}

func (s *WorkflowSuite) TestReportsForOtherCommandsAreIgnored() {
	s.ready("1.0.0")
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(otaflow.SignalDeviceReport, otaflow.DeviceReport{CommandID: "old-run:1", Status: otaflow.ReportFailed})
	}, time.Second)
	s.report(2*time.Second, s.updateSeq, otaflow.ReportInstalled)
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
			CommandID: otaflow.CommandID(testRunID, s.updateSeq), Status: otaflow.ReportInstalled, FirmwareVersion: "1.1.0", ImageSHA256: "abc"})
	}, 50*time.Second)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
	s.Equal(3, calls)
}

func (s *WorkflowSuite) TestDeviceOnTargetConfirmsInAnswerToItsCommand() {
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).
		Return(otaflow.ReadyCheck{Ready: true, ReportsTarget: true, CurrentVersion: "1.1.0"}, nil).Once()
	s.report(time.Second, s.updateSeq, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateSucceeded, res.State)
	s.Equal(otaflow.ReasonAlreadyOnTarget, res.Reason)
	s.Len(s.updates(), 1, "the device is commanded even though it claims the target")
}

func (s *WorkflowSuite) TestVersionClaimWithoutAnAnswerNeverSucceeds() {
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).
		Return(otaflow.ReadyCheck{Ready: true, ReportsTarget: true, CurrentVersion: "1.1.0"}, nil).Once()
	// A report naming another run's command claims the target too: it counts for nothing.
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(otaflow.SignalDeviceReport, otaflow.DeviceReport{
			CommandID: "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:1", Status: otaflow.ReportInstalled, FirmwareVersion: "1.1.0", ImageSHA256: "abc"})
	}, time.Second)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateTimedOut, res.State)
	s.False(s.outcome.Installed)
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
	s.report(time.Minute, s.updateSeq, otaflow.ReportInstalled)
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
	s.report(time.Second, s.updateSeq, otaflow.ReportDownloading)
	s.report(2*time.Second, s.updateSeq, otaflow.ReportFailed, func(r *otaflow.DeviceReport) { r.ErrorCode = "install_failed" })
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
	s.report(time.Second, s.updateSeq, otaflow.ReportFailed)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateFailed, res.State)
	s.Contains(res.Reason, otaflow.ReasonRollbackNoAnswer)
}

func (s *WorkflowSuite) TestVerificationMismatchRollsBack() {
	s.ready("1.0.0")
	s.verifyErr = cadence.NewCustomError(ErrReasonVerifyMismatch, "sha256 mismatch")
	s.report(time.Second, s.updateSeq, otaflow.ReportInstalled, func(r *otaflow.DeviceReport) { r.ImageSHA256 = "evil" })
	s.report(2*time.Second, otaflow.CommandSeqRollback, otaflow.ReportRolledBack)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateRolledBack, res.State)
	s.Contains(res.Reason, otaflow.ReasonVerifyMismatch)
}

func (s *WorkflowSuite) TestSilentDeviceIsAskedThenTimesOut() {
	s.ready("1.0.0")
	start := s.env.Now()
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateTimedOut, res.State)
	s.Equal(otaflow.ReasonNoReport, res.Reason)
	s.Require().Len(s.commands, 2, "a cancel command follows the timeout")
	s.Equal(s.commands[0].CommandID, s.commands[1].CancelsCommand)
	// Asked at 10 s, 20 s, 40 s (backing off), and once more at the step's end.
	s.Require().Len(s.probes, 4)
	last := s.probes[len(s.probes)-1]
	s.False(last.IssuedAt.Before(start.Add(testInput.Policy.StepTimeout)), "the last ask comes at the step's end")
	s.NotEqual(s.probes[0].CommandID, s.probes[1].CommandID, "every status request has its own id")
}

func (s *WorkflowSuite) TestMissedFinalReportIsRecoveredBySeconds() {
	s.ready("1.0.0")
	start := s.env.Now()
	s.report(time.Second, s.updateSeq, otaflow.ReportDownloading)
	// The INSTALLED report was lost (no worker listening); asked, the device restates it.
	s.answer = func(otaflow.CommandRequest) *otaflow.DeviceReport {
		return &otaflow.DeviceReport{CommandID: otaflow.CommandID(testRunID, s.updateSeq),
			Status: otaflow.ReportInstalled, FirmwareVersion: "1.1.0", ImageSHA256: "abc"}
	}
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
	s.Len(s.probes, 1)
	s.Less(s.env.Now().Sub(start), 20*time.Second, "recovered in seconds, long before the step timeout")
	s.Equal("1.1.0", s.outcome.RunningVersion)
}

func (s *WorkflowSuite) TestCommandTheDeviceNeverGotIsSentAgainOnce() {
	s.ready("1.0.0")
	answers := 0
	s.answer = func(otaflow.CommandRequest) *otaflow.DeviceReport {
		answers++
		if answers == 1 { // knows no command: the UPDATE was lost on its way
			return &otaflow.DeviceReport{FirmwareVersion: "1.0.0"}
		}
		return nil
	}
	s.env.RegisterDelayedCallback(func() {
		s.Require().Len(s.updates(), 2, "resent after the answer")
		s.report(time.Second, s.updateSeq, otaflow.ReportInstalled)
	}, 15*time.Second)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
	s.Len(s.updates(), 2)
	s.Equal(s.updates()[0].CommandID, s.updates()[1].CommandID, "the same command: a device that had it drops the copy")
	s.Equal(s.updates()[0].IssuedAt, s.updates()[1].IssuedAt)
}

func (s *WorkflowSuite) TestCommandNeverReceivedTwiceTimesOut() {
	s.ready("1.0.0")
	s.answer = func(otaflow.CommandRequest) *otaflow.DeviceReport {
		return &otaflow.DeviceReport{CommandID: "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:1", Status: otaflow.ReportInstalled,
			FirmwareVersion: "0.9.0"}
	}
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateTimedOut, res.State)
	s.Equal(otaflow.ReasonCommandNotReceived, res.Reason)
	s.Len(s.updates(), 2)
	s.Equal("0.9.0", s.outcome.RunningVersion, "the record follows what the device said it runs")
}

func (s *WorkflowSuite) TestDeviceStillWorkingIsAskedLessAndLess() {
	s.ready("1.0.0")
	s.answer = func(otaflow.CommandRequest) *otaflow.DeviceReport {
		return &otaflow.DeviceReport{CommandID: otaflow.CommandID(testRunID, s.updateSeq),
			Status: otaflow.ReportDownloading, ProgressPercent: 10}
	}
	s.report(5*time.Minute, s.updateSeq, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
	s.Less(len(s.probes), 12, "answers keep the device alive, the asks back off")
}

func (s *WorkflowSuite) TestLateProgressNeverMovesBack() {
	s.ready("1.0.0")
	s.report(time.Second, s.updateSeq, otaflow.ReportInstalling)
	s.report(2*time.Second, s.updateSeq, otaflow.ReportAccepted)
	s.report(3*time.Second, s.updateSeq, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal([]model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded, model.StateInstalling,
		model.StateVerifying, model.StateSucceeded}, s.states())
}

func (s *WorkflowSuite) TestRollbackAnswerRecoveredByAsking() {
	s.ready("1.0.0")
	s.report(time.Second, s.updateSeq, otaflow.ReportFailed, func(r *otaflow.DeviceReport) { r.ErrorCode = "install_failed" })
	s.answer = func(otaflow.CommandRequest) *otaflow.DeviceReport {
		return &otaflow.DeviceReport{CommandID: otaflow.CommandID(testRunID, otaflow.CommandSeqRollback),
			Status: otaflow.ReportRolledBack, FirmwareVersion: "1.0.0"}
	}
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateRolledBack, s.result().State)
	s.Equal("1.0.0", s.outcome.RunningVersion)
}

func soakInput(soak time.Duration) otaflow.UpdateDeviceInput {
	in := testInput
	in.Policy.Soak, in.Policy.SoakMaxReboots = soak, 1
	return in
}

func (s *WorkflowSuite) TestSoakHealthySucceeds() {
	s.ready("1.0.0")
	s.report(time.Second, s.updateSeq, otaflow.ReportInstalled, func(r *otaflow.DeviceReport) { r.BootCount = 5 })
	checks := 0
	s.health = func() otaflow.DeviceHealth {
		checks++
		seen := s.env.Now().Add(-time.Second)
		return otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: &seen, BootCount: 5}
	}
	start := s.env.Now()
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, soakInput(5*time.Minute))
	s.Equal(model.StateSucceeded, s.result().State)
	s.GreaterOrEqual(s.env.Now().Sub(start), 5*time.Minute, "not before the soak is over")
	s.Greater(checks, 5, "checked all along, not only at the end")
	s.Equal([]model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded,
		model.StateVerifying, model.StateSoaking, model.StateSucceeded}, s.states())
}

func (s *WorkflowSuite) TestSoakFailures() {
	tests := []struct {
		name   string
		health func(now time.Time) otaflow.DeviceHealth
		reason string
	}{
		{"fell back to the old slot", func(now time.Time) otaflow.DeviceHealth {
			return otaflow.DeviceHealth{Found: true, ReportedVersion: "1.0.0", LastSeenAt: &now, BootCount: 6}
		}, otaflow.ReasonSoakFellBack},
		{"reboot loop", func(now time.Time) otaflow.DeviceHealth {
			return otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: &now, BootCount: 9}
		}, otaflow.ReasonSoakRebootLoop},
		{"silent", func(now time.Time) otaflow.DeviceHealth {
			old := now.Add(-time.Hour)
			return otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: &old, BootCount: 5}
		}, otaflow.ReasonSoakSilent},
	}
	for _, tt := range tests {
		s.Run(tt.name, func() {
			s.SetupTest()
			s.ready("1.0.0")
			s.report(time.Second, s.updateSeq, otaflow.ReportInstalled, func(r *otaflow.DeviceReport) { r.BootCount = 5 })
			first := true
			s.health = func() otaflow.DeviceHealth {
				now := s.env.Now()
				if first { // the soak's baseline
					first = false
					return otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: &now, BootCount: 5}
				}
				return tt.health(now)
			}
			s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, soakInput(10*time.Minute))
			res := s.result()
			s.Equal(model.StateFailed, res.State)
			s.Contains(res.Reason, tt.reason)
			s.False(s.outcome.Installed)
		})
	}
}

func (s *WorkflowSuite) TestSoakEndsWhenTheDeviceReportsARevert() {
	s.ready("1.0.0")
	s.report(time.Second, s.updateSeq, otaflow.ReportInstalled)
	s.report(20*time.Second, s.updateSeq, otaflow.ReportRolledBack, func(r *otaflow.DeviceReport) { r.FirmwareVersion = "1.0.0" })
	s.health = func() otaflow.DeviceHealth {
		now := s.env.Now()
		return otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: &now}
	}
	start := s.env.Now()
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, soakInput(time.Hour))
	res := s.result()
	s.Equal(model.StateFailed, res.State)
	s.Contains(res.Reason, otaflow.ReasonSoakFellBack)
	s.Less(s.env.Now().Sub(start), time.Minute)
	s.Equal("1.0.0", s.outcome.RunningVersion)
}

func (s *WorkflowSuite) TestSlowDeviceHitsOverallTimeout() {
	s.ready("1.0.0")
	// A progress report every 50 s keeps each step alive; the 10-minute bound still ends it.
	for i := 1; i <= 20; i++ {
		s.report(time.Duration(i)*50*time.Second, s.updateSeq, otaflow.ReportDownloading)
	}
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateTimedOut, res.State)
	s.Equal(otaflow.ReasonUpdateTimeout, res.Reason)
}

func (s *WorkflowSuite) TestDeviceRejects() {
	s.ready("1.0.0")
	s.report(time.Second, s.updateSeq, otaflow.ReportRejected, func(r *otaflow.DeviceReport) { r.ErrorCode = "expired" })
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateRejected, res.State)
	s.Contains(res.Reason, "expired")
}

func (s *WorkflowSuite) TestCancelWhileWaitingSendsCancel() {
	s.ready("1.0.0")
	s.report(time.Second, s.updateSeq, otaflow.ReportDownloading)
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
	s.report(time.Second, s.updateSeq, otaflow.ReportDownloading, func(r *otaflow.DeviceReport) { r.ProgressPercent = 40 })
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(otaflow.QueryState)
		s.Require().NoError(err)
		var st otaflow.DeviceRunState
		s.Require().NoError(v.Get(&st))
		s.Equal(model.StateDownloading, st.State)
		s.Equal(40, st.ProgressPercent)
		s.Equal("1.1.0", st.TargetVersion)
	}, 2*time.Second)
	s.report(3*time.Second, s.updateSeq, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
}

// TestRecordedProgressKeepsAQuietRunFromAsking: a device that keeps reporting progress
// into the database, never as a signal, is not asked where it stands, and the run's
// state shows what it reported.
func (s *WorkflowSuite) TestRecordedProgressKeepsAQuietRunFromAsking() {
	if s.deviceTruth {
		s.T().Skip("runs before changeQuietProgress get every report as a signal")
	}
	s.ready("1.0.0")
	start := s.env.Now()
	downloading, installing := start.Add(time.Second), start.Add(50*time.Second)
	s.recorded = func() otaflow.RunProgress {
		p := otaflow.RunProgress{CommandID: otaflow.CommandID(testRunID, s.updateSeq), State: model.StateDownloading,
			ProgressPercent: 60, DownloadingAt: &downloading, HeardAt: s.env.Now().Add(-time.Second)}
		if !s.env.Now().Before(installing) {
			p.State, p.InstallingAt = model.StateInstalling, &installing
		}
		return p
	}
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(otaflow.QueryState)
		s.Require().NoError(err)
		var st otaflow.DeviceRunState
		s.Require().NoError(v.Get(&st))
		s.Equal(model.StateInstalling, st.State)
		s.Equal(60, st.ProgressPercent)
	}, 70*time.Second)
	// Silent on the signal channel for longer than the step timeout.
	s.report(90*time.Second, s.updateSeq, otaflow.ReportInstalled)
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	s.Equal(model.StateSucceeded, s.result().State)
	s.Empty(s.probes, "recorded progress spares the status requests")
	s.Equal([]model.DeviceState{model.StatePending, model.StateChecking, model.StateCommanded, model.StateDownloading,
		model.StateInstalling, model.StateVerifying, model.StateSucceeded}, s.states())
}

// TestStaleRecordedProgressDoesNotSpareTheAsk: progress recorded before the run last
// heard from its device says nothing new: the silent device is asked, then timed out.
func (s *WorkflowSuite) TestStaleRecordedProgressDoesNotSpareTheAsk() {
	if s.deviceTruth {
		s.T().Skip("runs before changeQuietProgress get every report as a signal")
	}
	s.ready("1.0.0")
	at := s.env.Now()
	s.recorded = func() otaflow.RunProgress {
		return otaflow.RunProgress{CommandID: otaflow.CommandID(testRunID, s.updateSeq), State: model.StateDownloading,
			DownloadingAt: &at, HeardAt: at}
	}
	s.env.ExecuteWorkflow(otaflow.UpdateDeviceWorkflow, testInput)
	res := s.result()
	s.Equal(model.StateTimedOut, res.State)
	s.Len(s.probes, 4, "asked as if nothing had been recorded")
}
