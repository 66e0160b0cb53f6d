// Package runshape measures what Cadence costs per device run depending on the shape of
// the workflows that carry the runs: one workflow per device, as OTA_UPDATE_DEVICE is
// today, or many devices in one workflow. Both shapes take every device through the
// same steps as a device run that goes well — a readiness check and a command (local
// activities), a wait for the device's report bounded by a timer, a record (a local
// activity) — so the difference is the workflow shape alone.
package runshape

import (
	"context"
	"time"

	"go.uber.org/cadence/activity"
	"go.uber.org/cadence/workflow"
)

// Registered names of the benchmark's workflows and signal.
const (
	perDeviceWorkflow = "runshape_per_device"
	groupWorkflow     = "runshape_group"
	reportSignal      = "report"
	// reportsSignal carries several devices' reports to a group at once.
	reportsSignal = "reports"
)

// silence bounds each device's wait as a device run's silence timer does; it never
// fires in the benchmark, where every device answers.
const silence = 15 * time.Minute

// deviceReport is what a simulated device signals when it has installed.
type deviceReport struct {
	DeviceID string
}

// deviceSteps are a device run's activities, run as local activities.
type deviceSteps interface {
	Check(ctx context.Context, deviceID string) (bool, error)
	Command(ctx context.Context, deviceID string) error
	Record(ctx context.Context, deviceID string) error
}

// workflows are the two shapes, bound to the activities they run.
type workflows struct {
	steps deviceSteps
}

// steps are the benchmark's activities; they hold the fleet that answers the commands.
type steps struct {
	fleet *fleet
}

// Check stands for check_device_ready: every device is ready.
func (s *steps) Check(context.Context, string) (bool, error) { return true, nil }

// Command stands for send_mqtt_command: the device answers later with a signal to the
// workflow that sent it.
func (s *steps) Command(ctx context.Context, deviceID string) error {
	run := activity.GetInfo(ctx).WorkflowExecution
	s.fleet.command(run.ID, run.RunID, deviceID)
	return nil
}

// Record stands for update_device: the outcome is counted.
func (s *steps) Record(_ context.Context, deviceID string) error {
	s.fleet.finished(deviceID)
	return nil
}

func localOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{ScheduleToCloseTimeout: 30 * time.Second}
}

// deviceRun takes one device through the steps; reports carries that device's reports.
func (w *workflows) deviceRun(ctx workflow.Context, deviceID string, reports workflow.Channel) error {
	ctx = workflow.WithLocalActivityOptions(ctx, localOptions())
	var ready bool
	if err := workflow.ExecuteLocalActivity(ctx, w.steps.Check, deviceID).Get(ctx, &ready); err != nil {
		return err
	}
	if err := workflow.ExecuteLocalActivity(ctx, w.steps.Command, deviceID).Get(ctx, nil); err != nil {
		return err
	}
	tctx, cancelTimer := workflow.WithCancel(ctx)
	timer := workflow.NewTimer(tctx, silence)
	sel := workflow.NewSelector(ctx)
	var r deviceReport
	sel.AddReceive(reports, func(c workflow.Channel, _ bool) { c.Receive(ctx, &r) })
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.Select(ctx)
	cancelTimer()
	return workflow.ExecuteLocalActivity(ctx, w.steps.Record, deviceID).Get(ctx, nil)
}

// versioned records one version marker, as every device run's GetVersion does.
func versioned(ctx workflow.Context) {
	workflow.GetVersion(ctx, "runshape", workflow.DefaultVersion, 1)
}

// PerDevice is one workflow per device.
func (w *workflows) PerDevice(ctx workflow.Context, deviceID string) error {
	versioned(ctx)
	return w.deviceRun(ctx, deviceID, workflow.GetSignalChannel(ctx, reportSignal))
}

// Group runs every device of deviceIDs in its own coroutine. One coroutine reads the
// workflow's signals — one report each, or several at once — and hands each report to its
// device's channel; a report naming a device outside the group is dropped.
func (w *workflows) Group(ctx workflow.Context, deviceIDs []string) error {
	versioned(ctx)
	inbox := make(map[string]workflow.Channel, len(deviceIDs))
	for _, id := range deviceIDs {
		inbox[id] = workflow.NewBufferedChannel(ctx, 1)
	}
	deliver := func(r deviceReport) {
		if c, ok := inbox[r.DeviceID]; ok {
			c.SendAsync(r)
		}
	}
	one, several := workflow.GetSignalChannel(ctx, reportSignal), workflow.GetSignalChannel(ctx, reportsSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(one, func(c workflow.Channel, _ bool) {
			var r deviceReport
			c.Receive(ctx, &r)
			deliver(r)
		})
		sel.AddReceive(several, func(c workflow.Channel, _ bool) {
			var rs []deviceReport
			c.Receive(ctx, &rs)
			for _, r := range rs {
				deliver(r)
			}
		})
		for {
			sel.Select(ctx)
		}
	})
	var firstErr error
	wg := workflow.NewWaitGroup(ctx)
	for _, id := range deviceIDs {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := w.deviceRun(ctx, id, inbox[id]); err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait(ctx)
	return firstErr
}
