package otaupdate

import (
	"context"
	"sync"
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

const (
	testGroupKey = "5d7e0c4a-1b2f-4e3d-9a8b-7c6d5e4f3a21"
	// testWorkflowID is the workflow id the Cadence test environment gives every execution.
	testWorkflowID = "default-test-workflow-id"
)

var testGroup = otaflow.UpdateGroupInput{
	TenantID: "tenant-1", CampaignID: "camp-1", Key: testGroupKey, Firmware: testInput.Firmware, Policy: testInput.Policy,
	DeviceIDs: []string{"dev-a", "dev-b", "dev-c"},
}

// GroupSuite drives OTA_UPDATE_GROUP: its members move on their own, each by its own
// device's reports.
type GroupSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	ready    map[string]otaflow.ReadyCheck
	checkErr map[string]error
	commands map[string][]otaflow.CommandRequest
	outcomes map[string]otaflow.OutcomeRequest
	checked  []otaflow.UpdateDeviceInput
}

func TestGroupSuite(t *testing.T) { suite.Run(t, new(GroupSuite)) }

func (s *GroupSuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.ready = map[string]otaflow.ReadyCheck{}
	s.checkErr = map[string]error{}
	s.commands = map[string][]otaflow.CommandRequest{}
	s.outcomes = map[string]otaflow.OutcomeRequest{}
	s.checked = nil
	s.env.OnActivity(otaflow.ActivityCheckDeviceReady, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in otaflow.UpdateDeviceInput) (otaflow.ReadyCheck, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.checked = append(s.checked, in)
			if err := s.checkErr[in.DeviceID]; err != nil {
				return otaflow.ReadyCheck{}, err
			}
			if r, ok := s.ready[in.DeviceID]; ok {
				return r, nil
			}
			return otaflow.ReadyCheck{Ready: true, CurrentVersion: "1.0.0"}, nil
		}).Maybe()
	record := func(_ context.Context, req otaflow.CommandRequest) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.commands[req.DeviceID] = append(s.commands[req.DeviceID], req)
		return nil
	}
	s.env.OnActivity(otaflow.ActivitySendMQTTCommand, mock.Anything, mock.Anything).Return(record).Maybe()
	s.env.OnActivity(otaflow.ActivityRollback, mock.Anything, mock.Anything).Return(record).Maybe()
	s.env.OnActivity(otaflow.ActivityUpdateDevice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req otaflow.OutcomeRequest) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			_, dup := s.outcomes[req.DeviceID]
			s.Require().False(dup, "outcome of %s recorded twice", req.DeviceID)
			s.outcomes[req.DeviceID] = req
			return nil
		}).Maybe()
	s.env.OnActivity(otaflow.ActivityVerifyFirmware, mock.Anything, mock.Anything).Return(nil).Maybe()
	s.env.OnActivity(otaflow.ActivityRunProgress, mock.Anything, mock.Anything).Return(otaflow.RunProgress{}, nil).Maybe()
}

// memberCommand is the id of a member's command number seq in the test environment's run.
func memberCommand(seq int) string {
	return otaflow.CommandID(otaflow.GroupRoute(testGroupKey, testRunID), seq)
}

// report sends deviceID's report on command seq, after delay, through the group's signal.
func (s *GroupSuite) report(delay time.Duration, deviceID string, seq int, status otaflow.ReportStatus) {
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(otaflow.SignalMemberReports, otaflow.MemberReports{Reports: []otaflow.MemberReport{{DeviceID: deviceID,
			Report: otaflow.DeviceReport{CommandID: memberCommand(seq), Status: status, FirmwareVersion: "1.1.0", ImageSHA256: "abc"}}}})
	}, delay)
}

func (s *GroupSuite) member(deviceID string) otaflow.DeviceRunState {
	v, err := s.env.QueryWorkflow(otaflow.QueryMemberState, deviceID)
	s.Require().NoError(err)
	var st otaflow.DeviceRunState
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *GroupSuite) run() {
	s.env.ExecuteWorkflow(otaflow.UpdateGroupWorkflow, testGroup)
	s.True(s.env.IsWorkflowCompleted())
}

