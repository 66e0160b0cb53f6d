package report

import "fmt"

// The targets the control plane is held to (from the performance issues). Throughput and
// CPU targets hold on the machine where the benchmark ran; the ratio to the raw fan-out
// holds across machines.
const (
	TargetRawRatio      = 0.10  // orchestrated ÷ raw fan-out, same run
	TargetExecuteMs     = 100.0 // p50, and not growing with the fleet
	TargetStatusP99Ms   = 25.0  // under StatusClients concurrent clients
	TargetWorkerMiB     = 300.0 // peak RSS with the whole fleet in flight
	TargetLastToFirst   = 0.80  // pace of the last tenth ÷ pace of the first
	TargetStatusScaleMs = 25.0  // status p99 with the largest campaign in the database
)

// Throughput and server CPU per device run, per persistence, for the largest fleet.
var (
	TargetDevicesPerMin = map[string]float64{"sqlite": 6000, "postgres": 4000}
	TargetServerCPUMs   = map[string]float64{"sqlite": 15, "postgres": 20}
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

// targeted reports whether a run is held to the per-persistence targets: the single-worker
// scenario of its persistence at the largest regular fleet size.
func targeted(r Run, largest int) bool {
	return r.Campaign != nil && r.Devices == largest && r.Workers == 1 && r.Scenario == r.Persistence
}

// Evaluate checks every run against the targets. Throughput targets apply to the runs at
// the largest regular fleet size, which is 10,000 devices by default.
func Evaluate(runs []Run) []Check {
	largest := 0
	for _, r := range runs {
		if r.Campaign != nil && r.Scenario == r.Persistence {
			largest = max(largest, r.Devices)
		}
	}
	var out []Check
	for _, r := range runs {
		if x := r.Raw; x != nil && r.Campaign != nil {
			c := Check{Measure: "Orchestrated ÷ raw fan-out, " + r.Persistence, Run: r.Name,
				Target: fmt.Sprintf("≥ %.2f", TargetRawRatio), Value: x.Ratio, Unit: "ratio",
				Detail: fmt.Sprintf("%s vs raw %s devices/min", Int(int(r.Campaign.DevicesPerMin)), Int(int(x.DevicesPerMin)))}
			if targeted(r, largest) {
				c.Met = met(x.Ratio >= TargetRawRatio)
			} else {
				c.Target = "— (target applies to " + Int(largest) + " devices)"
			}
			out = append(out, c)
		}
	}
	for _, r := range runs {
		c := r.Campaign
		if c == nil || r.Devices != largest {
			continue
		}
		chk := Check{Measure: fmt.Sprintf("Throughput, %s devices, %s", Int(r.Devices), r.Persistence), Run: r.Name,
			Target: "—", Value: c.DevicesPerMin, Unit: "devices/min"}
		if t, ok := TargetDevicesPerMin[r.Persistence]; ok && targeted(r, largest) {
			chk.Target, chk.Met = "≥ "+Int(int(t))+" devices/min", met(c.DevicesPerMin >= t)
		}
		out = append(out, chk)
	}
	for _, r := range runs {
		c := r.Campaign
		if c == nil || r.Devices != largest {
			continue
		}
		v := c.CPUMsPerDevice["server_total"]
		chk := Check{Measure: "Server CPU per device run, " + r.Persistence, Run: r.Name, Target: "—", Value: v, Unit: "ms",
			Detail: fmt.Sprintf("Cadence %.1f, PostgreSQL %.1f, worker %.1f", c.CPUMsPerDevice["cadence"],
				c.CPUMsPerDevice["postgres"], c.CPUMsPerDevice["worker"])}
		if t, ok := TargetServerCPUMs[r.Persistence]; ok && targeted(r, largest) {
			chk.Target, chk.Met = fmt.Sprintf("≤ %.0f ms", t), met(v > 0 && v <= t)
		}
		out = append(out, chk)
	}
	for _, r := range runs {
		c := r.Campaign
		if c == nil || c.Progress == nil || (r.Devices < largest && r.Devices < 10000) {
			continue
		}
		p := c.Progress
		out = append(out, Check{Measure: fmt.Sprintf("No decay, %s devices: last ÷ first tenth", Int(r.Devices)), Run: r.Name,
			Target: fmt.Sprintf("≥ %.2f", TargetLastToFirst), Value: p.LastToFirst, Unit: "ratio",
			Detail: fmt.Sprintf("first %s, last %s devices/min", Int(int(p.FirstTenthPerMin)), Int(int(p.LastTenthPerMin))),
			Met:    met(p.LastToFirst >= TargetLastToFirst)})
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
	out = append(out, scaleChecks(runs)...)
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

// scaleChecks are the large-campaign figures: status under load is held to the same
// target as at 10,000 devices; the aggregate and the dry run are reported for scaling.
func scaleChecks(runs []Run) []Check {
	var out []Check
	for _, r := range runs {
		s := r.Scale
		if s == nil {
			continue
		}
		if l := s.Status; l != nil {
			out = append(out, Check{Measure: fmt.Sprintf("Status p99, %d clients, %s devices in the campaign", l.Clients, Int(s.Devices)),
				Run: r.Name, Target: fmt.Sprintf("< %.0f ms", TargetStatusScaleMs), Value: l.P99Ms, Unit: "ms",
				Detail: fmt.Sprintf("%s requests, %d errors", Int(l.Requests), l.Errors),
				Met:    met(l.P99Ms < TargetStatusScaleMs && l.Errors == 0 && l.Requests > 0)})
		}
		out = append(out, Check{Measure: fmt.Sprintf("Status aggregate (cache miss), %s devices", Int(s.Devices)), Run: r.Name,
			Target: "—", Value: s.Aggregate.P50Ms, Unit: "ms", Detail: fmt.Sprintf("p50; max %.1f ms", s.Aggregate.MaxMs)})
		out = append(out, Check{Measure: fmt.Sprintf("Dry run, %s devices", Int(s.Devices)), Run: r.Name,
			Target: "—", Value: s.DryRun.P50Ms, Unit: "ms", Detail: fmt.Sprintf("p50 of %d; max %.0f ms", s.DryRunSamples, s.DryRun.MaxMs)})
	}
	return out
}
