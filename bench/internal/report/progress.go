package report

import "math"

// Sample is one look at a running campaign.
type Sample struct {
	Seconds  float64 `json:"s"` // since execute was sent
	Finished int     `json:"finished"`
	// InFlight is device runs started and not yet finished (neither PENDING nor final).
	InFlight int `json:"in_flight"`
	// BusyPct is the machine's CPU use (all CPUs) since the previous sample.
	BusyPct float64 `json:"cpu_busy_pct"`
}

// Progress is how a campaign advanced over time: whether it slowed down as it went
// (first against last tenth), how many runs it kept in flight, and how busy the machine
// was meanwhile.
type Progress struct {
	// CPUUtilPct is the machine's CPU utilisation (all CPUs) from execute to completion.
	CPUUtilPct   float64 `json:"cpu_utilisation_pct"`
	MeanInFlight float64 `json:"mean_in_flight"`
	PeakInFlight int     `json:"peak_in_flight"`
	// The first tenth of the devices ÷ the time until it had finished; the last tenth ÷
	// the time from 90 % to 100 % finished. Both include one run's latency.
	FirstTenthPerMin float64 `json:"first_10pct_devices_per_min"`
	LastTenthPerMin  float64 `json:"last_10pct_devices_per_min"`
	LastToFirst      float64 `json:"last_to_first_ratio"`
	// DecilePerMin is the pace of each tenth of the devices in turn.
	DecilePerMin []float64 `json:"decile_devices_per_min"`
	// Samples are the looks the figures come from, thinned to at most maxSamples.
	Samples []Sample `json:"samples,omitempty"`
}

const maxSamples = 300

// SummarizeProgress derives the progress figures of a campaign of devices from its
// samples (in time order) and the machine's busy and total CPU time over the campaign.
func SummarizeProgress(devices int, samples []Sample, busy, total float64) Progress {
	var p Progress
	if total > 0 {
		p.CPUUtilPct = Round(100*busy/total, 1)
	}
	if len(samples) == 0 || devices <= 0 {
		return p
	}
	area, prev := 0.0, 0.0
	for _, s := range samples {
		area += float64(s.InFlight) * (s.Seconds - prev)
		prev = s.Seconds
		p.PeakInFlight = max(p.PeakInFlight, s.InFlight)
	}
	if end := samples[len(samples)-1].Seconds; end > 0 {
		p.MeanInFlight = Round(area/end, 1)
	}
	tenth := float64(devices) / 10
	reached := make([]float64, 11) // seconds until k tenths had finished
	for k := 1; k <= 10; k++ {
		reached[k] = timeToReach(samples, tenth*float64(k))
	}
	for k := 1; k <= 10; k++ {
		d := reached[k] - reached[k-1]
		if math.IsNaN(d) || d <= 0 {
			p.DecilePerMin = append(p.DecilePerMin, 0)
			continue
		}
		p.DecilePerMin = append(p.DecilePerMin, Round(tenth/d*60, 1))
	}
	p.FirstTenthPerMin, p.LastTenthPerMin = p.DecilePerMin[0], p.DecilePerMin[9]
	if p.FirstTenthPerMin > 0 {
		p.LastToFirst = Round(p.LastTenthPerMin/p.FirstTenthPerMin, 3)
	}
	p.Samples = thin(samples, maxSamples)
	return p
}

// timeToReach is when finished first reached n, interpolated between the two samples
// around it (NaN if it never did).
func timeToReach(samples []Sample, n float64) float64 {
	prevT, prevN := 0.0, 0.0
	for _, s := range samples {
		if float64(s.Finished) >= n {
			if f := float64(s.Finished) - prevN; f > 0 {
				return prevT + (s.Seconds-prevT)*(n-prevN)/f
			}
			return s.Seconds
		}
		prevT, prevN = s.Seconds, float64(s.Finished)
	}
	return math.NaN()
}

// thin keeps at most n samples, evenly spread, always the last.
func thin(samples []Sample, n int) []Sample {
	if len(samples) <= n {
		return samples
	}
	out := make([]Sample, 0, n)
	step := float64(len(samples)-1) / float64(n-1)
	for i := range n {
		out = append(out, samples[int(math.Round(float64(i)*step))])
	}
	return out
}
