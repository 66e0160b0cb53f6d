package rollout

import "github.com/otaplane/ota/pkg/otaflow"

// CutWaves splits total devices (in dispatch order) into waves: element i is the last
// sequence number of wave i. Every wave has at least one device while devices remain,
// and the last wave always runs to the end.
func CutWaves(waves []otaflow.Wave, total int) []int {
	if len(waves) == 0 {
		return []int{total}
	}
	bounds := make([]int, 0, len(waves))
	end := 0
	for i, w := range waves {
		next := end
		switch {
		case i == len(waves)-1:
			next = total
		case w.Count > 0:
			next = end + w.Count
		default:
			// Round up so a small percentage of a small fleet still gets a device.
			next = int((w.Percent*float64(total) + 99.999999) / 100)
		}
		next = max(min(next, total), min(end+1, total))
		bounds = append(bounds, next)
		end = next
	}
	return bounds
}

// WaveStart is the sequence number after which wave i begins.
func WaveStart(bounds []int, i int) int {
	if i == 0 {
		return 0
	}
	return bounds[i-1]
}

// NewWaveStats are the empty counters of each wave, named and sized.
func NewWaveStats(waves []otaflow.Wave, bounds []int) []otaflow.WaveStats {
	out := make([]otaflow.WaveStats, len(bounds))
	for i := range out {
		out[i].Index = i
		if i < len(waves) {
			out[i].Name = waves[i].Name
		}
		out[i].Size = bounds[i] - WaveStart(bounds, i)
	}
	return out
}
