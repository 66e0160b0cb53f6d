package otaupdate

import (
	"fmt"
	"time"

	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// The code below is OTA_UPDATE_DEVICE as it ran before changeDeviceTruth: runs started
// then replay through it, decision for decision. Do not change it.

func (r *run) legacyExecute(ctx workflow.Context, reports workflow.Channel) (outcome, error) {
	in := r.in
	r.enter(ctx, model.StateChecking, "")
	ready, err := r.awaitReady(ctx)
	switch {
	case isCanceled(ctx, err):
		return outcome{state: model.StateCanceled, reason: otaflow.ReasonCanceledByRequest}, nil
	case err != nil:
		return outcome{}, fmt.Errorf("check_device_ready: %w", err)
	}
	r.from = ready.CurrentVersion
	if ready.AlreadyOnTarget {
		return outcome{state: model.StateSucceeded, reason: otaflow.ReasonAlreadyOnTarget, installed: true}, nil
	}
	if !ready.Ready {
		return outcome{state: model.StateRejected, reason: ready.Reason}, nil
	}

	r.commandID = otaflow.CommandID(r.runID, otaflow.CommandSeqUpdate)
	cmd := otaflow.CommandRequest{
		TenantID: in.TenantID, DeviceID: in.DeviceID, CampaignID: in.CampaignID, CommandID: r.commandID,
		Firmware: in.Firmware, RollbackVersion: r.from, TTL: in.Policy.CommandTTL, IssuedAt: workflow.Now(ctx),
	}
	err = r.step(ctx, otaflow.ActivitySendMQTTCommand, r.acts.SendMQTTCommand, cmd, nil, commandOptions())
	switch {
	case isCanceled(ctx, err):
		// The command may have reached the broker: tell the device to drop it.
		return outcome{state: model.StateCanceled, reason: otaflow.ReasonCanceledByRequest, cancelCommand: true}, nil
	case err != nil:
		return outcome{state: model.StateFailed, reason: "command_not_delivered: " + errText(err), cancelCommand: true}, nil
	}
	r.enter(ctx, model.StateCommanded, r.commandID)
	return r.legacyFollowDevice(ctx, reports)
}

// legacyFollowDevice consumes the device's reports until a terminal one, each wait bounded by
// the step timeout and all of them by the update timeout.
func (r *run) legacyFollowDevice(ctx workflow.Context, reports workflow.Channel) (outcome, error) {
	p := r.in.Policy
	deadline := workflow.Now(ctx).Add(p.UpdateTimeout)
	for {
		rep, timedOut, canceled := r.legacyAwaitReport(ctx, reports, r.commandID, p.StepTimeout, deadline)
		switch {
		case canceled:
			return outcome{state: model.StateCanceled, reason: otaflow.ReasonCanceledByRequest, cancelCommand: true}, nil
		case timedOut != "":
			return outcome{state: model.StateTimedOut, reason: timedOut, cancelCommand: true}, nil
		}
		if st, ok := rep.Status.ProgressState(); ok {
			if st == model.StateDownloading {
				r.progress = rep.ProgressPercent
			}
			if r.state != st {
				r.enter(ctx, st, "")
			}
			continue
		}
		switch rep.Status {
		case otaflow.ReportInstalled:
			return r.legacyVerify(ctx, rep, reports)
		case otaflow.ReportFailed:
			return r.legacyRollback(ctx, reports, reportReason(rep))
		case otaflow.ReportRejected:
			return outcome{state: model.StateRejected, reason: "device_rejected: " + rep.ErrorCode}, nil
		case otaflow.ReportCanceled:
			return outcome{state: model.StateCanceled, reason: "device_canceled"}, nil
		}
	}
}

func (r *run) legacyVerify(ctx workflow.Context, rep otaflow.DeviceReport, reports workflow.Channel) (outcome, error) {
	r.progress = 100
	r.enter(ctx, model.StateVerifying, rep.FirmwareVersion)
	req := otaflow.VerifyRequest{TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CampaignID: r.in.CampaignID,
		Firmware: r.in.Firmware, Report: rep}
	err := r.step(ctx, otaflow.ActivityVerifyFirmware, r.acts.VerifyFirmware, req, nil, commandOptions())
	switch {
	case err == nil:
		return outcome{state: model.StateSucceeded, installed: true}, nil
	case isCanceled(ctx, err):
		return outcome{state: model.StateCanceled, reason: otaflow.ReasonCanceledByRequest}, nil
	}
	if reason, ok := customReason(err); ok && reason == ErrReasonVerifyMismatch {
		return r.legacyRollback(ctx, reports, otaflow.ReasonVerifyMismatch+": "+customDetail(err))
	}
	return outcome{}, fmt.Errorf("verify_firmware: %w", err)
}

// legacyRollback asks the device to return to the version it ran before and waits (bounded)
// for its confirmation.
func (r *run) legacyRollback(ctx workflow.Context, reports workflow.Channel, failure string) (outcome, error) {
	r.reason = failure
	r.enter(ctx, model.StateRollingBack, failure)
	// Rollback must complete even if the run is canceled meanwhile.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	cmdID := otaflow.CommandID(r.runID, otaflow.CommandSeqRollback)
	req := otaflow.CommandRequest{
		TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CampaignID: r.in.CampaignID, CommandID: cmdID,
		Firmware: r.in.Firmware, RollbackVersion: r.from, TTL: r.in.Policy.CommandTTL, IssuedAt: workflow.Now(ctx),
	}
	if err := r.step(dctx, otaflow.ActivityRollback, r.acts.Rollback, req, nil, commandOptions()); err != nil {
		return outcome{state: model.StateFailed, reason: failure + "; rollback not sent: " + errText(err)}, nil
	}
	deadline := workflow.Now(dctx).Add(r.in.Policy.RollbackTimeout)
	for {
		rep, timedOut, _ := r.legacyAwaitReport(dctx, reports, cmdID, r.in.Policy.RollbackTimeout, deadline)
		if timedOut != "" {
			return outcome{state: model.StateFailed, reason: failure + "; " + otaflow.ReasonRollbackNoAnswer}, nil
		}
		switch rep.Status {
		case otaflow.ReportRolledBack:
			return outcome{state: model.StateRolledBack, reason: failure}, nil
		case otaflow.ReportFailed, otaflow.ReportRejected:
			return outcome{state: model.StateFailed, reason: failure + "; rollback failed: " + rep.ErrorCode}, nil
		}
	}
}

// legacyAwaitReport waits for the next report answering commandID. It returns a non-empty
// timedOut reason when the step or the overall deadline passes first.
func (r *run) legacyAwaitReport(ctx workflow.Context, reports workflow.Channel, commandID string,
	step time.Duration, deadline time.Time) (rep otaflow.DeviceReport, timedOut string, canceled bool) {
	remaining := deadline.Sub(workflow.Now(ctx))
	reason := otaflow.ReasonNoReport
	if remaining <= step {
		step, reason = remaining, otaflow.ReasonUpdateTimeout
	}
	if step <= 0 {
		return rep, reason, false
	}
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimer(tctx, step)
	for {
		var fired, got bool
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(reports, func(c workflow.Channel, _ bool) {
			c.Receive(ctx, &rep)
			got = true
		})
		sel.AddFuture(timer, func(f workflow.Future) { fired = true })
		sel.AddReceive(ctx.Done(), func(c workflow.Channel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		switch {
		case ctx.Err() != nil:
			return rep, "", true
		case fired:
			return rep, reason, false
		case got && rep.CommandID == commandID:
			return rep, "", false
		}
		// A report for another command (a late answer to an earlier one) is ignored.
	}
}
