package devicesim

import (
	"fmt"
	"strings"
)

// Behavior selects how a virtual device reacts to commands and whether it sends heartbeats.
type Behavior int

const (
	// BehaviorNormal sends heartbeats and carries out every command.
	BehaviorNormal Behavior = iota + 1
	// BehaviorOffline sends no heartbeats and ignores commands, as if powered off.
	BehaviorOffline
	// BehaviorBadChecksum downloads images that never match their signed SHA-256, so
	// every update fails with error code "image_mismatch".
	BehaviorBadChecksum
	// BehaviorInstallFailure downloads and verifies images but fails during install
	// with error code "install_failed"; the running version stays unchanged.
	BehaviorInstallFailure
	// BehaviorSilent sends heartbeats but never answers a command.
	BehaviorSilent
	// BehaviorBootLoop installs and reports INSTALLED, then keeps rebooting on the new
	// image: its boot counter climbs with every heartbeat.
	BehaviorBootLoop
	// BehaviorSlotFallback installs and reports INSTALLED, then its bootloader gives up on
	// the new image and boots the old slot again (A/B revert): its heartbeats name the
	// old version.
	BehaviorSlotFallback
	// BehaviorLossyReports carries out commands normally, but none of its final reports
	// reaches the broker; it answers status requests truthfully.
	BehaviorLossyReports
)

var behaviorNames = map[Behavior]string{
	BehaviorNormal:         "normal",
	BehaviorOffline:        "offline",
	BehaviorBadChecksum:    "bad_checksum",
	BehaviorInstallFailure: "install_failure",
	BehaviorSilent:         "silent",
	BehaviorBootLoop:       "boot_loop",
	BehaviorSlotFallback:   "slot_fallback",
	BehaviorLossyReports:   "lossy_reports",
}

// String returns the name ParseBehavior accepts, e.g. "install_failure".
func (b Behavior) String() string {
	if name, ok := behaviorNames[b]; ok {
		return name
	}
	return fmt.Sprintf("Behavior(%d)", int(b))
}

func (b Behavior) valid() bool {
	_, ok := behaviorNames[b]
	return ok
}

// ParseBehavior parses a behavior name as printed by String. It ignores case and
// accepts '-' in place of '_' ("install-failure").
func ParseBehavior(s string) (Behavior, error) {
	name := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	for b, n := range behaviorNames {
		if n == name {
			return b, nil
		}
	}
	return 0, fmt.Errorf("unknown device behavior %q (want normal, offline, bad_checksum, install_failure, silent, boot_loop, slot_fallback or lossy_reports)", s)
}
