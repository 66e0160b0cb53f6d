package report

import "fmt"

// The targets the control plane is held to (from the performance issue).
const (
	TargetDevicesPerMin = 2000.0 // for the largest fleet
	TargetExecuteMs     = 100.0  // p50, and not growing with the fleet
	TargetStatusP99Ms   = 25.0   // under StatusClients concurrent clients
	TargetWorkerMiB     = 300.0  // peak RSS with the whole fleet in flight
)

// "Not growing with size": a full campaign's execute may take at most this factor times
// the small campaigns' p50, plus a fixed slack for a single sample's noise.
const (
	executeGrowthFactor = 2.0
	executeGrowthSlack  = 10.0
)

// Check is one target checked against one run. Met is nil for a figure that has no
// target (shown for comparison only).
type Check struct {
	Measure string  `json:"measure"`
	Run     string  `json:"run"`
	Target  string  `json:"target"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Detail  string  `json:"detail,omitempty"`
	Met     *bool   `json:"met"`
}

func met(ok bool) *bool { return &ok }

// Evaluate checks every run against the targets. Throughput targets apply to the runs at
// the largest fleet size, which is 10,000 devices by default.
func Evaluate(runs []Run) []Check {
	largest := 0
	for _, r := range runs {
		if r.Campaign != nil {
			largest = max(largest, r.Devices)
		}
	}
	var out []Check
	for _, r := range runs {
		if c := r.Campaign; c != nil && r.Devices == largest {
			out = append(out, Check{Measure: fmt.Sprintf("Throughput, %s devices", Int(r.Devices)), Run: r.Name,
				Target: "≥ " + Int(int(TargetDevicesPerMin)) + " devices/min", Value: c.DevicesPerMin, Unit: "devices/min",
				Met: met(c.DevicesPerMin >= TargetDevicesPerMin)})
		}
	}
	for _, r := range runs {
		if s := r.Small; s != nil && len(s.ExecuteMs) > 0 {
			out = append(out, Check{Measure: fmt.Sprintf("Execute p50, %d-device campaigns", s.Size), Run: r.Name,
				Target: fmt.Sprintf("< %.0f ms", TargetExecuteMs), Value: s.ExecuteP50Ms, Unit: "ms",
				Detail: fmt.Sprintf("%d samples", len(s.ExecuteMs)), Met: met(s.ExecuteP50Ms < TargetExecuteMs)})
		}
	}
	for _, r := range runs {
		c := r.Campaign
		if c == nil || r.Small == nil || len(r.Small.ExecuteMs) == 0 {
			continue
		}
		limit := min(TargetExecuteMs, executeGrowthFactor*r.Small.ExecuteP50Ms+executeGrowthSlack)
		out = append(out, Check{Measure: fmt.Sprintf("Execute, %s-device campaign", Int(r.Devices)), Run: r.Name,
			Target: fmt.Sprintf("< %.0f ms and ≤ %.0f× small p50 + %.0f ms", TargetExecuteMs, executeGrowthFactor, executeGrowthSlack),
			Value:  c.ExecuteMs, Unit: "ms", Detail: fmt.Sprintf("small p50 %.1f ms → limit %.1f ms", r.Small.ExecuteP50Ms, limit),
			Met: met(c.ExecuteMs < limit)})
	}
	for _, r := range runs {
		if s := r.Status; s != nil {
			out = append(out, Check{Measure: fmt.Sprintf("Status p99, %d clients", s.Clients), Run: r.Name,
				Target: fmt.Sprintf("< %.0f ms", TargetStatusP99Ms), Value: s.P99Ms, Unit: "ms",
				Detail: fmt.Sprintf("%s requests, %d errors", Int(s.Requests), s.Errors),
				Met:    met(s.P99Ms < TargetStatusP99Ms && s.Errors == 0 && s.Requests > 0)})
		}
	}
	for _, r := range runs {
		if m := r.Memory; m != nil {
			detail := fmt.Sprintf("%s of %s runs commanded", Int(m.Commanded), Int(r.Devices))
			out = append(out, Check{Measure: fmt.Sprintf("Worker peak RSS, %s runs in flight", Int(r.Devices)), Run: r.Name,
				Target: fmt.Sprintf("< %.0f MiB", TargetWorkerMiB), Value: m.WorkerPeakMiB, Unit: "MiB", Detail: detail,
				Met: met(m.WorkerPeakMiB < TargetWorkerMiB && m.AllCommanded)})
		}
	}
	for _, r := range runs {
		if c := r.Campaign; c != nil {
			out = append(out, Check{Measure: fmt.Sprintf("Server CPU per device run, %s", r.Persistence), Run: r.Name,
				Target: "— (reference: 60–95 ms Cadence alone)", Value: c.CPUMsPerDevice["server_total"], Unit: "ms",
				Detail: fmt.Sprintf("Cadence %.1f, PostgreSQL %.1f", c.CPUMsPerDevice["cadence"], c.CPUMsPerDevice["postgres"])})
		}
	}
	for _, r := range runs {
		if x := r.Raw; x != nil {
			out = append(out, Check{Measure: "Raw fan-out, orchestrated ÷ raw", Run: r.Name, Target: "—",
				Value: x.Ratio, Unit: "ratio", Detail: fmt.Sprintf("raw %s devices/min", Int(int(x.DevicesPerMin)))})
		}
	}
	for _, p := range workerPairs(runs) {
		out = append(out, Check{Measure: fmt.Sprintf("2 workers ÷ 1 worker, %s devices", Int(p.one.Devices)),
			Run: p.two.Name + " vs " + p.one.Name, Target: "—", Value: p.speedup, Unit: "ratio",
			Detail: fmt.Sprintf("%s vs %s devices/min", Int(int(p.two.Campaign.DevicesPerMin)), Int(int(p.one.Campaign.DevicesPerMin)))})
	}
	return out
}

type workerPair struct {
	one, two Run
	speedup  float64
}

// workerPairs matches each multi-worker run with the one-worker run of the same
// persistence and size.
func workerPairs(runs []Run) []workerPair {
	var out []workerPair
	for _, two := range runs {
		if two.Workers < 2 || two.Campaign == nil {
			continue
		}
		for _, one := range runs {
			if one.Workers == 1 && one.Campaign != nil && one.Memory == nil && one.Persistence == two.Persistence &&
				one.Devices == two.Devices && one.Campaign.DevicesPerMin > 0 {
				out = append(out, workerPair{one: one, two: two,
					speedup: Round(two.Campaign.DevicesPerMin/one.Campaign.DevicesPerMin, 2)})
				break
			}
		}
	}
	return out
}

// Int formats an integer with thousands separators.
func Int(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + Int(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
