package rollout

import (
	"fmt"

	"github.com/otaplane/ota/pkg/otaflow"
)

// AbortReason applies the abort rules to the whole campaign's finished devices (every
// wave, canceled ones left out): the first rule whose failures exceed its threshold, once
// at least its minimum of devices has finished, stops the campaign. It returns why, or ""
// when the campaign goes on.
func AbortReason(p otaflow.AbortPolicy, waves []otaflow.WaveStats) string {
	var all otaflow.WaveStats
	for _, w := range waves {
		all.Finished += w.Finished - w.Canceled
		all.Failed += w.Failed
		all.TimedOut += w.TimedOut
		all.Rejected += w.Rejected
	}
	for _, rule := range p.Rules {
		if all.Finished == 0 || all.Finished < rule.MinFinished {
			continue
		}
		failed := Failures(all, rule.FailureType)
		if float64(failed)*100 > rule.ThresholdPercent*float64(all.Finished) {
			return fmt.Sprintf("%s failures %d of %d finished exceed %.1f%%", rule.FailureType, failed, all.Finished,
				rule.ThresholdPercent)
		}
	}
	return ""
}
