package commands

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

// deviceRunEnds lists the states a device run ends in, and whether the device runs the
// new image.
var deviceRunEnds = map[string]bool{"SUCCEEDED": true, "FAILED": false, "ROLLED_BACK": false, "TIMED_OUT": false,
	"CANCELED": false, "REJECTED": false}

func (e *env) updateCommand() *cobra.Command {
	var firmwareID string
	var allowDowngrade bool
	var soak time.Duration
	var w watchFlags
	cmd := &cobra.Command{
		Use:   "update DEVICE",
		Short: "Update one device; --watch follows the run to its end (exit 1 unless it succeeds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"firmware_id": firmwareID}
			if allowDowngrade {
				body["allow_downgrade"] = true
			}
			if soak > 0 {
				body["soak"] = soak.String()
			}
			var started updateStarted
			err := e.call(cmd, apiclient.Request{Op: "startDeviceUpdate", Path: map[string]string{"id": args[0]}, JSON: body},
				&started, func() {
					fields(e.stdout, "device", started.DeviceID, "firmware", started.FirmwareID, "workflow", started.WorkflowID,
						"run", started.RunID, "cadence web", started.CadenceWebURL)
				})
			if err != nil || !w.watch {
				return err
			}
			return e.watchDevice(cmd, args[0], w)
		},
	}
	cmd.Flags().StringVar(&firmwareID, "firmware", "", "firmware id (required)")
	cmd.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "allow a lower version than the device runs")
	cmd.Flags().DurationVar(&soak, "soak", 0, "keep the device under watch this long before it counts as SUCCEEDED")
	_ = cmd.MarkFlagRequired("firmware")
	w.add(cmd, true)
	return cmd
}

// watchDevice prints each new transition of the device's run until it ends.
func (e *env) watchDevice(cmd *cobra.Command, id string, w watchFlags) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	shown := 0
	return e.poll(cmd.Context(), w, "the update of "+id, func() error {
		var st deviceRun
		_, err := c.Do(cmd.Context(), apiclient.Request{Op: "getDeviceUpdateState", Path: map[string]string{"id": id}}, &st)
		if err != nil {
			return err
		}
		for ; shown < len(st.History); shown++ {
			h := st.History[shown]
			fmt.Fprintf(e.stdout, "%s %s %s\n", h.At.UTC().Format("15:04:05"), h.State, h.Detail)
		}
		ok, ended := deviceRunEnds[st.State]
		if !ended {
			return errStillGoing
		}
		fmt.Fprintf(e.stdout, "device %s: %s %s\n", id, st.State, st.Reason)
		if !ok {
			return &exitError{code: exitNotCompleted}
		}
		return nil
	})
}
