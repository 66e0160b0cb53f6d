package rollout

import "github.com/otaplane/ota/pkg/otaflow"

// GateOpen reports whether a campaign may start the next wave once wave w has finished:
// always after an operator's approval; never by itself with a manual gate; with an auto
// gate when the wave's successes reach the threshold share of its finished devices
// (canceled ones do not count either way).
func GateOpen(g otaflow.GatePolicy, w otaflow.WaveStats, approved bool) bool {
	if approved {
		return true
	}
	if g.Mode == otaflow.GateManual {
		return false
	}
	counted := w.Finished - w.Canceled
	if counted == 0 {
		return true
	}
	return float64(w.Succeeded)*100 >= g.SuccessThresholdPercent*float64(counted)
}
