package otaupdate

import (
	"time"

	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/otaflow"
)

// listener follows what a device says about one command. When the device is silent it
// asks where it stands (status requests, per devicerun.SilenceLimits), so a report the
// control plane missed — a worker or the broker was down — costs seconds, not a step
// timeout. It keeps one timer per wait, not one per report.
type listener struct {
	r       *run
	reports workflow.Channel
	cmdID   string
	limits  devicerun.SilenceLimits
	silence devicerun.Silence
	// asked holds the ids of this listener's status requests: only their answers say
	// whether the device knows the command.
	asked  []string
	resent bool

	timer       workflow.Future
	timerAt     time.Time
	cancelTimer workflow.CancelFunc
}

// event is what next returns: a report about the command, a time-out, or cancellation.
type event struct {
	report   otaflow.DeviceReport
	timedOut string
	canceled bool
}

// newListener starts listening for cmdID: silence is bounded by step, the whole wait by
// total.
func (r *run) newListener(ctx workflow.Context, reports workflow.Channel, cmdID string, step, total time.Duration) *listener {
	now := workflow.Now(ctx)
	return &listener{r: r, reports: reports, cmdID: cmdID,
		limits:  devicerun.SilenceLimits{ProbeAfter: r.in.Policy.ProbeAfter, StepTimeout: step, Deadline: now.Add(total)},
		silence: devicerun.Silence{LastHeard: now}}
}

// next returns the next report about the command. When an answer shows the device never
// received the command, resend is called once; a second such answer times the run out.
func (l *listener) next(ctx workflow.Context, resend func() error) event {
	for {
		d := l.limits.Next(l.silence, workflow.Now(ctx))
		switch d.Action {
		case devicerun.TimeOut:
			l.stop()
			return event{timedOut: d.Reason}
		case devicerun.Probe:
			heard, err := l.catchUp(ctx)
			if isCanceled(ctx, err) {
				return event{canceled: true}
			}
			if heard {
				continue
			}
			id, err := l.r.probe(ctx)
			if isCanceled(ctx, err) {
				return event{canceled: true}
			}
			l.asked = append(l.asked, id)
			l.silence = l.silence.Probed(workflow.Now(ctx))
			continue
		}
		l.arm(ctx, d.At)
		var rep otaflow.DeviceReport
		var got, fired bool
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(l.reports, func(c workflow.Channel, _ bool) {
			c.Receive(ctx, &rep)
			got = true
		})
		sel.AddFuture(l.timer, func(workflow.Future) { fired = true })
		sel.AddReceive(ctx.Done(), func(c workflow.Channel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		switch {
		case ctx.Err() != nil:
			return event{canceled: true}
		case fired:
			l.timer = nil
			continue
		case !got:
			continue
		}
		now := workflow.Now(ctx)
		switch {
		case rep.CommandID == l.cmdID:
			if rep.FirmwareVersion != "" {
				l.r.running = rep.FirmwareVersion
			}
			if rep.Restated {
				l.silence = l.silence.Answered(now)
			} else {
				l.silence = l.silence.Heard(now)
			}
			return event{report: rep}
		case rep.Restated && l.askedFor(rep.RequestID):
			// The device answered, naming another command (or none): it never got ours.
			if rep.FirmwareVersion != "" {
				l.r.running = rep.FirmwareVersion
			}
			if l.resent {
				l.stop()
				return event{timedOut: otaflow.ReasonCommandNotReceived}
			}
			l.resent = true
			if err := resend(); err != nil {
				if isCanceled(ctx, err) {
					return event{canceled: true}
				}
				l.stop()
				return event{timedOut: otaflow.ReasonCommandNotReceived + "; resend failed: " + errText(err)}
			}
			l.silence = l.silence.Heard(workflow.Now(ctx))
		}
		// Anything else answers an earlier command or request: ignored.
	}
}

// catchUp reads the progress recorded for a quiet update command and reports whether it
// shows the device spoke since the run last heard from it; then the silence restarts
// from then and no status request is needed. A read that fails is logged: the run asks.
func (l *listener) catchUp(ctx workflow.Context) (bool, error) {
	r := l.r
	if !r.quiet || l.cmdID != r.commandID {
		return false, nil
	}
	var p otaflow.RunProgress
	req := otaflow.RunProgressRequest{TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CommandID: l.cmdID}
	if err := r.step(ctx, otaflow.ActivityRunProgress, r.acts.RunProgress, req, &p, probeOptions()); err != nil {
		if !isCanceled(ctx, err) {
			workflow.GetLogger(ctx).Warn("recorded progress not read")
		}
		return false, err
	}
	if p.CommandID != l.cmdID {
		return false, nil
	}
	r.recorded = p
	if !p.HeardAt.After(l.silence.LastHeard) {
		return false, nil
	}
	l.silence = l.silence.Heard(p.HeardAt)
	return true, nil
}

func (l *listener) askedFor(requestID string) bool {
	for _, id := range l.asked {
		if id == requestID {
			return true
		}
	}
	return false
}

// arm makes sure a timer wakes the run by at. A pending timer due no later is kept: the
// run wakes, finds it is early, and arms again — cheaper than a timer per report.
func (l *listener) arm(ctx workflow.Context, at time.Time) {
	if l.timer != nil && !l.timerAt.After(at) {
		return
	}
	l.stop()
	tctx, cancel := workflow.WithCancel(ctx)
	l.timer, l.timerAt, l.cancelTimer = workflow.NewTimer(tctx, at.Sub(workflow.Now(ctx))), at, cancel
}

// stop cancels the pending timer, if any.
func (l *listener) stop() {
	if l.timer != nil && !l.timer.IsReady() {
		l.cancelTimer()
	}
	l.timer = nil
}

// probe sends a status request and returns its command id.
func (r *run) probe(ctx workflow.Context) (string, error) {
	id := otaflow.CommandID(r.route, otaflow.CommandSeqStatusRequest+r.probes)
	r.probes++
	req := otaflow.CommandRequest{TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CampaignID: r.in.CampaignID,
		CommandID: id, RequestStatus: true, TTL: r.in.Policy.CommandTTL, IssuedAt: workflow.Now(ctx)}
	err := r.step(ctx, otaflow.ActivitySendMQTTCommand, r.acts.SendMQTTCommand, req, nil, probeOptions())
	if err != nil && !isCanceled(ctx, err) {
		workflow.GetLogger(ctx).Warn("status request not sent")
	}
	return id, err
}
