package report

import "testing"

func TestPercentileNearestRank(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {95, 10}, {99, 10}, {10, 1}, {0, 1}} {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestInt(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := Int(n); got != want {
			t.Errorf("Int(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestEvaluateMarksTargets(t *testing.T) {
	runs := []Run{
		{Name: "a-10", Devices: 10, Workers: 1, Persistence: "sqlite",
			Campaign: &Campaign{DevicesPerMin: 2500, ExecuteMs: 9, CPUMsPerDevice: map[string]float64{}},
			Small:    &SmallCampaigns{Size: 10, ExecuteMs: []float64{4, 5, 6}, ExecuteP50Ms: 5},
			Status:   &StatusLoad{Clients: 50, Requests: 100, Latency: Latency{P99Ms: 30}}},
		{Name: "b-10", Devices: 10, Workers: 2, Persistence: "sqlite",
			Campaign: &Campaign{DevicesPerMin: 1000, ExecuteMs: 50, CPUMsPerDevice: map[string]float64{}}},
	}
	got := map[string]*bool{}
	for _, c := range Evaluate(runs) {
		got[c.Measure+"/"+c.Run] = c.Met
	}
	want := map[string]bool{
		"Throughput, 10 devices/a-10":           true,
		"Throughput, 10 devices/b-10":           false,
		"Execute, 10-device campaign/a-10":      true,
		"Status p99, 50 clients/a-10":           false,
		"Execute p50, 10-device campaigns/a-10": true,
	}
	for k, w := range want {
		if got[k] == nil || *got[k] != w {
			t.Errorf("%s: met = %v, want %v", k, got[k], w)
		}
	}
	if _, ok := got["2 workers ÷ 1 worker, 10 devices/b-10 vs a-10"]; !ok {
		t.Errorf("no 1 vs 2 worker comparison in %v", got)
	}
}
