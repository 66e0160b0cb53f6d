package report

import "testing"

func TestSummarizeProgress(t *testing.T) {
	tests := []struct {
		name        string
		devices     int
		samples     []Sample
		first, last float64
		mean        float64
		peak        int
	}{
		{
			name:    "steady pace",
			devices: 100,
			// 10 devices every 6 s with 20 in flight throughout.
			samples: func() []Sample {
				var s []Sample
				for i := 1; i <= 10; i++ {
					s = append(s, Sample{Seconds: float64(6 * i), Finished: 10 * i, InFlight: 20})
				}
				return s
			}(),
			first: 100, last: 100, mean: 20, peak: 20,
		},
		{
			name:    "slows down: last tenth at half the pace",
			devices: 100,
			samples: []Sample{{Seconds: 6, Finished: 10, InFlight: 10}, {Seconds: 54, Finished: 90, InFlight: 30},
				{Seconds: 66, Finished: 100}},
			first: 100, last: 50, mean: (10*6 + 30*48 + 0*12) / 66.0, peak: 30,
		},
		{
			name:    "interpolates between samples",
			devices: 10,
			samples: []Sample{{Seconds: 2, Finished: 0}, {Seconds: 4, Finished: 2}, {Seconds: 10, Finished: 10}},
			// One device (the first tenth) is reached at 3 s; the last one takes 0.75 s.
			first: 20, last: 80, mean: 0, peak: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := SummarizeProgress(tt.devices, tt.samples, 30, 60)
			if p.FirstTenthPerMin != tt.first || p.LastTenthPerMin != tt.last {
				t.Errorf("first/last tenth = %v/%v devices/min, want %v/%v (deciles %v)", p.FirstTenthPerMin,
					p.LastTenthPerMin, tt.first, tt.last, p.DecilePerMin)
			}
			if p.MeanInFlight != Round(tt.mean, 1) || p.PeakInFlight != tt.peak {
				t.Errorf("in flight mean %v peak %d, want %v %d", p.MeanInFlight, p.PeakInFlight, Round(tt.mean, 1), tt.peak)
			}
			if p.CPUUtilPct != 50 {
				t.Errorf("CPU utilisation %v, want 50", p.CPUUtilPct)
			}
			if len(p.DecilePerMin) != 10 {
				t.Errorf("%d deciles", len(p.DecilePerMin))
			}
		})
	}
}

func TestThinKeepsEndsAndBound(t *testing.T) {
	var s []Sample
	for i := range 1000 {
		s = append(s, Sample{Seconds: float64(i)})
	}
	out := thin(s, 300)
	if len(out) != 300 || out[0].Seconds != 0 || out[299].Seconds != 999 {
		t.Fatalf("thin: %d samples, first %v, last %v", len(out), out[0].Seconds, out[len(out)-1].Seconds)
	}
}
