package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestDryRun(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	seen := now.Add(-10 * time.Second)
	stale := now.Add(-time.Hour)
	low := 5
	dev := func(id, version string, last *time.Time, battery *int, transport model.Transport) *model.Device {
		return &model.Device{ID: id, HardwareModel: "board", FirmwareVersion: version, LastSeenAt: last,
			BatteryPercent: battery, Transport: transport}
	}
	candidates := []Candidate{
		{ID: "a", Device: dev("a", "1.0.0", &seen, nil, model.TransportMQTT)},
		{ID: "gone"},
		{ID: "b", Device: dev("b", "1.1.0", &seen, nil, model.TransportMQTT)}, // on target already: confirms
		{ID: "c", Device: dev("c", "1.0.0", &stale, nil, model.TransportMQTT)},
		{ID: "d", Device: dev("d", "1.0.0", &seen, &low, model.TransportMQTT)},
		{ID: "e", Device: dev("e", "1.1.0", &seen, nil, model.TransportLoRaWAN)},
		{ID: "f", Device: dev("f", "1.0.0", &seen, nil, model.TransportLoRaWAN)},
	}
	p := otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Name: "canary", Count: 2}, {Percent: 100}}}
	fw := otaflow.FirmwareRef{Version: "1.1.0", HardwareModel: "board"}
	policy := otaflow.UpdatePolicy{HeartbeatMaxAge: time.Minute, MinBatteryPercent: 20}
	got := DryRun(p, candidates, fw, policy, now)
	assert.Equal(t, Plan{
		Total: 7, Eligible: 3,
		Waves: []PlannedWave{
			{Wave: 0, Name: "canary", Devices: []string{"a"}, ConfirmOnly: []string{}},
			{Wave: 1, Devices: []string{"b", "f"}, ConfirmOnly: []string{"b"}},
		},
		Excluded: []Exclusion{
			{DeviceID: "gone", Wave: 0, Reason: otaflow.ReasonDeviceNotFound},
			{DeviceID: "c", Wave: 1, Reason: otaflow.ReasonOffline},
			{DeviceID: "d", Wave: 1, Reason: otaflow.ReasonLowBattery},
			{DeviceID: "e", Wave: 1, Reason: otaflow.ReasonAlreadyOnTarget},
		},
	}, got)
}

// TestDryRunCutsWavesAsTheCampaignDoes: the dry run's waves are CutWaves' bounds.
func TestDryRunCutsWavesAsTheCampaignDoes(t *testing.T) {
	p := otaflow.CampaignPolicy{Waves: []otaflow.Wave{{Percent: 1}, {Percent: 10}, {Percent: 100}}}
	var c []Candidate
	for range 250 {
		c = append(c, Candidate{ID: "x"})
	}
	plan := DryRun(p, c, otaflow.FirmwareRef{}, otaflow.UpdatePolicy{}, time.Now())
	bounds := CutWaves(p.Waves, 250)
	counts := make([]int, len(bounds))
	for _, e := range plan.Excluded {
		counts[e.Wave]++
	}
	assert.Equal(t, []int{bounds[0], bounds[1] - bounds[0], bounds[2] - bounds[1]}, counts)
}
