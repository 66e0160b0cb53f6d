package devicerun

import (
	"fmt"
	"time"

	"github.com/otaplane/ota/pkg/otaflow"
)

// SoakRules say what a healthy device looks like while it soaks on a new image.
type SoakRules struct {
	// Target is the version the device must keep running.
	Target string
	// Start is when the soak began; only heartbeats after it speak for the new image.
	Start time.Time
	// BaselineBoots is the device's boot counter when the soak began.
	BaselineBoots int64
	// MaxReboots is how many boots the device may add during the soak.
	MaxReboots int
	// MaxSilence is the longest a device may go without a heartbeat.
	MaxSilence time.Duration
}

// CheckEvery is how often a soak looks at the device: often enough that a silence of
// 1.5 × MaxSilence cannot pass between two looks, and at least once at the end.
func (r SoakRules) CheckEvery(soak time.Duration) time.Duration {
	every := max(r.MaxSilence/2, time.Second)
	return min(every, soak)
}

// Judge returns a non-empty failure reason when the device is not healthy at now.
func (r SoakRules) Judge(h otaflow.DeviceHealth, now time.Time) string {
	switch {
	case !h.Found:
		return otaflow.ReasonSoakSilent + ": device no longer registered"
	case h.LastSeenAt == nil || now.Sub(*h.LastSeenAt) > r.MaxSilence:
		return fmt.Sprintf("%s: no heartbeat for more than %s", otaflow.ReasonSoakSilent, r.MaxSilence)
	case h.LastSeenAt.After(r.Start) && h.ReportedVersion != r.Target:
		return fmt.Sprintf("%s: running %q, want %q", otaflow.ReasonSoakFellBack, h.ReportedVersion, r.Target)
	case h.BootCount-r.BaselineBoots > int64(r.MaxReboots):
		return fmt.Sprintf("%s: %d reboots during the soak, at most %d allowed", otaflow.ReasonSoakRebootLoop,
			h.BootCount-r.BaselineBoots, r.MaxReboots)
	}
	return ""
}
