package webhook

import "testing"

func TestParseEventTypes(t *testing.T) {
	tests := []struct {
		in []string
		ok bool
	}{
		{[]string{"campaign.state_changed"}, true},
		{[]string{"campaign.aborted", "campaign.gate_waiting"}, true},
		{nil, false},
		{[]string{"campaign.deleted"}, false},
		{[]string{"campaign.aborted", "campaign.aborted"}, false},
		{[]string{"wave.finished", "device.offline", "device_runs.finished"}, true},
		{[]string{"campaign.state_changed", "campaign.gate_waiting", "campaign.aborted", "device_runs.finished",
			"wave.finished", "device.offline", "campaign.aborted"}, false},
	}
	for _, tt := range tests {
		if _, err := ParseEventTypes(tt.in); (err == nil) != tt.ok {
			t.Errorf("ParseEventTypes(%v) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}

func TestEventsOfStateChange(t *testing.T) {
	tests := []struct {
		state string
		want  []EventType
	}{
		{"RUNNING", []EventType{CampaignStateChanged}},
		{"WAITING_APPROVAL", []EventType{CampaignStateChanged, CampaignGateWaiting}},
		{"ABORTED", []EventType{CampaignStateChanged, CampaignAborted}},
		{"COMPLETED", []EventType{CampaignStateChanged}},
	}
	for _, tt := range tests {
		got := EventsOfStateChange(tt.state)
		if len(got) != len(tt.want) {
			t.Fatalf("EventsOfStateChange(%s) = %v, want %v", tt.state, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("EventsOfStateChange(%s) = %v, want %v", tt.state, got, tt.want)
			}
		}
	}
}

func TestWentOffline(t *testing.T) {
	tests := []struct {
		state, reason string
		want          bool
	}{
		{"TIMED_OUT", "no_report_within_step_timeout", true},
		{"TIMED_OUT", "update_timeout", true},
		{"FAILED", "silent_during_soak: no heartbeat for more than 2m0s", true},
		{"ROLLED_BACK", "silent_during_soak: device no longer registered", true},
		{"FAILED", "verification_mismatch", false},
		{"REJECTED", "offline", false}, // never started: offline before, not during, the update
		{"SUCCEEDED", "", false},
		{"CANCELED", "campaign_canceled", false},
	}
	for _, tt := range tests {
		if got := WentOffline(tt.state, tt.reason); got != tt.want {
			t.Errorf("WentOffline(%s, %q) = %v, want %v", tt.state, tt.reason, got, tt.want)
		}
	}
}
