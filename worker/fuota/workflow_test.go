package fuota

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

type FUOTASuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	polls    int
	statuses []otaflow.FUOTAStatus
	confirms func(call int, ids []string) []bool
	recorded []otaflow.OutcomeRequest
	cleaned  int
	progress []ProgressRequest
	prepared Prepared
}

func TestFUOTASuite(t *testing.T) { suite.Run(t, new(FUOTASuite)) }

var fuotaInput = otaflow.FUOTAInput{
	TenantID: "t", CampaignID: "c", DeviceProfileID: "p",
	Firmware: otaflow.FirmwareRef{ID: "fw", Version: "2.0.0"},
	Devices: []otaflow.FUOTADevice{
		{DeviceID: "d1", DevEUI: "0000000000000001"}, {DeviceID: "d2", DevEUI: "0000000000000002"},
		{DeviceID: "d3", DevEUI: "0000000000000003"}, {DeviceID: "d4", DevEUI: "0000000000000004"},
	},
	Params: otaflow.FUOTAParams{PollInterval: otaflow.Duration(10 * time.Second),
		DeploymentTimeout: otaflow.Duration(10 * time.Minute), ConfirmTimeout: otaflow.Duration(5 * time.Minute)},
}

func (s *FUOTASuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.polls, s.recorded, s.cleaned, s.progress = 0, nil, 0, nil
	s.confirms = func(int, []string) []bool { return nil }
	s.prepared = Prepared{DeploymentID: "dep-1", Rejected: []string{"", "", "", otaflow.ReasonOffline},
		From: []string{"1.0.0", "1.0.0", "1.0.0", "1.0.0"}}
	s.env.OnActivity(otaflow.ActivityFUOTAPrepare, mock.Anything, mock.Anything).Return(
		func(context.Context, PrepareRequest) (Prepared, error) { return s.prepared, nil }).Maybe()
	s.env.OnActivity(otaflow.ActivityFUOTAStart, mock.Anything, mock.Anything).Return(nil).Maybe()
	s.env.OnActivity(otaflow.ActivityFUOTAStatus, mock.Anything, mock.Anything).Return(
		func(context.Context, TenantDeployment) (otaflow.FUOTAStatus, error) {
			st := s.statuses[min(s.polls, len(s.statuses)-1)]
			s.polls++
			return st, nil
		}).Maybe()
	confirmCalls := 0
	s.env.OnActivity(otaflow.ActivityFUOTAConfirm, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r ConfirmRequest) ([]bool, error) {
			confirmCalls++
			out := s.confirms(confirmCalls, r.DeviceIDs)
			if out == nil {
				out = make([]bool, len(r.DeviceIDs))
			}
			return out, nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityFUOTARecord, mock.Anything, mock.Anything).Return(
		func(_ context.Context, o []otaflow.OutcomeRequest) error { s.recorded = o; return nil }).Maybe()
	s.env.OnActivity(otaflow.ActivityFUOTACleanup, mock.Anything, mock.Anything).Return(
		func(context.Context, TenantDeployment) error { s.cleaned++; return nil }).Maybe()
	s.env.OnActivity(otaflow.ActivityFUOTAProgress, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r ProgressRequest) error { s.progress = append(s.progress, r); return nil }).Maybe()
}

func dev(eui string, st model.DeviceState, errMsg string) otaflow.FUOTADeviceStatus {
	return otaflow.FUOTADeviceStatus{DevEUI: eui, State: st, Error: errMsg, Completed: st == model.StateVerifying}
}

func (s *FUOTASuite) states() map[string]model.DeviceState {
	out := map[string]model.DeviceState{}
	for _, o := range s.recorded {
		out[o.DeviceID] = o.State
	}
	return out
}

func (s *FUOTASuite) TestStepsMapToDeviceStatesAndUplinkConfirms() {
	s.statuses = []otaflow.FUOTAStatus{
		{Devices: []otaflow.FUOTADeviceStatus{dev("0000000000000001", model.StateDownloading, ""),
			dev("0000000000000002", model.StateDownloading, ""), dev("0000000000000003", model.StateCommanded, "")}},
		{Devices: []otaflow.FUOTADeviceStatus{dev("0000000000000001", model.StateInstalling, ""),
			dev("0000000000000002", model.StateInstalling, ""), dev("0000000000000003", model.StateCommanded, "")}},
		{Completed: true, Devices: []otaflow.FUOTADeviceStatus{dev("0000000000000001", model.StateVerifying, ""),
			dev("0000000000000002", model.StateVerifying, ""), dev("0000000000000003", model.StateTimedOut, "McGroupSetupReq timeout.")}},
	}
	// d1 confirms its version by uplink at once; d2 never does.
	s.confirms = func(_ int, ids []string) []bool {
		out := make([]bool, len(ids))
		for i, id := range ids {
			out[i] = id == "d1"
		}
		return out
	}
	s.env.ExecuteWorkflow(otaflow.FUOTAWorkflow, fuotaInput)
	s.True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(map[string]model.DeviceState{"d1": model.StateSucceeded, "d2": model.StateTimedOut,
		"d3": model.StateTimedOut, "d4": model.StateRejected}, s.states())
	for _, o := range s.recorded {
		s.Equal(o.State == model.StateSucceeded, o.Installed, o.DeviceID)
		s.Equal("1.0.0", o.FromVersion)
	}
	s.Require().NotEmpty(s.progress, "campaign status follows the steps")
	s.Equal(0, s.cleaned, "a completed deployment is left for audit")
}

