package workflowclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/client"
	"go.uber.org/yarpc/yarpcerrors"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/otaflow"
)

const (
	// syncRunTimeout covers a device operation's compensation, which retries for a day.
	syncRunTimeout = 25 * time.Hour
	// reconcileRunTimeout bounds each reconcile run (each cron run too).
	reconcileRunTimeout = time.Hour
)

var _ app.LoRaWANWorkflows = (*Cadence)(nil)

// StartLoRaWANDeviceSync implements app.LoRaWANWorkflows. The workflow id is the
// device's, so operations on one device never run concurrently.
func (c *Cadence) StartLoRaWANDeviceSync(ctx context.Context, domain string, in otaflow.LoRaWANDeviceInput) (app.WorkflowRef, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	wfID := otaflow.LoRaWANDeviceWorkflowID(in.DeviceID)
	exec, err := c.client(domain).StartWorkflow(ctx, client.StartWorkflowOptions{
		ID:                              wfID,
		TaskList:                        c.cfg.TaskList,
		ExecutionStartToCloseTimeout:    syncRunTimeout,
		DecisionTaskStartToCloseTimeout: 20 * time.Second,
		WorkflowIDReusePolicy:           client.WorkflowIDReusePolicyAllowDuplicate,
	}, otaflow.LoRaWANDeviceWorkflow, in)
	var started *shared.WorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return app.WorkflowRef{}, &app.LoRaWANError{Reason: app.ReasonOperationInProgress, Field: "id",
			Message:  fmt.Sprintf("another operation on device %q is running; retry when it has finished", in.DeviceID),
			Workflow: app.WorkflowRef{WorkflowID: wfID, RunID: started.GetRunId()}}
	}
	if err != nil {
		return app.WorkflowRef{}, classify(err)
	}
	return app.WorkflowRef{WorkflowID: wfID, RunID: exec.RunID}, nil
}

// AwaitLoRaWANDeviceSync implements app.LoRaWANWorkflows.
func (c *Cadence) AwaitLoRaWANDeviceSync(ctx context.Context, domain string, ref app.WorkflowRef, wait time.Duration) (otaflow.LoRaWANDeviceResult, bool, error) {
	var res otaflow.LoRaWANDeviceResult
	done, err := c.await(ctx, domain, ref, wait, &res)
	return res, done, err
}

// EnsureReconcileSchedule implements app.LoRaWANWorkflows: a cron workflow runs until
// it is terminated, so a running one (any schedule) is left as it is.
func (c *Cadence) EnsureReconcileSchedule(ctx context.Context, domain string, in otaflow.ReconcileInput, cron string) (app.WorkflowRef, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	exec, err := c.client(domain).StartWorkflow(ctx, client.StartWorkflowOptions{
		ID:                              otaflow.ReconcileWorkflowID,
		TaskList:                        c.cfg.TaskList,
		ExecutionStartToCloseTimeout:    reconcileRunTimeout,
		DecisionTaskStartToCloseTimeout: 20 * time.Second,
		WorkflowIDReusePolicy:           client.WorkflowIDReusePolicyAllowDuplicate,
		CronSchedule:                    cron,
	}, otaflow.LoRaWANReconcileWorkflow, in)
	var started *shared.WorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return app.WorkflowRef{WorkflowID: otaflow.ReconcileWorkflowID, RunID: started.GetRunId()}, nil
	}
	if err != nil {
		return app.WorkflowRef{}, classify(err)
	}
	return app.WorkflowRef{WorkflowID: otaflow.ReconcileWorkflowID, RunID: exec.RunID}, nil
}

// StartReconcile implements app.LoRaWANWorkflows. On-demand runs have their own id,
// apart from the cron schedule's; a request while one runs waits for that one.
func (c *Cadence) StartReconcile(ctx context.Context, domain string, in otaflow.ReconcileInput) (app.WorkflowRef, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	wfID := otaflow.ReconcileOnDemandWorkflowID
	exec, err := c.client(domain).StartWorkflow(ctx, client.StartWorkflowOptions{
		ID:                              wfID,
		TaskList:                        c.cfg.TaskList,
		ExecutionStartToCloseTimeout:    reconcileRunTimeout,
		DecisionTaskStartToCloseTimeout: 20 * time.Second,
		WorkflowIDReusePolicy:           client.WorkflowIDReusePolicyAllowDuplicate,
	}, otaflow.LoRaWANReconcileWorkflow, in)
	var started *shared.WorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return app.WorkflowRef{WorkflowID: wfID, RunID: started.GetRunId()}, nil
	}
	if err != nil {
		return app.WorkflowRef{}, classify(err)
	}
	return app.WorkflowRef{WorkflowID: wfID, RunID: exec.RunID}, nil
}

// AwaitReconcile implements app.LoRaWANWorkflows.
func (c *Cadence) AwaitReconcile(ctx context.Context, domain string, ref app.WorkflowRef, wait time.Duration) (otaflow.ReconcileReport, bool, error) {
	var rep otaflow.ReconcileReport
	done, err := c.await(ctx, domain, ref, wait, &rep)
	return rep, done, err
}

// await waits up to wait for a run's result; done is false when it is still running
// then. A failed run is an *app.LoRaWANError carrying the workflow's reason.
func (c *Cadence) await(ctx context.Context, domain string, ref app.WorkflowRef, wait time.Duration, result interface{}) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := c.client(domain).GetWorkflow(wctx, ref.WorkflowID, ref.RunID).Get(wctx, result)
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case wctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), yarpcerrors.IsDeadlineExceeded(err):
		// The client ends its last long poll a little before the deadline: still running.
		return false, nil
	}
	var custom *cadence.CustomError
	if errors.As(err, &custom) {
		e := &app.LoRaWANError{Reason: custom.Reason(), Message: custom.Reason(), Workflow: ref}
		var f otaflow.LoRaWANFailure
		if custom.HasDetails() && custom.Details(&f) == nil {
			e.Message, e.Field = f.Message, f.Field
		}
		return true, e
	}
	if cadence.IsTimeoutError(err) || cadence.IsCanceledError(err) || cadence.IsTerminatedError(err) ||
		cadence.IsGenericError(err) || cadence.IsPanicError(err) {
		return true, &app.LoRaWANError{Reason: app.ReasonOperationFailed, Workflow: ref,
			Message: "the operation ended without a result: " + err.Error()}
	}
	return false, classify(err)
}
