package chaos

import (
	"context"
	"fmt"
	"strings"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/report"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

const stateSucceeded = "SUCCEEDED"

// finalStates are the campaign device states after which a run has ended.
var finalStates = map[string]bool{
	stateSucceeded: true, "FAILED": true, "ROLLED_BACK": true, "TIMED_OUT": true, "REJECTED": true, "CANCELED": true,
}

// verify compares, for every device, what the control plane recorded with what the
// simulated device really runs, and counts the UPDATE commands it received.
func (e *env) verify(ctx context.Context, campaignID string, res *report.FaultRun) error {
	cds, err := e.client.CampaignDevices(ctx, campaignID)
	if err != nil {
		return fmt.Errorf("campaign devices: %w", err)
	}
	byID := make(map[string]otaapi.CampaignDevice, len(cds))
	for _, cd := range cds {
		byID[cd.DeviceID] = cd
	}
	res.Succeeded, res.NotSucceededBy = 0, map[string]int{}
	for _, id := range e.ids {
		cd, ok := byID[id]
		switch {
		case !ok:
			res.NotSucceeded = append(res.NotSucceeded, report.DeviceIssue{DeviceID: id, Detail: "not in the campaign's device list"})
		case cd.State == stateSucceeded:
			res.Succeeded++
		default:
			outcome := cd.State
			if cd.Reason != "" {
				outcome += " (" + cd.Reason + ")"
			}
			res.NotSucceededBy[outcome]++
			res.NotSucceeded = append(res.NotSucceeded, report.DeviceIssue{DeviceID: id,
				Detail: fmt.Sprintf("%s after %d attempt(s), run %s", outcome, cd.Attempts, cd.RunID)})
		}

		real, ok := e.fleet.Device(id)
		if !ok {
			return fmt.Errorf("device %s missing from the simulator", id)
		}
		dev, err := e.client.GetDevice(ctx, id)
		if err != nil {
			return fmt.Errorf("device %s: %w", id, err)
		}
		hist, err := e.client.DeviceHistory(ctx, id)
		if err != nil {
			return fmt.Errorf("device %s history: %w", id, err)
		}
		if p := historyProblems(real.FirmwareVersion, dev.FirmwareVersion, hist, finalStates[cd.State]); len(p) > 0 {
			res.WrongHistoryList = append(res.WrongHistoryList, report.DeviceIssue{DeviceID: id, Detail: strings.Join(p, "; ")})
		}

		u := countCommands(e.fleet.Commands(id))
		if allowed := max(1, cd.Attempts); u.distinctUpdates > allowed {
			res.ExtraUpdateList = append(res.ExtraUpdateList, report.DeviceIssue{DeviceID: id,
				Detail: fmt.Sprintf("%d distinct UPDATE commands for %d attempt(s): %s", u.distinctUpdates, cd.Attempts,
					strings.Join(u.updateIDs, ", "))})
		}
		if dup := u.updateDeliveries - u.distinctUpdates; dup > 0 {
			res.DuplicateDeliveries += dup
			res.DuplicateList = append(res.DuplicateList, report.DeviceIssue{DeviceID: id,
				Detail: fmt.Sprintf("%d deliveries of %d UPDATE command(s)", u.updateDeliveries, u.distinctUpdates)})
		}
		res.StatusRequests += u.statusRequests
	}
	res.Lost = len(e.ids) - res.Succeeded
	res.WrongHistories = len(res.WrongHistoryList)
	res.ExtraUpdateDevices = len(res.ExtraUpdateList)
	res.DuplicateDevices = len(res.DuplicateList)
	return nil
}

// historyProblems says how the control plane's record of a device disagrees with the
// version the device really runs: the device record, and the newest history row (a
// SUCCEEDED row must name the running version, and every row that says what the device
// ran must be right). A device whose run has ended must have a row.
func historyProblems(running, recorded string, hist []otaapi.HistoryRow, runEnded bool) []string {
	var out []string
	if recorded != running {
		out = append(out, fmt.Sprintf("device record says %s, device runs %s", recorded, running))
	}
	if len(hist) == 0 {
		if runEnded {
			out = append(out, "no firmware-history row although the run ended")
		}
		return out
	}
	last := hist[0]
	for _, h := range hist[1:] {
		if h.CreatedAt.After(last.CreatedAt) || (h.CreatedAt.Equal(last.CreatedAt) && h.ID > last.ID) {
			last = h
		}
	}
	if last.Outcome == stateSucceeded && last.ToVersion != running {
		out = append(out, fmt.Sprintf("last history row SUCCEEDED to %s, device runs %s (run %s)", last.ToVersion, running, last.RunID))
	}
	if last.RunningVersion != "" && last.RunningVersion != running {
		out = append(out, fmt.Sprintf("last history row (%s) says the device ran %s, device runs %s (run %s)", last.Outcome,
			last.RunningVersion, running, last.RunID))
	}
	return out
}

// commandCounts is what one device received.
type commandCounts struct {
	updateDeliveries int
	distinctUpdates  int
	updateIDs        []string // distinct, in arrival order
	statusRequests   int
}

func countCommands(cmds []*devicev1.Command) commandCounts {
	var c commandCounts
	seen := map[string]bool{}
	for _, cmd := range cmds {
		switch cmd.GetType() {
		case devicev1.CommandType_COMMAND_TYPE_UPDATE:
			c.updateDeliveries++
			if id := cmd.GetCommandId(); !seen[id] {
				seen[id] = true
				c.updateIDs = append(c.updateIDs, id)
			}
		case devicev1.CommandType_COMMAND_TYPE_STATUS_REQUEST:
			c.statusRequests++
		}
	}
	c.distinctUpdates = len(c.updateIDs)
	return c
}
