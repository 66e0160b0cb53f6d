package otaupdate

import (
	"errors"
	"fmt"

	"go.uber.org/cadence/workflow"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// memberInbox bounds the reports waiting for one member. A device cannot flood its
// group: the consumer already caps what one device sends, and beyond this a report is
// dropped — the member asks its device where it stands when it seems silent.
const memberInbox = 64

// RunGroup is OTA_UPDATE_GROUP: each device of the group goes through the same steps as
// in OTA_UPDATE_DEVICE (its updates command quietly), in a coroutine of its own, and
// records its own outcome. Reports reach a member through the group's signal, by the
// device the topic named; a report for a device the group does not hold is dropped.
func (f *Flow) RunGroup(ctx workflow.Context, in otaflow.UpdateGroupInput) (otaflow.UpdateGroupResult, error) {
	info := workflow.GetInfo(ctx)
	route := otaflow.GroupRoute(in.Key, info.WorkflowExecution.RunID)
	members := make([]*run, len(in.DeviceIDs))
	inboxes := make(map[string]workflow.Channel, len(in.DeviceIDs))
	byDevice := make(map[string]*run, len(in.DeviceIDs))
	for i, id := range in.DeviceIDs {
		m := &run{acts: f.acts, in: in.Member(id), wfID: info.WorkflowExecution.ID, runID: info.WorkflowExecution.RunID,
			route: route, quiet: true}
		m.enter(ctx, model.StatePending, "")
		members[i], byDevice[id] = m, m
		inboxes[id] = workflow.NewBufferedChannel(ctx, memberInbox)
	}
	if err := workflow.SetQueryHandler(ctx, otaflow.QueryMemberState, func(deviceID string) (otaflow.DeviceRunState, error) {
		m, ok := byDevice[deviceID]
		if !ok {
			return otaflow.DeviceRunState{}, fmt.Errorf("device %q is not in this group", deviceID)
		}
		return m.snapshot()
	}); err != nil {
		return otaflow.UpdateGroupResult{}, fmt.Errorf("register query: %w", err)
	}
	signals := workflow.GetSignalChannel(ctx, otaflow.SignalMemberReports)
	workflow.Go(ctx, func(ctx workflow.Context) { deliverToMembers(ctx, signals, inboxes) })

	res := otaflow.UpdateGroupResult{Members: make([]otaflow.UpdateDeviceResult, len(members))}
	errs := make([]error, len(members))
	wg := workflow.NewWaitGroup(ctx)
	for i, m := range members {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			res.Members[i], errs[i] = m.runMember(ctx, inboxes[m.in.DeviceID])
		})
	}
	// A canceled group still waits for every member to record its outcome.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	wg.Wait(dctx)
	// A member that could not finish leaves its device to the campaign's sweep, which
	// ends it once the group has closed.
	return res, errors.Join(errs...)
}

// runMember is one device's run within its group.
func (r *run) runMember(ctx workflow.Context, reports workflow.Channel) (otaflow.UpdateDeviceResult, error) {
	outcome, err := r.execute(ctx, reports)
	if err != nil {
		workflow.GetLogger(ctx).Error("device run in group failed", zap.String("device_id", r.in.DeviceID), zap.Error(err))
		return otaflow.UpdateDeviceResult{}, fmt.Errorf("device %s: %w", r.in.DeviceID, err)
	}
	return r.finish(ctx, outcome)
}

// deliverToMembers routes the group's report signals to its members' inboxes, in the
// order they came.
func deliverToMembers(ctx workflow.Context, signals workflow.Channel, inboxes map[string]workflow.Channel) {
	for {
		var batch otaflow.MemberReports
		signals.Receive(ctx, &batch)
		for _, mr := range batch.Reports {
			inbox, ok := inboxes[mr.DeviceID]
			switch {
			case !ok:
				workflow.GetLogger(ctx).Warn("report for a device outside the group dropped", zap.String("device_id", mr.DeviceID))
			case !inbox.SendAsync(mr.Report):
				workflow.GetLogger(ctx).Warn("member inbox full; report dropped", zap.String("device_id", mr.DeviceID))
			}
		}
	}
}
