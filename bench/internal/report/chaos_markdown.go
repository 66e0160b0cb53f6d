package report

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// issueListMax bounds each per-device list in the Markdown; chaos.json has them all.
const issueListMax = 20

// Markdown renders the results as bench/chaos.md.
func (r *ChaosResults) Markdown() string {
	var b strings.Builder
	w := mdWriter(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
	r.chaosHeader(w)
	r.chaosTable(w)
	for _, run := range r.Runs {
		chaosRun(w, run)
	}
	r.chaosMethod(w)
	return b.String()
}

// WriteMarkdown writes the Markdown rendering.
func (r *ChaosResults) WriteMarkdown(path string) error {
	return os.WriteFile(path, []byte(r.Markdown()), 0o644)
}

func (r *ChaosResults) chaosHeader(w mdWriter) {
	m, s := r.Machine, r.Settings
	w("# Reliability under faults\n\n")
	w("Measured %s – %s UTC (%.1f min) on %s: %d CPUs (%s), %.1f GiB RAM, Linux %s, %s",
		r.Started.UTC().Format("2006-01-02 15:04"), r.Finished.UTC().Format("15:04"), r.Finished.Sub(r.Started).Minutes(),
		m.Hostname, m.CPUs, m.CPUModel, float64(m.MemoryBytes)/(1<<30), m.Kernel, m.GoVersion)
	if r.Commit != "" {
		w("; commit %s", r.Commit)
	}
	args := "ota-chaos"
	if s.Args != "" {
		args += " " + s.Args
	}
	w(".\n\nProduced by `make chaos` (`%s`). For each fault a fresh stack (Cadence dev server, app database, "+
		"the run's own Mosquitto, api, worker(s)) runs one campaign over %d simulated devices with "+
		"`rollout.max_in_flight` %d; each device pauses %s after every step of its update and sends every progress "+
		"report. Everything shares the machine's CPUs.\n\n", args, s.Devices, s.MaxInFlight, s.StepDelay)
	w("Targets for every fault: **%d lost** devices (every device SUCCEEDED), **%d wrong histories**, and the longest "+
		"stretch without a device run finishing **< %.0f s after the faulty part is back**.\n",
		TargetLost, TargetWrongHistories, TargetStallAfterBackSec)
}

func (r *ChaosResults) chaosTable(w mdWriter) {
	w("\n## Results\n\n")
	w("| Fault | SUCCEEDED / total | Lost (target 0) | Wrong histories (target 0) | Devices with > 1 UPDATE per attempt | " +
		"Duplicate UPDATE deliveries (devices) | Longest stall after back (target < 30 s) | Longest stall overall | " +
		"Campaign duration | Verdict |\n")
	w("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		verdict := "✅ all targets met"
		if len(run.Missed()) > 0 {
			verdict = "❌ **MISSED**: " + strings.Join(missedMeasures(run), ", ")
		}
		w("| %s | %d / %d | %s | %s | %d | %d (%d) | %s | %.1f s | %s | %s |\n", run.Fault, run.Succeeded, run.Total,
			mark(run.Lost, run.Lost == TargetLost), mark(run.WrongHistories, run.WrongHistories == TargetWrongHistories),
			run.ExtraUpdateDevices, run.DuplicateDeliveries, run.DuplicateDevices,
			markSeconds(run.StallAfterBackSec, run.StallAfterBackSec < TargetStallAfterBackSec), run.StallOverallSec,
			duration(run), verdict)
	}
	var missed []string
	for _, run := range r.Runs {
		if m := run.Missed(); len(m) > 0 {
			missed = append(missed, fmt.Sprintf("- **%s** missed: %s.", run.Fault, strings.Join(m, "; ")))
		}
	}
	if len(missed) > 0 {
		w("\n**Not every target was met.**\n\n%s\n", strings.Join(missed, "\n"))
	} else if len(r.Runs) > 0 {
		w("\nEvery fault met every target.\n")
	}
}

func missedMeasures(run FaultRun) []string {
	var out []string
	for _, c := range run.Checks {
		if c.Met != nil && !*c.Met {
			out = append(out, strings.ToLower(strings.SplitN(c.Measure, " (", 2)[0]))
		}
	}
	if run.Error != "" {
		out = append(out, "run failed")
	}
	return out
}

func mark(v int, ok bool) string {
	if ok {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("**%d** ❌", v)
}

func markSeconds(v float64, ok bool) string {
	if ok {
		return fmt.Sprintf("%.1f s", v)
	}
	return fmt.Sprintf("**%.1f s** ❌", v)
}

func duration(run FaultRun) string {
	if !run.Completed {
		return fmt.Sprintf("not completed (%.1f s)", run.CampaignSeconds)
	}
	return fmt.Sprintf("%.1f s", run.CampaignSeconds)
}

func chaosRun(w mdWriter, run FaultRun) {
	w("\n## %s\n\n%s; %d worker process(es). Campaign %s.\n\n", run.Fault, capitalize(run.Description), run.Workers,
		orDash(run.CampaignID))
	if run.Error != "" {
		w("**The run failed:** %s\n\n", strings.ReplaceAll(strings.TrimSpace(run.Error), "\n", " ⏎ "))
	}
	w("- Struck at +%.1f s after execute, with %d of %d runs finished; back at +%.1f s (%s).\n", run.InjectedAtSec,
		run.InjectedAtFinished, run.Total, run.BackAtSec, run.Back)
	for _, n := range run.Notes {
		w("- %s.\n", capitalize(strings.TrimSuffix(n, ".")))
	}
	w("- Longest stall after back: %.1f s from +%.1f s; overall: %.1f s from +%.1f s.\n", run.StallAfterBackSec,
		run.StallAfterBackFrom, run.StallOverallSec, run.StallOverallFrom)
	state := orDash(run.CampaignState)
	w("- Campaign %s after %.1f s: %s. Status polls that failed: %d. Status requests the devices received "+
		"(runs asking a silent device): %d.\n", state, run.CampaignSeconds, countsText(run.StatusCounts),
		run.StatusPollFailures, run.StatusRequests)
	if len(run.NotSucceededBy) > 0 {
		w("- Devices not SUCCEEDED, by outcome: %s.\n", countsText(run.NotSucceededBy))
	}
	issues(w, "Devices not SUCCEEDED", run.NotSucceeded)
	issues(w, "Devices whose record disagrees with the device", run.WrongHistoryList)
	issues(w, "Devices sent more than one UPDATE command for one attempt", run.ExtraUpdateList)
	issues(w, "Devices that received an UPDATE command more than once", run.DuplicateList)
}

func issues(w mdWriter, title string, list []DeviceIssue) {
	if len(list) == 0 {
		return
	}
	w("\n%s (%d):\n\n", title, len(list))
	for i, d := range list {
		if i == issueListMax {
			w("- … and %d more (chaos.json lists them all)\n", len(list)-issueListMax)
			break
		}
		w("- `%s`: %s\n", d.DeviceID, d.Detail)
	}
}

func (r *ChaosResults) chaosMethod(w mdWriter) {
	s := r.Settings
	w("\n## How it is measured\n\n")
	w("- **One fresh stack per fault**: a new Cadence dev server (%s persistence), a new app database, a new Mosquitto of the run's "+
		"own, api and worker processes, a new tenant, %d devices imported at 1.0.0 and a %d KiB image 2.0.0. The "+
		"simulated devices (`simulator/devicesim`, in the benchmark process) heartbeat every %s; the campaign starts "+
		"once the control plane has heard from all of them.\n", s.CadencePersisted, s.Devices, s.FirmwareKiB,
		s.HeartbeatInterval)
	w("- **Lost**: devices whose campaign state is not SUCCEEDED when the campaign completed " +
		"(`GET /ota/campaigns/{id}/devices`).\n")
	w("- **Wrong histories**: devices for which `GET /devices/{id}` `firmware_version` differs from the version the " +
		"simulated device really runs, or whose newest `GET /devices/{id}/firmware-history` row is SUCCEEDED with a " +
		"`to_version` other than that, or names a `running_version` other than that, or is missing although the " +
		"device's run ended.\n")
	w("- **More than one UPDATE per attempt**: distinct UPDATE command ids a device received (`Fleet.Commands`) " +
		"beyond its campaign attempts: a second run commanding the same device. Duplicate deliveries are the same " +
		"command id delivered again (QoS 1 redelivery); devices drop them.\n")
	w("- **Stalls**: the API's campaign status is polled every 250 ms; each poll that sees more finished runs is a " +
		"finish. The longest stall after back is the longest stretch without a finish from the moment the faulty part " +
		"was back (for worker-lost, which never comes back: from the kill) until the campaign completed; overall, from " +
		"execute. A status poll failing (database cut) counts as no finish.\n")
	w("- **Campaign duration**: execute until status was seen COMPLETED at 100 %%.\n")
	w("- **Verdict**: a fault that misses any target is marked MISSED above, and `make chaos` then exits non-zero " +
		"(after writing these results).\n")
	w("- **What is cut in postgres-cut**: api and worker reach the app database only through a TCP proxy of the " +
		"benchmark (`bench/internal/tcpproxy`), in every run; the fault closes all its connections and closes its " +
		"listener, so new connections are refused, for 15 s. The Cadence dev server keeps its state in SQLite and " +
		"is not behind the proxy: the outage under test is the product's own database, and the dev server's " +
		"recovery from losing its store would measure Cadence, not this control plane. With Cadence on the same " +
		"PostgreSQL (docker-compose) a real outage would take both.\n")
	w("- **The broker**: each run's own Mosquitto on a free loopback port with `persistence true`, a " +
		"`persistence_location` in a new temporary directory and `autosave_interval 2` (docker-compose uses 60; " +
		"shortened so a SIGKILL loses little), written by `stack.WriteBrokerConfig`, with the control plane's " +
		"authentication plugin: no anonymous client, each simulated device with its own credentials (issued through " +
		"the API after the import), the workers with theirs; the plugin reads device credentials through the same " +
		"proxy, so postgres-cut cuts it too. Workers and the simulated " +
		"devices connect to it; the api is no MQTT client. broker-restart kills it with SIGKILL and starts it " +
		"again on the same port and directory.\n")
	w("- **Configuration**: product defaults throughout (status probe after 15 s of silence, a dead worker's "+
		"session drained after 20 s, touched every 5 s, step timeout 10 m, no retries). The benchmark sets only: %s. "+
		"Process logs (not committed): `%s` under the repository.\n", strings.Join(s.ProcessEnv, "; "), s.LogDir)
}

func countsText(m map[string]int) string {
	if len(m) == 0 {
		return "no counts"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
