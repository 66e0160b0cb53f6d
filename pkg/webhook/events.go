package webhook

import (
	"fmt"
	"slices"
)

// EventType names what happened.
type EventType string

// Event types a tenant may subscribe to.
const (
	CampaignStateChanged EventType = "campaign.state_changed"
	CampaignWaveFinished EventType = "campaign.wave_finished"
	CampaignGateWaiting  EventType = "campaign.gate_waiting"
	CampaignAborted      EventType = "campaign.aborted"
	DeviceRunsFinished   EventType = "device_runs.finished"
	DeviceOfflineDuring  EventType = "device.offline_during_update"
)

// EventTypes lists every event type.
var EventTypes = []EventType{CampaignStateChanged, CampaignWaveFinished, CampaignGateWaiting, CampaignAborted,
	DeviceRunsFinished, DeviceOfflineDuring}

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
