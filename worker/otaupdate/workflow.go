// Package otaupdate holds OTA_UPDATE_DEVICE: the per-device update state machine and its
// activities.
package otaupdate

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/cadence"
	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/worker/localfirst"
)

// activityTimeout bounds one attempt of a regular (fallback) activity. Every activity is
// a publish or a few statements: a worker that dies holding one is noticed in seconds.
const activityTimeout = 30 * time.Second

// changeDeviceTruth versions the run that asks a silent device where it stands, lets
// only the device's answer to its command end it SUCCEEDED, and may soak it. Runs
// started before it replay through legacy.go.
const changeDeviceTruth = "device-truth"

// changeQuietProgress versions the run whose update command is quiet
// (otaflow.CommandSeqQuietUpdate): its device's progress reports are recorded in the
// database, not signaled, so a run that goes well costs two decision tasks — one to
// check and command, one to verify and record — whatever the device reports on the
// way. The run reads the recorded progress when its device seems silent, before it
// asks. Runs started before it replay through the paths it skips.
const changeQuietProgress = "quiet-progress"

// Custom error reasons. Permanent ones are listed as non-retryable in the retry policies.
const (
	ErrReasonVerifyMismatch = "verification_mismatch"
	ErrReasonPermanent      = "permanent_failure"
)

var permanentReasons = []string{ErrReasonVerifyMismatch, ErrReasonPermanent}

// localOptions: every step first runs as a local activity — no task-list round trip and
// one history marker instead of three events and a decision task — which is what lets a
// 2-core box push thousands of devices a minute. A step that keeps failing locally is
// handed to a regular activity (commandOptions or recordOptions) with durable retries.
func localOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval:          200 * time.Millisecond,
			BackoffCoefficient:       2,
			MaximumInterval:          2 * time.Second,
			ExpirationInterval:       30 * time.Second,
			MaximumAttempts:          3,
			NonRetriableErrorReasons: permanentReasons,
		},
	}
}

func commandOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    activityTimeout,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval:          time.Second,
			BackoffCoefficient:       2,
			MaximumInterval:          30 * time.Second,
			ExpirationInterval:       10 * time.Minute,
			MaximumAttempts:          8,
			NonRetriableErrorReasons: permanentReasons,
		},
	}
}

// probeOptions: a status request that cannot be sent soon is not worth sending late;
// the silence rules ask again.
func probeOptions() workflow.ActivityOptions {
	o := commandOptions()
	o.RetryPolicy.ExpirationInterval = time.Minute
	o.RetryPolicy.MaximumAttempts = 3
	return o
}

// recordOptions retries for a long time: the outcome must reach the database.
func recordOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    activityTimeout,
		RetryPolicy: &cadence.RetryPolicy{
			InitialInterval:          time.Second,
			BackoffCoefficient:       2,
			MaximumInterval:          time.Minute,
			ExpirationInterval:       24 * time.Hour,
			NonRetriableErrorReasons: permanentReasons,
		},
	}
}

// Flow is OTA_UPDATE_DEVICE. It holds the activities only to run them as local
// activities; on replay their recorded results are used and nothing is called.
type Flow struct {
	acts *Activities
}

// NewFlow returns the workflow bound to its activities.
func NewFlow(a *Activities) *Flow { return &Flow{acts: a} }

// run is the state of one execution; every field changes only in workflow code.
type run struct {
	acts  *Activities
	in    otaflow.UpdateDeviceInput
	wfID  string
	runID string
	// route starts the run's command ids: its run id, or a member's GroupRoute.
	route     string
	state     model.DeviceState
	reason    string
	from      string
	commandID string
	progress  int
	history   []otaflow.Transition
	// running is the version the device last stated in a report or answer tied to this run.
	running string
	// probes numbers the run's status requests (their command ids).
	probes int
	// quiet: the update command is quiet; recorded is its progress as last read.
	quiet    bool
	recorded otaflow.RunProgress
}

func (r *run) enter(ctx workflow.Context, s model.DeviceState, detail string) {
	r.state = s
	r.history = append(r.history, otaflow.Transition{State: s, At: workflow.Now(ctx), Detail: detail})
	workflow.GetLogger(ctx).Debug("device run transition")
}

func (r *run) snapshot() (otaflow.DeviceRunState, error) {
	h := make([]otaflow.Transition, len(r.history))
	copy(h, r.history)
	return devicerun.WithRecorded(otaflow.DeviceRunState{
		DeviceID: r.in.DeviceID, CampaignID: r.in.CampaignID, State: r.state, Reason: r.reason,
		FromVersion: r.from, TargetVersion: r.in.Firmware.Version, CommandID: r.commandID,
		ProgressPercent: r.progress, History: h, WorkflowID: r.wfID, RunID: r.runID,
	}, r.recorded), nil
}

