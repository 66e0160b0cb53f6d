package otaupdate

import (
	"time"

	"go.uber.org/cadence/workflow"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// soak keeps an installed, verified device under watch for the policy's soak: it must
// keep heartbeating on the new version, without a reboot loop and without its bootloader
// falling back to the old slot. Only then is the run SUCCEEDED.
func (r *run) soak(ctx workflow.Context, installed otaflow.DeviceReport, reports workflow.Channel) (outcome, error) {
	p := r.in.Policy
	start := workflow.Now(ctx)
	end := start.Add(p.Soak)
	r.enter(ctx, model.StateSoaking, "until "+end.UTC().Format(time.RFC3339))
	rules := devicerun.SoakRules{Target: r.in.Firmware.Version, Start: start, MaxReboots: p.SoakMaxReboots,
		MaxSilence: p.HeartbeatMaxAge}
	health, err := r.health(ctx)
	if err != nil {
		return r.soakStopped(ctx, err)
	}
	// The device's own counter at INSTALLED is exact; heartbeats may lag the install reboot.
	rules.BaselineBoots = health.BootCount
	if installed.BootCount > 0 {
		rules.BaselineBoots = int64(installed.BootCount)
	}
	every := rules.CheckEvery(p.Soak)
	for {
		now := workflow.Now(ctx)
		if !now.Before(end) {
			return r.succeeded(), nil
		}
		if rep, reverted := r.awaitSoakCheck(ctx, reports, min(end.Sub(now), every)); reverted {
			if rep.FirmwareVersion != "" {
				r.running = rep.FirmwareVersion
			}
			return outcome{state: model.StateFailed, reason: otaflow.ReasonSoakFellBack + ": device reported " +
				string(rep.Status) + " " + rep.ErrorCode}, nil
		}
		if ctx.Err() != nil {
			return canceledOutcome(false), nil
		}
		if health, err = r.health(ctx); err != nil {
			return r.soakStopped(ctx, err)
		}
		if reason := rules.Judge(health, workflow.Now(ctx)); reason != "" {
			if health.LastSeenAt != nil && health.LastSeenAt.After(start) {
				r.running = health.ReportedVersion
			}
			return outcome{state: model.StateFailed, reason: reason}, nil
		}
	}
}

// awaitSoakCheck sleeps until the next health check; a report in which the device itself
// says the new image failed (its own health check reverted it) ends the wait early.
func (r *run) awaitSoakCheck(ctx workflow.Context, reports workflow.Channel, d time.Duration) (otaflow.DeviceReport, bool) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(tctx, d)
	for {
		var rep otaflow.DeviceReport
		var fired, got bool
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) { fired = true })
		sel.AddReceive(reports, func(c workflow.Channel, _ bool) {
			c.Receive(ctx, &rep)
			got = true
		})
		sel.AddReceive(ctx.Done(), func(c workflow.Channel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		switch {
		case ctx.Err() != nil, fired:
			return rep, false
		case got && rep.CommandID == r.commandID &&
			(rep.Status == otaflow.ReportFailed || rep.Status == otaflow.ReportRolledBack):
			return rep, true
		}
	}
}

func (r *run) health(ctx workflow.Context) (otaflow.DeviceHealth, error) {
	var h otaflow.DeviceHealth
	req := otaflow.HealthRequest{TenantID: r.in.TenantID, DeviceID: r.in.DeviceID, CampaignID: r.in.CampaignID}
	err := r.step(ctx, otaflow.ActivityCheckDeviceHealth, r.acts.CheckDeviceHealth, req, &h, commandOptions())
	return h, err
}

// soakStopped ends a soak whose health check could not run: canceled, or the database
// stayed unreachable through every retry.
func (r *run) soakStopped(ctx workflow.Context, err error) (outcome, error) {
	if isCanceled(ctx, err) {
		return canceledOutcome(false), nil
	}
	return outcome{state: model.StateFailed, reason: "soak_not_checked: " + errText(err)}, nil
}