func (s *FUOTASuite) TestDeploymentTimeoutEndsStragglers() {
	s.statuses = []otaflow.FUOTAStatus{{Devices: []otaflow.FUOTADeviceStatus{dev("0000000000000001", model.StateDownloading, ""),
		dev("0000000000000002", model.StateVerifying, ""), dev("0000000000000003", model.StateFailed, "FragSessionSetupReq failed")}}}
	s.confirms = func(_ int, ids []string) []bool {
		out := make([]bool, len(ids))
		for i := range ids {
			out[i] = true
		}
		return out
	}
	s.env.ExecuteWorkflow(otaflow.FUOTAWorkflow, fuotaInput)
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(map[string]model.DeviceState{"d1": model.StateTimedOut, "d2": model.StateSucceeded,
		"d3": model.StateFailed, "d4": model.StateRejected}, s.states())
	s.Equal(1, s.cleaned, "a deployment that timed out is removed from ChirpStack")
	s.GreaterOrEqual(s.polls, 50, "it kept polling until the deployment timeout")
}

func (s *FUOTASuite) TestCancelRemovesDeploymentAndRecordsCanceled() {
	s.statuses = []otaflow.FUOTAStatus{{Devices: []otaflow.FUOTADeviceStatus{dev("0000000000000001", model.StateDownloading, "")}}}
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(otaflow.FUOTAWorkflow, fuotaInput)
	s.True(s.env.IsWorkflowCompleted())
	s.Equal(1, s.cleaned)
	st := s.states()
	s.Equal(model.StateCanceled, st["d1"])
	s.Equal(model.StateRejected, st["d4"], "a device left out earlier keeps its reason")
}

func (s *FUOTASuite) TestNoEligibleDeviceSkipsTheDeployment() {
	s.prepared = Prepared{Rejected: []string{otaflow.ReasonAlreadyOnTarget, otaflow.ReasonHardwareMismatch, otaflow.ReasonOffline,
		otaflow.ReasonLowBattery}, From: make([]string, 4)}
	s.env.ExecuteWorkflow(otaflow.FUOTAWorkflow, fuotaInput)
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(0, s.polls, "ChirpStack is never asked")
	s.Equal(map[string]model.DeviceState{"d1": model.StateSucceeded, "d2": model.StateRejected,
		"d3": model.StateRejected, "d4": model.StateRejected}, s.states())
}

func (s *FUOTASuite) TestCampaignDeploymentHoldsEachDevice() {
	var holds []otaflow.DeviceHoldInput
	s.env.OnWorkflow(otaflow.DeviceHoldWorkflow, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in otaflow.DeviceHoldInput) error { holds = append(holds, in); return nil })
	s.statuses = []otaflow.FUOTAStatus{{Completed: true}}
	s.env.ExecuteWorkflow(otaflow.FUOTAWorkflow, fuotaInput)
	s.Require().NoError(s.env.GetWorkflowError())
	held := map[string]bool{}
	for _, h := range holds {
		held[h.DeviceID] = true
		s.Equal("c", h.CampaignID)
		s.NotEmpty(h.DeploymentWorkflowID)
	}
	s.Equal(map[string]bool{"d1": true, "d2": true, "d3": true, "d4": true}, held, "one hold per device")
}

func (s *FUOTASuite) TestHoldPointsItsQueryAtTheDeployment() {
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(otaflow.QueryState)
		s.Require().NoError(err)
		var st otaflow.DeviceRunState
		s.Require().NoError(v.Get(&st))
		s.Equal("fuota:c:p:1", st.HeldBy)
		s.Equal("c", st.CampaignID)
		s.env.CancelWorkflow() // the deployment closed
	}, time.Minute)
	s.env.ExecuteWorkflow(otaflow.DeviceHoldWorkflow, otaflow.DeviceHoldInput{DeviceID: "d1", CampaignID: "c",
		DeploymentWorkflowID: "fuota:c:p:1"})
	s.True(s.env.IsWorkflowCompleted())
	s.NoError(s.env.GetWorkflowError(), "a released hold ends without error")
}
