package cadenceclient

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/encoded"
)

// SignalStart signals a workflow, starting it with Input first when it is not running.
type SignalStart struct {
	Domain          string
	TaskList        string
	WorkflowType    string
	WorkflowID      string
	Timeout         time.Duration
	DecisionTimeout time.Duration
	Input           interface{}
	Signal          string
}

// SignalWithStart delivers r.Signal to r.WorkflowID's open run, or starts a run and
// delivers it there.
func (c *Conn) SignalWithStart(ctx context.Context, r SignalStart) error {
	input, err := encoded.GetDefaultDataConverter().ToData(r.Input)
	if err != nil {
		return fmt.Errorf("encode %s input: %w", r.WorkflowType, err)
	}
	requestID := uuid.NewString()
	_, err = c.Service.SignalWithStartWorkflowExecution(ctx, &shared.SignalWithStartWorkflowExecutionRequest{
		Domain:                              &r.Domain,
		WorkflowId:                          &r.WorkflowID,
		WorkflowType:                        &shared.WorkflowType{Name: &r.WorkflowType},
		TaskList:                            &shared.TaskList{Name: &r.TaskList},
		Input:                               input,
		ExecutionStartToCloseTimeoutSeconds: seconds(r.Timeout),
		TaskStartToCloseTimeoutSeconds:      seconds(r.DecisionTimeout),
		Identity:                            &identity,
		RequestId:                           &requestID,
		WorkflowIdReusePolicy:               shared.WorkflowIdReusePolicyAllowDuplicate.Ptr(),
		SignalName:                          &r.Signal,
	})
	if err != nil {
		return fmt.Errorf("signal-with-start %s: %w", r.WorkflowID, err)
	}
	return nil
}
