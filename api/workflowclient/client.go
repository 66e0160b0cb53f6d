// Package workflowclient is the API's Cadence client: it implements app.Workflows by
// starting, querying and signalling workflow runs (the workflows themselves run in the
// worker).
package workflowclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/client"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

// Cadence talks to the frontend through one connection and a client per tenant domain.
type Cadence struct {
	conn *cadenceclient.Conn
	cfg  config.Cadence

	mu      sync.Mutex
	clients map[string]client.Client
}

var _ app.Workflows = (*Cadence)(nil)

// New wraps an open connection.
func New(conn *cadenceclient.Conn, cfg config.Cadence) *Cadence {
	return &Cadence{conn: conn, cfg: cfg, clients: map[string]client.Client{}}
}

func (c *Cadence) client(domain string) client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.clients[domain]
	if !ok {
		cl = client.NewClient(c.conn.Service, domain, &client.Options{})
		c.clients[domain] = cl
	}
	return cl
}

func (c *Cadence) rpc(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.RPCTimeout)
}

// Ping implements app.Workflows.
func (c *Cadence) Ping(ctx context.Context) error {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	if err := c.conn.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", app.ErrUnavailable, err)
	}
	return nil
}

// RegisterDomain implements app.Workflows.
func (c *Cadence) RegisterDomain(ctx context.Context, domain, description string) error {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	if err := c.conn.RegisterDomain(ctx, domain, description, c.cfg.DomainRetention); err != nil {
		return classify(err)
	}
	return nil
}

// StartDeviceUpdate implements app.Workflows. The workflow id is the device's, so Cadence
// itself refuses a second concurrent update (no database race).
func (c *Cadence) StartDeviceUpdate(ctx context.Context, domain string, in otaflow.UpdateDeviceInput) (string, error) {
	return c.startDeviceRun(ctx, domain, in.DeviceID, in.CampaignID, in.Policy.RunTimeout(), otaflow.UpdateDeviceWorkflow, in)
}

// StartDeviceFUOTA implements app.Workflows: a LoRaWAN device's update runs under the same
// device id, so it excludes every other update of the device as well.
func (c *Cadence) StartDeviceFUOTA(ctx context.Context, domain string, in otaflow.FUOTAInput) (string, error) {
	return c.startDeviceRun(ctx, domain, in.Devices[0].DeviceID, in.CampaignID, in.Params.RunBound(), otaflow.FUOTAWorkflow, in)
}

// startDeviceRun starts workflowType under the device's update id, the way campaigns
// start theirs (pkg/cadenceclient); a running update answers UpdateInProgressError.
func (c *Cadence) startDeviceRun(ctx context.Context, domain, deviceID, campaignID string, bound time.Duration,
	workflowType string, in interface{}) (string, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	wfID := otaflow.DeviceWorkflowID(deviceID)
	runID, err := c.conn.StartDeviceRun(ctx, cadenceclient.DeviceRun{Domain: domain, TaskList: c.cfg.TaskList,
		WorkflowType: workflowType, WorkflowID: wfID, CampaignID: campaignID, Timeout: bound,
		DecisionTimeout: otaflow.DecisionTimeout, Input: in})
	if errors.Is(err, cadenceclient.ErrDeviceBusy) {
		return "", c.inProgress(ctx, domain, wfID)
	}
	if err != nil {
		return "", startError(err)
	}
	return runID, nil
}

// inProgress names the running update (and its campaign, from the memo) for a 409.
func (c *Cadence) inProgress(ctx context.Context, domain, wfID string) error {
	e := &app.UpdateInProgressError{WorkflowID: wfID}
	desc, err := c.client(domain).DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil || desc.WorkflowExecutionInfo == nil {
		return e
	}
	info := desc.WorkflowExecutionInfo
	e.RunID = info.GetExecution().GetRunId()
	if memo := info.GetMemo(); memo != nil {
		if raw, ok := memo.Fields[otaflow.MemoCampaignID]; ok {
			var id string
			if client.NewValue(raw).Get(&id) == nil {
				e.CampaignID = id
			}
		}
	}
	return e
}

// StartCampaign implements app.Workflows; a campaign executes once.
func (c *Cadence) StartCampaign(ctx context.Context, domain string, in otaflow.CampaignInput) (string, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	opts := client.StartWorkflowOptions{
		ID:       otaflow.CampaignWorkflowID(in.CampaignID),
		TaskList: c.cfg.TaskList,
		// Campaigns may wait on maintenance windows and approvals: a generous bound.
		ExecutionStartToCloseTimeout:    365 * 24 * time.Hour,
		DecisionTaskStartToCloseTimeout: otaflow.DecisionTimeout,
		WorkflowIDReusePolicy:           client.WorkflowIDReusePolicyRejectDuplicate,
	}
	// The client retries an overloaded server itself, under one request id; a domain its
	// host does not know yet (a tenant just created) is tried again here — such a start
	// took no effect.
	var runID string
	err := cadenceclient.RetryStart(ctx, cadenceclient.DomainNotKnown, func() error {
		exec, err := c.client(domain).StartWorkflow(ctx, opts, otaflow.CampaignWorkflow, in)
		if exec != nil {
			runID = exec.RunID
		}
		return err
	})
	var started *shared.WorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return "", fmt.Errorf("campaign %s was already executed: %w", in.CampaignID, app.ErrConflict)
	}
	if err != nil {
		return "", startError(err)
	}
	return runID, nil
}

