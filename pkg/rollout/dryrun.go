package rollout

import (
	"time"

	"github.com/otaplane/ota/pkg/devicerun"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// Candidate is one device of a campaign, in dispatch order. Device is nil when the
// campaign names a device that no longer exists.
type Candidate struct {
	ID     string
	Device *model.Device
}

// Plan is what executing a campaign would do now.
type Plan struct {
	Total    int
	Eligible int
	Waves    []PlannedWave
	Excluded []Exclusion
}

// PlannedWave lists the devices one wave would update.
type PlannedWave struct {
	Wave    int
	Name    string
	Devices []string
	// ConfirmOnly are the wave's MQTT devices that already report the target version:
	// commanded like the others, they only confirm what they run.
	ConfirmOnly []string
}

// Exclusion is a device that would not be updated, and why.
type Exclusion struct {
	DeviceID string
	Wave     int
	Reason   string
}

// DryRun cuts the candidates into the policy's waves exactly as the campaign does, and
// checks each device as its run would at now: eligible, confirm-only, or excluded with
// the reason its run would end with.
func DryRun(p otaflow.CampaignPolicy, candidates []Candidate, fw otaflow.FirmwareRef, policy otaflow.UpdatePolicy,
	now time.Time) Plan {
	out := Plan{Total: len(candidates), Excluded: []Exclusion{}}
	bounds := CutWaves(p.Waves, len(candidates))
	for w := range bounds {
		pw := PlannedWave{Wave: w, Devices: []string{}, ConfirmOnly: []string{}}
		if w < len(p.Waves) {
			pw.Name = p.Waves[w].Name
		}
		out.Waves = append(out.Waves, pw)
	}
	wave := 0
	for i, c := range candidates {
		for i >= bounds[wave] {
			wave++
		}
		if c.Device == nil {
			out.Excluded = append(out.Excluded, Exclusion{DeviceID: c.ID, Wave: wave, Reason: otaflow.ReasonDeviceNotFound})
			continue
		}
		check := devicerun.Readiness(*c.Device, fw, policy, now)
		lorawan := c.Device.Transport == model.TransportLoRaWAN
		switch {
		// A FUOTA deployment leaves out a LoRaWAN device whose uplinks name the target.
		case lorawan && check.ReportsTarget && check.Reason != otaflow.ReasonHardwareMismatch:
			out.Excluded = append(out.Excluded, Exclusion{DeviceID: c.ID, Wave: wave, Reason: otaflow.ReasonAlreadyOnTarget})
		case !check.Ready:
			out.Excluded = append(out.Excluded, Exclusion{DeviceID: c.ID, Wave: wave, Reason: check.Reason})
		default:
			out.Waves[wave].Devices = append(out.Waves[wave].Devices, c.ID)
			if check.ReportsTarget {
				out.Waves[wave].ConfirmOnly = append(out.Waves[wave].ConfirmOnly, c.ID)
			}
			out.Eligible++
		}
	}
	return out
}
