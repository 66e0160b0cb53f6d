package webhook

import (
	"fmt"
	"slices"
	"strings"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// EventType names what happened.
type EventType string

// Event types a tenant may subscribe to.
const (
	// CampaignStateChanged: any change of a campaign's state.
	CampaignStateChanged EventType = "campaign.state_changed"
	// CampaignGateWaiting: a campaign waits for an approval.
	CampaignGateWaiting EventType = "campaign.gate_waiting"
	// CampaignAborted: a campaign's abort rule stopped it.
	CampaignAborted EventType = "campaign.aborted"
	// DeviceRunsFinished: a batch of a campaign's device runs finished (the outcomes the
	// campaign collected at once).
	DeviceRunsFinished EventType = "device_runs.finished"
	// WaveFinished: every device of a campaign's wave has its final outcome (retries
	// included); sent before the gate to the next wave is decided.
	WaveFinished EventType = "wave.finished"
	// DeviceOffline: devices went silent during their update — their runs ended without
	// the device answering (a batch, like DeviceRunsFinished).
	DeviceOffline EventType = "device.offline"
)

// EventTypes lists every event type.
var EventTypes = []EventType{CampaignStateChanged, CampaignGateWaiting, CampaignAborted, DeviceRunsFinished,
	WaveFinished, DeviceOffline}

// EventsOfStateChange are the events a campaign's change to state emits.
func EventsOfStateChange(state string) []EventType {
	switch state {
	case "WAITING_APPROVAL":
		return []EventType{CampaignStateChanged, CampaignGateWaiting}
	case "ABORTED":
		return []EventType{CampaignStateChanged, CampaignAborted}
	}
	return []EventType{CampaignStateChanged}
}

// WentOffline reports whether a device run's outcome means the device went silent during
// the update: it stopped answering before the run could finish (TIMED_OUT), or fell
// silent while the new image was on trial.
func WentOffline(state, reason string) bool {
	return state == string(model.StateTimedOut) || strings.HasPrefix(reason, otaflow.ReasonSoakSilent)
}

// maxSubscriptions bounds an endpoint's list (each type once).
var maxSubscriptions = len(EventTypes)

// ParseEventTypes validates a subscription: known types, each once, at least one.
func ParseEventTypes(names []string) ([]EventType, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("subscribe to at least one of %v", EventTypes)
	}
	if len(names) > maxSubscriptions {
		return nil, fmt.Errorf("at most %d event types", maxSubscriptions)
	}
	out := make([]EventType, 0, len(names))
	for _, n := range names {
		t := EventType(n)
		if !slices.Contains(EventTypes, t) {
			return nil, fmt.Errorf("unknown event type %q (known: %v)", n, EventTypes)
		}
		if slices.Contains(out, t) {
			return nil, fmt.Errorf("event type %q listed twice", n)
		}
		out = append(out, t)
	}
	return out, nil
}
