package webhook

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
)

// DeliverySuite runs WEBHOOK_DELIVERY against an outbox in memory.
type DeliverySuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	outbox    []EventRef // the stream, in seq order
	delivered []string
	looks     int
	failFirst map[string]int // event id → failed sends before success
	gone      bool
	// goneOnFailure deletes the endpoint when a send fails.
	goneOnFailure bool
}

func TestDeliverySuite(t *testing.T) { suite.Run(t, new(DeliverySuite)) }

var input = DeliveryInput{TenantID: "t", EndpointID: "e", Stream: "c"}

func (s *DeliverySuite) SetupTest() {
	s.SetLogger(zap.NewNop())
	s.env = s.NewTestWorkflowEnvironment()
	Register(s.env, &Activities{})
	s.outbox, s.delivered, s.looks, s.failFirst, s.gone, s.goneOnFailure = nil, nil, 0, map[string]int{}, false, false
	s.env.OnActivity(ActivityNextEvents, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r NextEventsRequest) (NextEvents, error) {
			s.looks++
			if s.gone {
				return NextEvents{EndpointGone: true}, nil
			}
			var out NextEvents
			for _, e := range s.outbox {
				if e.Seq > r.AfterSeq && len(out.Events) < r.Limit {
					out.Events = append(out.Events, e)
				}
			}
			return out, nil
		})
	s.env.OnActivity(ActivityDeliver, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r DeliverRequest) error {
			if s.gone {
				return cadence.NewCustomError(reasonEndpointGone)
			}
			if s.failFirst[r.EventID] > 0 {
				s.failFirst[r.EventID]--
				s.gone = s.gone || s.goneOnFailure
				return errors.New("receiver answered 503")
			}
			s.delivered = append(s.delivered, r.EventID)
			return nil
		})
}

func (s *DeliverySuite) events(ids ...string) {
	for _, id := range ids {
		s.outbox = append(s.outbox, EventRef{ID: id, Seq: int64(len(s.outbox) + 1)})
	}
}

func (s *DeliverySuite) TestDeliversInOrderThenEndsWhenIdle() {
	s.events("a", "b", "c")
	s.env.ExecuteWorkflow(WorkflowType, input)
	s.True(s.env.IsWorkflowCompleted())
	s.NoError(s.env.GetWorkflowError())
	s.Equal([]string{"a", "b", "c"}, s.delivered)
}

func (s *DeliverySuite) TestRetriesAFailingReceiverWithoutReordering() {
	s.events("a", "b", "c")
	s.failFirst["b"] = 5
	s.env.ExecuteWorkflow(WorkflowType, input)
	s.NoError(s.env.GetWorkflowError())
	s.Equal([]string{"a", "b", "c"}, s.delivered)
}

func (s *DeliverySuite) TestSignalWakesAnIdleRun() {
	s.events("a")
	s.env.RegisterDelayedCallback(func() {
		s.events("b")
		s.env.SignalWorkflow(SignalEvents, nil)
	}, time.Minute)
	s.env.ExecuteWorkflow(WorkflowType, input)
	s.NoError(s.env.GetWorkflowError())
	s.Equal([]string{"a", "b"}, s.delivered)
	s.Equal(4, s.looks, "a, nothing, b, nothing")
}

func (s *DeliverySuite) TestEndsWhenTheEndpointIsGone() {
	s.events("a")
	s.gone = true
	s.env.ExecuteWorkflow(WorkflowType, input)
	s.NoError(s.env.GetWorkflowError())
	s.Empty(s.delivered)
}

func (s *DeliverySuite) TestEndsWhenTheEndpointGoesDuringASend() {
	s.events("a", "b")
	s.failFirst["a"] = 1
	s.goneOnFailure = true // the endpoint is deleted while a is retried
	s.env.ExecuteWorkflow(WorkflowType, input)
	s.NoError(s.env.GetWorkflowError())
	s.Empty(s.delivered)
	s.Equal(1, s.looks, "it ended at the send, not at a later look")
}

func (s *DeliverySuite) TestContinuesAsNewToBoundItsHistory() {
	for i := 0; i < eventsPerRun+10; i++ {
		s.events(string(rune('A'+i%26)) + string(rune('a'+i/26)))
	}
	s.env.ExecuteWorkflow(WorkflowType, input)
	var cont *workflow.ContinueAsNewError
	s.Require().ErrorAs(s.env.GetWorkflowError(), &cont)
	s.Len(s.delivered, eventsPerRun)
}