// Run is OTA_UPDATE_DEVICE.
//
// PENDING → CHECKING → COMMANDED → DOWNLOADING → INSTALLING → VERIFYING [→ SOAKING] →
// SUCCEEDED, with REJECTED (not eligible / refused), TIMED_OUT (silent, and no answer
// when asked), CANCELED, FAILED (incl. an unhealthy soak), and after a failed install
// ROLLING_BACK → ROLLED_BACK (or FAILED).
func (f *Flow) Run(ctx workflow.Context, in otaflow.UpdateDeviceInput) (otaflow.UpdateDeviceResult, error) {
	info := workflow.GetInfo(ctx)
	r := &run{acts: f.acts, in: in, wfID: info.WorkflowExecution.ID, runID: info.WorkflowExecution.RunID,
		route: info.WorkflowExecution.RunID}
	r.enter(ctx, model.StatePending, "")
	if err := workflow.SetQueryHandler(ctx, otaflow.QueryState, r.snapshot); err != nil {
		return otaflow.UpdateDeviceResult{}, fmt.Errorf("register query: %w", err)
	}
	reports := workflow.GetSignalChannel(ctx, otaflow.SignalDeviceReport)

	var outcome outcome
	var err error
	switch {
	case workflow.GetVersion(ctx, changeQuietProgress, workflow.DefaultVersion, 1) == 1:
		r.quiet = true
		outcome, err = r.execute(ctx, reports)
	case workflow.GetVersion(ctx, changeDeviceTruth, workflow.DefaultVersion, 1) == workflow.DefaultVersion:
		outcome, err = r.legacyExecute(ctx, reports)
	default:
		outcome, err = r.execute(ctx, reports)
	}
	if err != nil {
		return otaflow.UpdateDeviceResult{}, err
	}
	return r.finish(ctx, outcome)
}

// finish tells the device to drop a command the run abandons and records the outcome.
// Both run even when the run was canceled.
func (r *run) finish(ctx workflow.Context, outcome outcome) (otaflow.UpdateDeviceResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if outcome.cancelCommand {
		r.sendCancel(dctx)
	}
	r.reason = outcome.reason
	r.enter(dctx, outcome.state, outcome.reason)
	in := r.in
	rec := otaflow.OutcomeRequest{
		TenantID: in.TenantID, DeviceID: in.DeviceID, CampaignID: in.CampaignID, Firmware: in.Firmware,
		State: outcome.state, Reason: outcome.reason, FromVersion: r.from, Installed: outcome.installed,
		RunningVersion: r.running, WorkflowID: r.wfID, RunID: r.runID,
	}
	if err := r.step(dctx, otaflow.ActivityUpdateDevice, r.acts.UpdateDevice, rec, nil, recordOptions()); err != nil {
		return otaflow.UpdateDeviceResult{}, fmt.Errorf("record outcome %s: %w", outcome.state, err)
	}
	return otaflow.UpdateDeviceResult{State: outcome.state, Reason: outcome.reason,
		FromVersion: r.from, ToVersion: in.Firmware.Version}, nil
}

type outcome struct {
	state         model.DeviceState
	reason        string
	installed     bool
	cancelCommand bool
}

func canceledOutcome(cancelCommand bool) outcome {
	return outcome{state: model.StateCanceled, reason: otaflow.ReasonCanceledByRequest, cancelCommand: cancelCommand}
}

func (r *run) execute(ctx workflow.Context, reports workflow.Channel) (outcome, error) {
	r.enter(ctx, model.StateChecking, "")
	ready, err := r.awaitReady(ctx)
	switch {
	case isCanceled(ctx, err):
		return canceledOutcome(false), nil
	case err != nil:
		return outcome{}, fmt.Errorf("check_device_ready: %w", err)
	}
	r.from = ready.CurrentVersion
	if !ready.Ready {
		return outcome{state: model.StateRejected, reason: ready.Reason}, nil
	}
	// A device that already runs the target is commanded too: it confirms what it runs
	// in answer to the command, which a heartbeat cannot do.
	seq := otaflow.CommandSeqUpdate
	if r.quiet {
		seq = otaflow.CommandSeqQuietUpdate
	}
	r.commandID = otaflow.CommandID(r.route, seq)
	cmd := r.updateCommand(ctx)
	err = r.step(ctx, otaflow.ActivitySendMQTTCommand, r.acts.SendMQTTCommand, cmd, nil, commandOptions())
	switch {
	case isCanceled(ctx, err):
		// The command may have reached the broker: tell the device to drop it.
		return canceledOutcome(true), nil
	case err != nil:
		return outcome{state: model.StateFailed, reason: "command_not_delivered: " + errText(err), cancelCommand: true}, nil
	}
	r.enter(ctx, model.StateCommanded, r.commandID)
	return r.followDevice(ctx, reports, cmd)
}