// Each member ends by its own device's reports: one installs, one fails and rolls back,
// one is not ready. Every outcome names the group's run, and every check claims.
func (s *GroupSuite) TestMembersEndOnTheirOwn() {
	s.ready["dev-c"] = otaflow.ReadyCheck{Reason: otaflow.ReasonUpdateInProgress}
	s.report(time.Second, "dev-a", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.report(2*time.Second, "dev-b", otaflow.CommandSeqQuietUpdate, otaflow.ReportFailed)
	s.report(3*time.Second, "dev-b", otaflow.CommandSeqRollback, otaflow.ReportRolledBack)
	s.env.RegisterDelayedCallback(func() {
		s.Equal(model.StateSucceeded, s.member("dev-a").State)
		s.Equal(model.StateRollingBack, s.member("dev-b").State)
		s.Equal(memberCommand(otaflow.CommandSeqQuietUpdate), s.member("dev-b").CommandID)
		_, err := s.env.QueryWorkflow(otaflow.QueryMemberState, "dev-z")
		s.Error(err, "a device outside the group has no state in it")
	}, 2500*time.Millisecond)
	s.run()
	s.NoError(s.env.GetWorkflowError())

	s.Equal(model.StateSucceeded, s.outcomes["dev-a"].State)
	s.Equal(model.StateRolledBack, s.outcomes["dev-b"].State)
	s.Equal(model.StateRejected, s.outcomes["dev-c"].State)
	s.Equal(otaflow.ReasonUpdateInProgress, s.outcomes["dev-c"].Reason)
	for id, o := range s.outcomes {
		s.Equal(testWorkflowID, o.WorkflowID, id)
		s.Equal(testRunID, o.RunID, id)
		s.Equal("camp-1", o.CampaignID, id)
	}
	for _, in := range s.checked {
		s.True(in.InGroup, "%s checked without claiming as a group member", in.DeviceID)
	}
	s.Empty(s.commands["dev-c"], "a device not ready gets no command")
	s.Equal(memberCommand(otaflow.CommandSeqQuietUpdate), s.commands["dev-a"][0].CommandID)
	s.Equal("1.0.0", s.commands["dev-b"][1].RollbackVersion)
}

// A report reaches only the member the topic named: dev-b echoing the group's command id
// moves dev-b, never dev-a, and a device outside the group moves nobody.
func (s *GroupSuite) TestReportsGoToTheDeviceTheTopicNamed() {
	s.report(time.Second, "dev-z", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.report(2*time.Second, "dev-b", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.env.RegisterDelayedCallback(func() {
		s.Equal(model.StateCommanded, s.member("dev-a").State)
		s.Equal(model.StateSucceeded, s.member("dev-b").State)
	}, 3*time.Second)
	s.report(4*time.Second, "dev-a", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.report(5*time.Second, "dev-c", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.run()
	s.NoError(s.env.GetWorkflowError())
	for _, id := range testGroup.DeviceIDs {
		s.Equal(model.StateSucceeded, s.outcomes[id].State, id)
	}
}

// Canceling the group cancels every member: each records CANCELED and tells its device
// to drop the command.
func (s *GroupSuite) TestCancelEndsEveryMember() {
	s.report(time.Second, "dev-a", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 5*time.Second)
	s.run()
	s.Equal(model.StateSucceeded, s.outcomes["dev-a"].State)
	for _, id := range []string{"dev-b", "dev-c"} {
		s.Equal(model.StateCanceled, s.outcomes[id].State, id)
		cmds := s.commands[id]
		s.Require().NotEmpty(cmds, id)
		s.Equal(memberCommand(otaflow.CommandSeqQuietUpdate), cmds[len(cmds)-1].CancelsCommand, id)
	}
}

// A member whose steps keep failing does not hold the others back: they finish and
// record, and the group then fails, so the campaign's sweep ends the one left.
func (s *GroupSuite) TestOneMemberFailingLeavesTheOthers() {
	s.checkErr["dev-b"] = cadence.NewCustomError(ErrReasonPermanent, "database gone")
	s.report(time.Second, "dev-a", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.report(time.Second, "dev-c", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.run()
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.Contains(err.Error(), "dev-b")
	s.Equal(model.StateSucceeded, s.outcomes["dev-a"].State)
	s.Equal(model.StateSucceeded, s.outcomes["dev-c"].State)
	s.NotContains(s.outcomes, "dev-b")
}

// A device that stays silent is asked where it stands and then times out, on its own.
func (s *GroupSuite) TestSilentMemberTimesOutAlone() {
	s.report(time.Second, "dev-a", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.report(time.Second, "dev-b", otaflow.CommandSeqQuietUpdate, otaflow.ReportInstalled)
	s.run()
	s.NoError(s.env.GetWorkflowError())
	s.Equal(model.StateTimedOut, s.outcomes["dev-c"].State)
	var probes int
	for _, c := range s.commands["dev-c"] {
		if c.RequestStatus {
			probes++
		}
	}
	s.Positive(probes, "the silent device was asked before it timed out")
	for _, id := range []string{"dev-a", "dev-b"} {
		for _, c := range s.commands[id] {
			s.False(c.RequestStatus, "%s answered and was never asked", id)
		}
	}
}
