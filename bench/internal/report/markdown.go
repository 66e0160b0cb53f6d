package report

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// mdWriter appends formatted text.
type mdWriter func(format string, args ...any)

// Markdown renders the results as the tables of bench/results.md; sections without
// data are left out.
func (r *Results) Markdown() string {
	var b strings.Builder
	w := mdWriter(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
	r.header(w)
	if hasCampaign(r.Runs) {
		r.campaignTables(w)
		r.progressTable(w)
		r.historyTable(w)
		r.postgresTables(w)
	}
	r.memoryTable(w)
	r.scaleTable(w)
	r.otherTables(w)
	return b.String()
}

func (r *Results) header(w mdWriter) {
	m := r.Machine
	w("# Benchmark results\n\n")
	w("Measured %s – %s UTC on %s: %d CPUs (%s), %.1f GiB RAM, Linux %s, %s",
		r.Started.UTC().Format("2006-01-02 15:04"), r.Finished.UTC().Format("15:04"), m.Hostname, m.CPUs, m.CPUModel,
		float64(m.MemoryBytes)/(1<<30), m.Kernel, m.GoVersion)
	if r.Commit != "" {
		w("; commit %s", r.Commit)
	}
	w(".\n\nProduced by `make bench` (`%s`). Every process — Cadence dev server, PostgreSQL, Mosquitto, api, "+
		"worker(s), the simulated devices and the load clients — shares the same CPUs, so numbers are "+
		"comparable with each other, not with a deployment.\n\n", settingsLine(r.Settings))

	w("## Targets\n\n| Measure | Run | Target | Result | Met |\n|---|---|---|---|---|\n")
	for _, c := range r.Checks {
		res := formatValue(c.Value, c.Unit)
		if c.Detail != "" {
			res += " (" + c.Detail + ")"
		}
		w("| %s | %s | %s | %s | %s |\n", c.Measure, c.Run, c.Target, res, metMark(c.Met))
	}
}

func (r *Results) campaignTables(w mdWriter) {
	w("\n## Throughput\n\nDevices ÷ (time the campaign was seen COMPLETED at 100 %% − time execute was sent); "+
		"status polled every 500 ms; nothing else running. Pauses: stretches of 10 s or more in which no device run "+
		"finished, and their total seconds (the Cadence dev server logs \"Async task dispatch timed out\" meanwhile: "+
		"%s). The last column is the pace of the second campaign over the same devices while the status clients "+
		"below were running.\n\n", dispatchTimeouts(r.Runs))
	w("| Run | Persistence | Workers | Devices | In flight | Execute ms | Seconds | Devices/min | Succeeded | Failed | Pauses (s) | Devices/min under status load |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil {
			load := "—"
			if s := run.Status; s != nil && s.RunsPerMin > 0 {
				load = Int(int(s.RunsPerMin))
			}
			w("| %s | %s | %d | %s | %d | %.1f | %.1f | **%s** | %s | %s | %d (%.0f) | %s |\n", run.Name, run.Persistence,
				run.Workers, Int(run.Devices), run.InFlight, c.ExecuteMs, c.Seconds, Int(int(c.DevicesPerMin)), Int(c.Succeeded),
				Int(c.Failed), c.Pauses, c.PausedSeconds, load)
		}
	}

	w("\n## Execute latency\n\nPOST …/execute round trip. Small campaigns run one after another on an idle system " +
		"(each waits for the previous to complete); the full campaign's execute is one sample.\n\n")
	w("| Run | Small campaigns | p50 ms | All samples ms | Warm-up ms | Full campaign ms |\n|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		if s := run.Small; s != nil && run.Campaign != nil {
			w("| %s | %d × %d devices | **%.1f** | %s | %.1f | %.1f |\n", run.Name, len(s.ExecuteMs), s.Size, s.ExecuteP50Ms,
				joinFloats(s.ExecuteMs, 1), s.WarmupExecuteMs, run.Campaign.ExecuteMs)
		}
	}
	for _, run := range r.Runs {
		if m := run.Memory; m != nil {
			w("\n%s: execute of each of the %d campaigns put in flight together, ms: %s.\n", run.Name, m.Campaigns,
				joinFloats(m.ExecuteMs, 1))
		}
	}

	if hasStatus(r.Runs) {
		w("\n## Status latency under load\n\nA second campaign over the same devices (to a newer image) while each "+
			"client calls GET …/status back to back from execute until the campaign completes or the time limit (%s) "+
			"ends, whichever comes first.\n\n",
			r.Settings["status_duration"])
		w("| Run | Clients | Seconds | Requests | Req/s | Errors | p50 ms | p95 ms | p99 ms | max ms | Runs finished under load | Their devices/min |\n")
		w("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, run := range r.Runs {
			if s := run.Status; s != nil {
				w("| %s | %d | %.0f | %s | %.0f | %d | %.1f | %.1f | **%.1f** | %.1f | %s | %s |\n", run.Name, s.Clients, s.Seconds,
					Int(s.Requests), s.PerSecond, s.Errors, s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs, Int(s.RunsFinished), Int(int(s.RunsPerMin)))
			}
		}
		for _, run := range r.Runs {
			if s := run.Status; s != nil && s.FirstError != "" {
				w("\n%s: first status error: `%s`\n", run.Name, s.FirstError)
			}
		}
	}

	w("\n## CPU per device run (ms)\n\nutime+stime from /proc between execute and completion, divided by devices. " +
		"PostgreSQL is every postgres process on the machine (app database, and Cadence's own when it uses " +
		"PostgreSQL persistence). Server total = Cadence + PostgreSQL + worker(s) + api + Mosquitto; the simulator " +
		"and load clients run in the benchmark process. Other = the rest of the machine's busy time (other users' " +
		"processes, builds, kernel interrupt work): high values mean the run competed for the CPUs.\n\n")
	w("| Run | Cadence | PostgreSQL | Worker(s) | API | Mosquitto | Server total | Simulator + clients | Other |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil {
			p := c.CPUMsPerDevice
			w("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | **%.1f** | %.1f | %.1f |\n", run.Name, p["cadence"], p["postgres"],
				p["worker"], p["api"], p["mosquitto"], p["server_total"], p["bench"], p["other"])
		}
	}
}

