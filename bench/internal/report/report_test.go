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
	cpu := func(total float64) map[string]float64 { return map[string]float64{"server_total": total} }
	runs := []Run{
		{Name: "sqlite-10", Scenario: "sqlite", Devices: 10, Workers: 1, Persistence: "sqlite",
			Campaign: &Campaign{DevicesPerMin: 6500, ExecuteMs: 9, CPUMsPerDevice: cpu(14),
				Progress: &Progress{FirstTenthPerMin: 6000, LastTenthPerMin: 5000, LastToFirst: 0.83}},
			Small:  &SmallCampaigns{Size: 10, ExecuteMs: []float64{4, 5, 6}, ExecuteP50Ms: 5},
			Status: &StatusLoad{Clients: 50, Requests: 100, Latency: Latency{P99Ms: 30}},
			Raw:    &RawFanout{DevicesPerMin: 50000, Ratio: 0.13}},
		{Name: "sqlite-2w-10", Scenario: "sqlite-2w", Devices: 10, Workers: 2, Persistence: "sqlite",
			Campaign: &Campaign{DevicesPerMin: 1000, ExecuteMs: 50, CPUMsPerDevice: cpu(30)}},
		{Name: "postgres-10", Scenario: "postgres", Devices: 10, Workers: 1, Persistence: "postgres",
			Campaign: &Campaign{DevicesPerMin: 3000, ExecuteMs: 9, CPUMsPerDevice: cpu(25),
				Progress: &Progress{FirstTenthPerMin: 3000, LastTenthPerMin: 1000, LastToFirst: 0.33}},
			Raw: &RawFanout{DevicesPerMin: 50000, Ratio: 0.06}},
	}
	got := map[string]*bool{}
	for _, c := range Evaluate(runs) {
		got[c.Measure+"/"+c.Run] = c.Met
	}
	want := map[string]*bool{
		"Throughput, 10 devices, sqlite/sqlite-10":                   met(true),
		"Throughput, 10 devices, sqlite/sqlite-2w-10":                nil, // two workers: shown, not targeted
		"Throughput, 10 devices, postgres/postgres-10":               met(false),
		"Server CPU per device run, sqlite/sqlite-10":                met(true),
		"Server CPU per device run, postgres/postgres-10":            met(false),
		"Orchestrated ÷ raw fan-out, sqlite/sqlite-10":               met(true),
		"Orchestrated ÷ raw fan-out, postgres/postgres-10":           met(false),
		"No decay, 10 devices: last ÷ first tenth/sqlite-10":         met(true),
		"No decay, 10 devices: last ÷ first tenth/postgres-10":       met(false),
		"Execute, 10-device campaign/sqlite-10":                      met(true),
		"Status p99, 50 clients/sqlite-10":                           met(false),
		"Execute p50, 10-device campaigns/sqlite-10":                 met(true),
		"2 workers ÷ 1 worker, 10 devices/sqlite-2w-10 vs sqlite-10": nil,
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: no such check in %v", k, keys(got))
		case (g == nil) != (w == nil) || g != nil && *g != *w:
			t.Errorf("%s: met = %v, want %v", k, show(g), show(w))
		}
	}
}

func keys(m map[string]*bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func show(b *bool) string {
	if b == nil {
		return "—"
	}
	if *b {
		return "met"
	}
	return "not met"
}
