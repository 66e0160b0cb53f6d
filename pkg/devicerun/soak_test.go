package devicerun

import (
	"strings"
	"testing"
	"time"

	"github.com/otaplane/ota/pkg/otaflow"
)

func TestSoakJudge(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rules := SoakRules{Target: "1.1.0", Start: start, BaselineBoots: 7, MaxReboots: 1, MaxSilence: time.Minute}
	seen := func(d time.Duration) *time.Time { v := start.Add(d); return &v }
	tests := []struct {
		name   string
		health otaflow.DeviceHealth
		now    time.Duration
		want   string // prefix of the reason; "" = healthy
	}{
		{"healthy", otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: seen(50 * time.Second), BootCount: 7}, time.Minute, ""},
		{"one reboot allowed", otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: seen(50 * time.Second), BootCount: 8}, time.Minute, ""},
		{"reboot loop", otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: seen(50 * time.Second), BootCount: 10}, time.Minute, otaflow.ReasonSoakRebootLoop},
		{"fell back", otaflow.DeviceHealth{Found: true, ReportedVersion: "1.0.0", LastSeenAt: seen(50 * time.Second), BootCount: 8}, time.Minute, otaflow.ReasonSoakFellBack},
		{"old version from before the soak does not count", otaflow.DeviceHealth{Found: true, ReportedVersion: "1.0.0", LastSeenAt: seen(-time.Second), BootCount: 7}, 30 * time.Second, ""},
		{"silent", otaflow.DeviceHealth{Found: true, ReportedVersion: "1.1.0", LastSeenAt: seen(time.Second), BootCount: 7}, 2 * time.Minute, otaflow.ReasonSoakSilent},
		{"never seen", otaflow.DeviceHealth{Found: true}, time.Second, otaflow.ReasonSoakSilent},
		{"deleted", otaflow.DeviceHealth{}, time.Second, otaflow.ReasonSoakSilent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rules.Judge(tt.health, start.Add(tt.now))
			if tt.want == "" && got != "" || tt.want != "" && !strings.HasPrefix(got, tt.want) {
				t.Fatalf("Judge = %q, want prefix %q", got, tt.want)
			}
		})
	}
}

func TestSoakCheckEvery(t *testing.T) {
	tests := []struct {
		silence, soak, want time.Duration
	}{
		{2 * time.Minute, 10 * time.Minute, time.Minute},
		{2 * time.Minute, 30 * time.Second, 30 * time.Second},
		{time.Second, time.Minute, time.Second},
	}
	for _, tt := range tests {
		if got := (SoakRules{MaxSilence: tt.silence}).CheckEvery(tt.soak); got != tt.want {
			t.Errorf("CheckEvery(silence %v, soak %v) = %v, want %v", tt.silence, tt.soak, got, tt.want)
		}
	}
}