func (r *run) updateCommand(ctx workflow.Context) otaflow.CommandRequest {
	in := r.in
	return otaflow.CommandRequest{
		TenantID: in.TenantID, DeviceID: in.DeviceID, CampaignID: in.CampaignID, CommandID: r.commandID,
		Firmware: in.Firmware, RollbackVersion: r.from, TTL: in.Policy.CommandTTL, IssuedAt: workflow.Now(ctx),
		AllowDowngrade: in.Policy.AllowDowngrade,
	}
}

// followDevice consumes the device's reports until a terminal one. Silence is bounded by
// the step timeout and the whole wait by the update timeout; a silent device is asked
// where it stands before either ends the run.
func (r *run) followDevice(ctx workflow.Context, reports workflow.Channel, cmd otaflow.CommandRequest) (outcome, error) {
	p := r.in.Policy
	l := r.newListener(ctx, reports, r.commandID, p.StepTimeout, p.UpdateTimeout)
	// The very same command, expiry included: a device that did get it drops the copy.
	resend := func() error {
		return r.step(ctx, otaflow.ActivitySendMQTTCommand, r.acts.SendMQTTCommand, cmd, nil, commandOptions())
	}
	for {
		ev := l.next(ctx, resend)
		switch {
		case ev.canceled:
			return canceledOutcome(true), nil
		case ev.timedOut != "":
			return outcome{state: model.StateTimedOut, reason: ev.timedOut, cancelCommand: true}, nil
		}
		rep := ev.report
		if rep.Status == otaflow.ReportDownloading || rep.Status == otaflow.ReportAccepted {
			r.progress = max(r.progress, min(max(rep.ProgressPercent, 0), 100))
		}
		if _, ok := rep.Status.ProgressState(); ok {
			if next, moved := devicerun.Progress(r.state, rep.Status); moved {
				r.enter(ctx, next, "")
			}
			continue
		}
		switch rep.Status {
		case otaflow.ReportInstalled:
			if r.in.Policy.Soak > 0 {
				l.stop() // the soak keeps its own time
			}
			return r.verify(ctx, rep, reports)
		case otaflow.ReportFailed:
			l.stop()
			return r.rollback(ctx, reports, reportReason(rep))
		case otaflow.ReportRejected:
			return outcome{state: model.StateRejected, reason: "device_rejected: " + rep.ErrorCode}, nil
		case otaflow.ReportCanceled:
			return outcome{state: model.StateCanceled, reason: "device_canceled"}, nil
		}
	}
}

func (r *run) verify(ctx workflow.Context, rep otaflow.DeviceReport, reports workflow.Channel) (outcome, error) {
	r.progress = 100
	r.enter(ctx, model.StateVerifying, rep.FirmwareVersion)
	req := otaflow.VerifyRequest{TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CampaignID: r.in.CampaignID,
		Firmware: r.in.Firmware, Report: rep}
	err := r.step(ctx, otaflow.ActivityVerifyFirmware, r.acts.VerifyFirmware, req, nil, commandOptions())
	switch {
	case err == nil:
		if r.in.Policy.Soak > 0 {
			return r.soak(ctx, rep, reports)
		}
		return r.succeeded(), nil
	case isCanceled(ctx, err):
		return canceledOutcome(false), nil
	}
	if reason, ok := customReason(err); ok && reason == ErrReasonVerifyMismatch {
		return r.rollback(ctx, reports, otaflow.ReasonVerifyMismatch+": "+customDetail(err))
	}
	return outcome{}, fmt.Errorf("verify_firmware: %w", err)
}

// succeeded is the outcome of a verified (and soaked) install; a device that ran the
// target before the command confirmed it rather than installed it.
func (r *run) succeeded() outcome {
	o := outcome{state: model.StateSucceeded, installed: true}
	if r.from == r.in.Firmware.Version {
		o.reason = otaflow.ReasonAlreadyOnTarget
	}
	return o
}