func (r *Results) memoryTable(w mdWriter) {
	w("\n## Worker memory\n\nPeak RSS (VmHWM from /proc/<pid>/status).\n\n")
	w("| Run | Workers | Runs in flight | Worker peak RSS MiB | Note |\n|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil {
			w("| %s | %d | ≤ %d | %s | at completion |\n", run.Name, run.Workers, run.InFlight, joinFloats(c.WorkerPeakMiB, 0))
		}
		if m := run.Memory; m != nil {
			w("| %s | %d | %s | **%.0f** | %d campaigns; %s of %s runs COMMANDED after %.0f s (%s); RSS then %.0f MiB; Cadence peak %.0f MiB |\n",
				run.Name, run.Workers, Int(run.Devices), m.WorkerPeakMiB, m.Campaigns, Int(m.Commanded), Int(run.Devices), m.Seconds,
				m.StoppedBecause, m.WorkerRSSMiB, m.CadencePeakMiB)
		}
	}
}

func (r *Results) otherTables(w mdWriter) {
	if hasRaw(r.Runs) {
		w("\n## Raw fan-out baseline\n\nThe same devices without orchestration, in the same run: per device one QoS-1 " +
			"protobuf UPDATE command (waiting for PUBACK) and the database work of the workflow's activities through " +
			"the same store methods (campaign device → CHECKING, read device, → COMMANDED, read firmware, → VERIFYING, " +
			"then device firmware update + history row + SUCCEEDED in one transaction). Commands go to a tenant id no " +
			"device listens on, so no device downloads or reports.\n\n")
		w("| Run | Devices | Parallel | Seconds | Raw devices/min | Orchestrated devices/min | Orchestrated ÷ raw | PostgreSQL CPU ms/device |\n")
		w("|---|---|---|---|---|---|---|---|\n")
		for _, run := range r.Runs {
			if x := run.Raw; x != nil && run.Campaign != nil {
				w("| %s | %s | %d | %.1f | %s | %s | **%.3f** | %.2f |\n", run.Name, Int(x.Devices), x.Parallel, x.Seconds,
					Int(int(x.DevicesPerMin)), Int(int(run.Campaign.DevicesPerMin)), x.Ratio, x.CPUMsPerDevice["postgres"])
			}
		}
	}

	if pairs := workerPairs(r.Runs); len(pairs) > 0 {
		w("\n## One vs two workers\n\n| Devices | Persistence | 1 worker devices/min | 2 workers devices/min | Speed-up |\n|---|---|---|---|---|\n")
		for _, p := range pairs {
			w("| %s | %s | %s | %s | %.2f× |\n", Int(p.one.Devices), p.one.Persistence, Int(int(p.one.Campaign.DevicesPerMin)),
				Int(int(p.two.Campaign.DevicesPerMin)), p.speedup)
		}
	}

	var drops []string
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil {
			for _, k := range slices.Sorted(maps.Keys(c.WorkerCounters)) {
				if v := c.WorkerCounters[k]; strings.Contains(k, "dropped") && v > 0 {
					drops = append(drops, fmt.Sprintf("- %s: `%s` = %.0f", run.Name, k, v))
				}
			}
		}
	}
	if len(drops) > 0 {
		w("\n## Device messages the workers dropped\n\n%s\n", strings.Join(drops, "\n"))
	}

	var failed []Run
	for _, run := range r.Runs {
		if run.Error != "" {
			failed = append(failed, run)
		}
	}
	if len(failed) > 0 {
		w("\n## Failed runs\n\n")
		for _, run := range failed {
			w("- **%s**: %s\n", run.Name, strings.ReplaceAll(strings.TrimSpace(run.Error), "\n", " ⏎ "))
		}
	}
	w("\n## Setup per run\n\n| Run | Setup s | Devices created by | Create s |\n|---|---|---|---|\n")
	for _, run := range r.Runs {
		w("| %s | %.0f | %s | %.1f |\n", run.Name, run.SetupSeconds, run.DeviceCreation, run.CreateSeconds)
	}
}

