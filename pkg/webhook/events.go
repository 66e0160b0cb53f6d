package webhook

import (
	"fmt"
	"slices"
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
)

// EventTypes lists every event type.
var EventTypes = []EventType{CampaignStateChanged, CampaignGateWaiting, CampaignAborted, DeviceRunsFinished}

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