// startError maps a failed start. "Does not exist" names the domain (a start needs no
// other entity): Cadence does not know the tenant's domain yet, so retry later.
func startError(err error) error {
	if cadenceclient.DomainNotKnown(err) {
		return fmt.Errorf("%w: cadence does not know the tenant's domain yet: %w", app.ErrUnavailable, err)
	}
	return classify(err)
}

// QueryDeviceRun implements app.Workflows: the latest run's live (or final) state.
func (c *Cadence) QueryDeviceRun(ctx context.Context, domain, deviceID string) (otaflow.DeviceRunState, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	v, err := c.client(domain).QueryWorkflow(ctx, otaflow.DeviceWorkflowID(deviceID), "", otaflow.QueryState)
	if err != nil {
		return otaflow.DeviceRunState{}, classify(err)
	}
	var st otaflow.DeviceRunState
	if err := v.Get(&st); err != nil {
		return otaflow.DeviceRunState{}, fmt.Errorf("decode device run state: %w", err)
	}
	if st.HeldBy != "" {
		return c.heldDeviceState(ctx, domain, st)
	}
	return st, nil
}

// QueryGroupMember implements app.Workflows.
func (c *Cadence) QueryGroupMember(ctx context.Context, domain, workflowID, runID, deviceID string) (otaflow.DeviceRunState, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	v, err := c.client(domain).QueryWorkflow(ctx, workflowID, runID, otaflow.QueryMemberState, deviceID)
	if err != nil {
		return otaflow.DeviceRunState{}, classify(err)
	}
	var st otaflow.DeviceRunState
	if err := v.Get(&st); err != nil {
		return otaflow.DeviceRunState{}, fmt.Errorf("decode member state: %w", err)
	}
	return st, nil
}

// heldDeviceState reads a held device's state from the FUOTA deployment holding it.
func (c *Cadence) heldDeviceState(ctx context.Context, domain string, held otaflow.DeviceRunState) (otaflow.DeviceRunState, error) {
	v, err := c.client(domain).QueryWorkflow(ctx, held.HeldBy, "", otaflow.QueryState)
	if err != nil {
		return otaflow.DeviceRunState{}, classify(err)
	}
	var dep otaflow.FUOTAResult
	if err := v.Get(&dep); err != nil {
		return otaflow.DeviceRunState{}, fmt.Errorf("decode deployment state: %w", err)
	}
	for i, id := range dep.DeviceIDs {
		if id == held.DeviceID && i < len(dep.States) && i < len(dep.Reasons) {
			held.State, held.Reason, held.CommandID = dep.States[i], dep.Reasons[i], dep.DeploymentID
			return held, nil
		}
	}
	return held, nil
}

// SignalCampaign implements app.Workflows.
func (c *Cadence) SignalCampaign(ctx context.Context, domain, campaignID string, ctl otaflow.CampaignControl) error {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	err := c.client(domain).SignalWorkflow(ctx, otaflow.CampaignWorkflowID(campaignID), "", otaflow.SignalCampaignControl, ctl)
	if err != nil {
		return classify(err)
	}
	return nil
}

// QueryCampaign implements app.Workflows.
func (c *Cadence) QueryCampaign(ctx context.Context, domain, campaignID string) (otaflow.CampaignRunState, error) {
	ctx, cancel := c.rpc(ctx)
	defer cancel()
	v, err := c.client(domain).QueryWorkflow(ctx, otaflow.CampaignWorkflowID(campaignID), "", otaflow.QueryState)
	if err != nil {
		return otaflow.CampaignRunState{}, classify(err)
	}
	var st otaflow.CampaignRunState
	if err := v.Get(&st); err != nil {
		return otaflow.CampaignRunState{}, fmt.Errorf("decode campaign state: %w", err)
	}
	return st, nil
}

// classify maps Cadence errors onto the app's: a missing execution is a 404; anything
// that is not a definite answer from Cadence means it is unreachable or overloaded.
func classify(err error) error {
	var notExists *shared.EntityNotExistsError
	var badReq *shared.BadRequestError
	switch {
	case errors.As(err, &notExists):
		return fmt.Errorf("no such workflow run: %w", store.ErrNotFound)
	case errors.As(err, &badReq):
		return fmt.Errorf("cadence rejected the request: %w", err)
	default:
		return fmt.Errorf("%w: cadence: %w", app.ErrUnavailable, err)
	}
}