// WriteMarkdown writes the Markdown rendering.
func (r *Results) WriteMarkdown(path string) error {
	return os.WriteFile(path, []byte(r.Markdown()), 0o644)
}

func settingsLine(s map[string]any) string {
	if args, ok := s["args"].(string); ok && args != "" {
		return "ota-bench " + args
	}
	return "ota-bench"
}

func metMark(m *bool) string {
	switch {
	case m == nil:
		return "—"
	case *m:
		return "✅ met"
	default:
		return "❌ not met"
	}
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "devices/min":
		return Int(int(v)) + " devices/min"
	case "ratio":
		return fmt.Sprintf("%.3f", v)
	case "MiB":
		return fmt.Sprintf("%.0f MiB", v)
	default:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
}

func joinFloats(vs []float64, decimals int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.*f", decimals, v)
	}
	return strings.Join(parts, ", ")
}

func dispatchTimeouts(runs []Run) string {
	var parts []string
	for _, r := range runs {
		parts = append(parts, fmt.Sprintf("%s %d", r.Name, r.DispatchTimeouts))
	}
	return strings.Join(parts, ", ")
}

func hasCampaign(runs []Run) bool {
	for _, r := range runs {
		if r.Campaign != nil {
			return true
		}
	}
	return false
}

func hasStatus(runs []Run) bool {
	for _, r := range runs {
		if r.Status != nil {
			return true
		}
	}
	return false
}

func hasRaw(runs []Run) bool {
	for _, r := range runs {
		if r.Raw != nil {
			return true
		}
	}
	return false
}

// Seconds converts a duration to seconds with millisecond precision.
func Seconds(d time.Duration) float64 { return Round(d.Seconds(), 3) }