// rollback asks the device to return to the version it ran before and waits (bounded,
// asking when it is silent) for its confirmation.
func (r *run) rollback(ctx workflow.Context, reports workflow.Channel, failure string) (outcome, error) {
	r.reason = failure
	r.enter(ctx, model.StateRollingBack, failure)
	// Rollback must complete even if the run is canceled meanwhile.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	cmdID := otaflow.CommandID(r.route, otaflow.CommandSeqRollback)
	req := otaflow.CommandRequest{
		TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CampaignID: r.in.CampaignID, CommandID: cmdID,
		Firmware: r.in.Firmware, RollbackVersion: r.from, TTL: r.in.Policy.CommandTTL, IssuedAt: workflow.Now(ctx),
	}
	send := func() error {
		return r.step(dctx, otaflow.ActivityRollback, r.acts.Rollback, req, nil, commandOptions())
	}
	if err := send(); err != nil {
		return outcome{state: model.StateFailed, reason: failure + "; rollback not sent: " + errText(err)}, nil
	}
	timeout := r.in.Policy.RollbackTimeout
	l := r.newListener(dctx, reports, cmdID, timeout, timeout)
	for {
		ev := l.next(dctx, send)
		if ev.timedOut != "" {
			return outcome{state: model.StateFailed, reason: failure + "; " + otaflow.ReasonRollbackNoAnswer}, nil
		}
		switch ev.report.Status {
		case otaflow.ReportRolledBack:
			return outcome{state: model.StateRolledBack, reason: failure}, nil
		case otaflow.ReportFailed, otaflow.ReportRejected:
			return outcome{state: model.StateFailed, reason: failure + "; rollback failed: " + ev.report.ErrorCode}, nil
		}
	}
}

// sendCancel tells the device to drop a command it may still act on; best effort, the
// command's expiry is the backstop.
func (r *run) sendCancel(ctx workflow.Context) {
	if r.commandID == "" {
		return
	}
	opts := commandOptions()
	opts.RetryPolicy.MaximumAttempts = 3
	req := otaflow.CommandRequest{
		TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CommandID: otaflow.CommandID(r.route, otaflow.CommandSeqCancel),
		CancelsCommand: r.commandID, TTL: r.in.Policy.CommandTTL, IssuedAt: workflow.Now(ctx),
	}
	if err := r.step(ctx, otaflow.ActivitySendMQTTCommand, r.acts.SendMQTTCommand, req, nil, opts); err != nil {
		workflow.GetLogger(ctx).Warn("cancel command not sent")
	}
}

// step runs one activity local-first (see package localfirst).
func (r *run) step(ctx workflow.Context, name string, fn, arg, result interface{}, fallback workflow.ActivityOptions) error {
	return localfirst.Run(ctx, name, fn, arg, result, localOptions(), fallback)
}

// awaitReady checks the device, waiting with backoff (durable timers) while it is
// offline or low on battery, for at most the policy's ready window.
func (r *run) awaitReady(ctx workflow.Context) (otaflow.ReadyCheck, error) {
	deadline := workflow.Now(ctx).Add(r.in.Policy.ReadyRetryWindow)
	backoff := 2 * time.Second
	for {
		var ready otaflow.ReadyCheck
		if err := r.step(ctx, otaflow.ActivityCheckDeviceReady, r.acts.CheckDeviceReady, r.in, &ready, commandOptions()); err != nil {
			return ready, err
		}
		transient := ready.Reason == otaflow.ReasonOffline || ready.Reason == otaflow.ReasonLowBattery
		if !transient || !workflow.Now(ctx).Add(backoff).Before(deadline) {
			return ready, nil
		}
		if err := workflow.Sleep(ctx, backoff); err != nil {
			return ready, err
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func isCanceled(ctx workflow.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	var ce *cadence.CanceledError
	return errors.As(err, &ce)
}

func customReason(err error) (string, bool) {
	var ce *cadence.CustomError
	if errors.As(err, &ce) {
		return ce.Reason(), true
	}
	return "", false
}

func customDetail(err error) string {
	var ce *cadence.CustomError
	if errors.As(err, &ce) && ce.HasDetails() {
		var s string
		if ce.Details(&s) == nil {
			return s
		}
	}
	return ""
}

func errText(err error) string {
	if reason, ok := customReason(err); ok {
		if d := customDetail(err); d != "" {
			return reason + ": " + d
		}
		return reason
	}
	return err.Error()
}

func reportReason(rep otaflow.DeviceReport) string {
	if rep.ErrorCode == "" {
		return "device_failed"
	}
	return "device_failed: " + rep.ErrorCode
}
