package runshape

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otaplane/ota/bench/internal/report"
)

// Results is one invocation: every run, and where and how it ran.
type Results struct {
	report.Provenance
	Args        string   `json:"args"`
	Persistence string   `json:"persistence"`
	InFlight    int      `json:"in_flight"`
	Delay       string   `json:"device_delay"`
	Vacuum      bool     `json:"vacuum_before_each_run"`
	NoSticky    bool     `json:"no_sticky_cache"`
	BatchWindow string   `json:"batch_window"`
	Runs        []Result `json:"runs"`
}

func (r Results) write(dir string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(r.Markdown()), 0o644)
}

// Markdown is the results as a page: the median of each group size, then every run.
func (r Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Cadence's cost per device run, by workflow shape\n\n")
	fmt.Fprintf(&b, "Produced by `make bench-runshape` (`%s`) at commit %s, %s, on %d CPUs (%s).\n\n",
		r.Args, orUnknown(r.Commit), r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Machine.CPUs, r.Machine.CPUModel)
	fmt.Fprintf(&b, "Every device goes through the steps of a device run that goes well: a readiness check and a "+
		"command as local activities, a wait for the device's report (a signal) bounded by a timer, and a record as a "+
		"local activity. Group size 1 is a workflow per device, as `OTA_UPDATE_DEVICE` is; a larger group size runs that "+
		"many devices in one workflow, each in its own coroutine, with one coroutine handing the workflow's signals to "+
		"their devices. The devices answer %s after their command, one signal each; at most %d devices are started "+
		"and not yet recorded. Cadence persists to %s (the dev server, one process). The activities do no I/O, so the figures are the orchestration's "+
		"own cost: the dev server, its database, and the benchmark process (its worker and the simulated devices).\n\n",
		r.Delay, r.InFlight, persistenceName[r.Persistence])
	if r.BatchWindow != "" && r.BatchWindow != "0s" {
		fmt.Fprintf(&b, "In the groups, the devices of one group that answered within %s shared one signal, "+
			"which carried all their reports; a workflow per device still gets a signal per device.\n\n", r.BatchWindow)
	}
	if r.NoSticky {
		b.WriteString("The worker kept no sticky cache (`DisableStickyExecution`): every decision task went through " +
			"the run's task list and replayed the workflow's history.\n\n")
	}
	if r.Vacuum {
		b.WriteString("Before each run the dev server's databases were vacuumed (`VACUUM ANALYZE`), as autovacuum " +
			"would have on a production server; the benchmark machine's PostgreSQL runs without it.\n\n")
	}
	b.WriteString("## Median of each group size\n\n")
	b.WriteString("| Group size | Runs | Devices/min | CPU ms per device run | Cadence | PostgreSQL | Worker and devices | History events per device | Decision tasks per device |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range r.groupSizes() {
		runs := r.of(g)
		fmt.Fprintf(&b, "| %d | %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |\n", g, len(runs),
			median(runs, func(x Result) float64 { return x.DevicesPerMin }),
			median(runs, func(x Result) float64 { return x.TotalMS }),
			median(runs, func(x Result) float64 { return x.CadenceMS }),
			median(runs, func(x Result) float64 { return x.PostgresMS }),
			median(runs, func(x Result) float64 { return x.BenchMS }),
			median(runs, func(x Result) float64 { return x.EventsPerDevice }),
			median(runs, func(x Result) float64 { return x.DecisionTasksPerDevice }))
	}
	b.WriteString("\n## Every run, in the order they ran\n\n")
	b.WriteString("| Group size | Repeat | Devices | Seconds | Devices/min | CPU ms per device run (Cadence, PostgreSQL, worker and devices) | Machine busy | Events / decision tasks / signals per device |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Runs {
		fmt.Fprintf(&b, "| %d | %d | %d | %.1f | %.0f | %.1f (%.1f, %.1f, %.1f) | %.0f %% | %.1f / %.2f / %.2f |\n",
			x.GroupSize, x.Repeat, x.Devices, x.Seconds, x.DevicesPerMin, x.TotalMS, x.CadenceMS, x.PostgresMS, x.BenchMS,
			x.MachineBusy*100, x.EventsPerDevice, x.DecisionTasksPerDevice, x.SignalsPerDevice)
	}
	r.statementsMarkdown(&b)
	b.WriteString("\nCPU is read from /proc: the dev server's process, every `postgres` process together (the " +
		"machine's other databases were idle), and the benchmark's own process. History figures come from up to " +
		"20 workflows of each run, spread over it.\n")
	return b.String()
}

// statementsMarkdown lists, for runs measured with -statements, what Cadence's
// databases ran per device run, and the most frequent statements of each group size's
// last run.
func (r Results) statementsMarkdown(b *strings.Builder) {
	last := map[int]Result{}
	for _, x := range r.Runs {
		if x.Statements != nil {
			last[x.GroupSize] = x
		}
	}
	if len(last) == 0 {
		return
	}
	b.WriteString("\n## What Cadence's databases ran, per device run\n\n")
	b.WriteString("From `pg_stat_statements` over the dev server's two databases (history and visibility), " +
		"read before and after each run; a transaction is a `COMMIT`, execution time is inside the server only.\n\n")
	b.WriteString("| Group size | Repeat | Statements | Transactions | Execution ms |\n|---|---|---|---|---|\n")
	for _, x := range r.Runs {
		if s := x.Statements; s != nil {
			fmt.Fprintf(b, "| %d | %d | %.1f | %.2f | %.2f |\n", x.GroupSize, x.Repeat, s.Statements, s.Transactions, s.ExecMS)
		}
	}
	for _, g := range r.groupSizes() {
		x, ok := last[g]
		if !ok {
			continue
		}
		fmt.Fprintf(b, "\nGroup size %d, repeat %d, the most frequent statements:\n\n", g, x.Repeat)
		b.WriteString("| Calls | Rows | Execution ms | Statement |\n|---|---|---|---|\n")
		for _, s := range x.Statements.Top {
			fmt.Fprintf(b, "| %.2f | %.2f | %.3f | `%s` |\n", s.Calls, s.Rows, s.ExecMS, shorten(s.Query, 110))
		}
	}
}

// shorten cuts a statement for a table cell, whose code span a backquote would end and
// whose row a bar would split.
func shorten(q string, n int) string {
	q = strings.NewReplacer("`", "'", "|", "\\|").Replace(q)
	if r := []rune(q); len(r) > n {
		return string(r[:n]) + "…"
	}
	return q
}

func (r Results) groupSizes() []int {
	var out []int
	for _, x := range r.Runs {
		if !slices.Contains(out, x.GroupSize) {
			out = append(out, x.GroupSize)
		}
	}
	slices.Sort(out)
	return out
}

func (r Results) of(g int) []Result {
	var out []Result
	for _, x := range r.Runs {
		if x.GroupSize == g {
			out = append(out, x)
		}
	}
	return out
}

func median(runs []Result, f func(Result) float64) float64 {
	v := make([]float64, len(runs))
	for i, x := range runs {
		v[i] = f(x)
	}
	slices.Sort(v)
	switch n := len(v); {
	case n == 0:
		return 0
	case n%2 == 1:
		return v[n/2]
	default:
		return (v[n/2-1] + v[n/2]) / 2
	}
}

var persistenceName = map[string]string{"postgres": "PostgreSQL", "sqlite": "SQLite"}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
