package campaign

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.uber.org/cadence/encoded"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

type CampaignSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	devices  int
	states   []model.CampaignState
	marked   []string
	children []string
	inFlight int
	peak     int
}

func TestCampaignSuite(t *testing.T) { suite.Run(t, new(CampaignSuite)) }

func (s *CampaignSuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in otaflow.UpdateDeviceInput) (otaflow.UpdateDeviceResult, error) {
		return otaflow.UpdateDeviceResult{}, nil
	}, workflow.RegisterOptions{Name: otaflow.UpdateDeviceWorkflow})
	s.states, s.marked, s.children, s.inFlight, s.peak = nil, nil, nil, 0, 0
	s.env.OnActivity(otaflow.ActivityListCampaignDevices, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.ListCampaignDevicesRequest) ([]otaflow.CampaignDeviceRef, error) {
			var page []otaflow.CampaignDeviceRef
			for seq := r.AfterSeq + 1; seq <= s.devices && len(page) < r.Limit; seq++ {
				page = append(page, otaflow.CampaignDeviceRef{Seq: seq, DeviceID: fmt.Sprintf("dev-%05d", seq)})
			}
			return page, nil
		})
	s.env.OnActivity(otaflow.ActivitySetCampaignState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.SetCampaignStateRequest) error { s.states = append(s.states, r.State); return nil })
	s.env.OnActivity(otaflow.ActivityMarkCampaignDevices, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r otaflow.MarkCampaignDevicesRequest) error { s.marked = append(s.marked, r.DeviceIDs...); return nil }).Maybe()
	s.env.SetOnChildWorkflowStartedListener(func(_ *workflow.Info, _ workflow.Context, _ encoded.Values) {
		s.inFlight++
		s.peak = max(s.peak, s.inFlight)
	})
	s.env.SetOnChildWorkflowCompletedListener(func(_ *workflow.Info, _ encoded.Value, _ error) { s.inFlight-- })
}

func input(maxInFlight int) otaflow.CampaignInput {
	return otaflow.CampaignInput{TenantID: "t", CampaignID: "c", MaxInFlight: maxInFlight,
		Firmware: otaflow.FirmwareRef{ID: "fw", Version: "1.0.0"}}
}

func (s *CampaignSuite) TestDispatchesEveryDeviceWithinConcurrencyLimit() {
	s.devices = 7
	s.env.OnWorkflow(otaflow.UpdateDeviceWorkflow, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in otaflow.UpdateDeviceInput) (otaflow.UpdateDeviceResult, error) {
			s.children = append(s.children, in.DeviceID)
			return otaflow.UpdateDeviceResult{State: model.StateSucceeded}, nil
		})
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(3))
	s.True(s.env.IsWorkflowCompleted())
	s.NoError(s.env.GetWorkflowError())
	var st otaflow.CampaignRunState
	s.NoError(s.env.GetWorkflowResult(&st))
	s.Equal(model.CampaignCompleted, st.State)
	s.Equal(7, st.Dispatched)
	s.Equal(7, st.Finished)
	s.Len(s.children, 7)
	s.LessOrEqual(s.peak, 3, "never more than MaxInFlight children at once")
	s.Equal([]model.CampaignState{model.CampaignRunning, model.CampaignCompleted}, s.states)
}

func (s *CampaignSuite) TestLargeCampaignContinuesAsNew() {
	s.devices = childrenPerRun + 3*pageSize
	s.env.OnWorkflow(otaflow.UpdateDeviceWorkflow, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in otaflow.UpdateDeviceInput) (otaflow.UpdateDeviceResult, error) {
			return otaflow.UpdateDeviceResult{State: model.StateSucceeded}, nil
		})
	s.env.ExecuteWorkflow(otaflow.CampaignWorkflow, input(200))
	s.True(s.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	s.True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	s.Equal([]model.CampaignState{model.CampaignRunning}, s.states, "not completed before the continuation")
}
