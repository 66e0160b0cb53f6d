package cadenceclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/encoded"
)

// ErrDeviceBusy means another run holds the device's workflow id: one update at a time.
var ErrDeviceBusy = errors.New("another update holds the device")

// DeviceRun is one device's update run, started under the device's own workflow id so
// that Cadence itself refuses a second concurrent update of the device.
type DeviceRun struct {
	Domain       string
	TaskList     string
	WorkflowType string
	WorkflowID   string
	// CampaignID goes into the memo: a refused second update can name what holds the device.
	CampaignID string
	Timeout    time.Duration
	// DecisionTimeout bounds each decision task of the run.
	DecisionTimeout time.Duration
	Input           interface{}
	// RequestID makes a start idempotent: starting again with the same id answers with
	// the run the first start made, even if that run has ended since. Empty: a fresh id.
	RequestID string
}

// memoCampaignID is the memo key; otaflow.MemoCampaignID names the same.
const memoCampaignID = "campaign_id"

var identity = func() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}()

// StartDeviceRun starts r and returns its run id. A run already holding the workflow id
// under another request answers an error wrapping ErrDeviceBusy (and the
// *shared.WorkflowExecutionAlreadyStartedError).
func (c *Conn) StartDeviceRun(ctx context.Context, r DeviceRun) (string, error) {
	dc := encoded.GetDefaultDataConverter()
	input, err := dc.ToData(r.Input)
	if err != nil {
		return "", fmt.Errorf("encode %s input: %w", r.WorkflowType, err)
	}
	memo, err := dc.ToData(r.CampaignID)
	if err != nil {
		return "", fmt.Errorf("encode memo: %w", err)
	}
	requestID := r.RequestID
	if requestID == "" {
		requestID = uuid.NewString()
	}
	req := &shared.StartWorkflowExecutionRequest{
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
		Memo:                                &shared.Memo{Fields: map[string][]byte{memoCampaignID: memo}},
	}
	// Every try carries the same request id: a start that took effect but whose answer
	// was lost answers with its run on the next try, never "already started".
	var runID string
	err = RetryStart(ctx, StartRetryable, func() error {
		resp, err := c.Service.StartWorkflowExecution(ctx, req)
		runID = resp.GetRunId()
		return err
	})
	var started *shared.WorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return "", fmt.Errorf("%w: %w", ErrDeviceBusy, err)
	}
	if err != nil {
		return "", err
	}
	return runID, nil
}

// A start is tried startTries times at most, startRetryDelay apart at first, doubling:
// about 3 s in all, within one API request's budget.
const (
	startTries      = 5
	startRetryDelay = 200 * time.Millisecond
)

// RetryStart calls start until it succeeds, fails with an error retryable refuses, or
// has been tried startTries times; it returns the last error.
func RetryStart(ctx context.Context, retryable func(error) bool, start func() error) error {
	delay := startRetryDelay
	for try := 1; ; try++ {
		err := start()
		if err == nil || try == startTries || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// StartRetryable reports whether a failed start may be tried again. Besides an
// overloaded or unreachable server, "does not exist" is worth another try: a start names
// no existing entity but its domain, which a Cadence host learns of from its domain
// cache some moments after the domain was registered.
func StartRetryable(err error) bool {
	var (
		badRequest *shared.BadRequestError
		started    *shared.WorkflowExecutionAlreadyStartedError
		notActive  *shared.DomainNotActiveError
		limit      *shared.LimitExceededError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &badRequest), errors.As(err, &started), errors.As(err, &notActive), errors.As(err, &limit):
		return false
	}
	return true
}

// DomainNotKnown reports whether a start failed because its domain is unknown to the
// Cadence host that took it: a start needs no other entity to exist.
func DomainNotKnown(err error) bool {
	var notExists *shared.EntityNotExistsError
	return errors.As(err, &notExists)
}

// CancelRun asks a run to cancel. A run that has ended, or was asked already, is not an
// error. An empty runID means the workflow's current run.
func (c *Conn) CancelRun(ctx context.Context, domain, workflowID, runID string) error {
	exec := &shared.WorkflowExecution{WorkflowId: &workflowID}
	if runID != "" {
		exec.RunId = &runID
	}
	err := c.Service.RequestCancelWorkflowExecution(ctx, &shared.RequestCancelWorkflowExecutionRequest{
		Domain: &domain, WorkflowExecution: exec, Identity: &identity, RequestId: ptr(uuid.NewString()),
	})
	var (
		gone      *shared.EntityNotExistsError
		completed *shared.WorkflowExecutionAlreadyCompletedError
		asked     *shared.CancellationAlreadyRequestedError
	)
	if err == nil || errors.As(err, &gone) || errors.As(err, &completed) || errors.As(err, &asked) {
		return nil
	}
	return err
}

// RunClosed reports whether a run has ended (a run Cadence no longer knows has too). An
// empty runID means the workflow's current run.
func (c *Conn) RunClosed(ctx context.Context, domain, workflowID, runID string) (bool, error) {
	exec := &shared.WorkflowExecution{WorkflowId: &workflowID}
	if runID != "" {
		exec.RunId = &runID
	}
	desc, err := c.Service.DescribeWorkflowExecution(ctx, &shared.DescribeWorkflowExecutionRequest{Domain: &domain,
		Execution: exec})
	var gone *shared.EntityNotExistsError
	if errors.As(err, &gone) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return desc.GetWorkflowExecutionInfo().CloseStatus != nil, nil
}

func seconds(d time.Duration) *int32 {
	s := int32(d / time.Second)
	return &s
}
