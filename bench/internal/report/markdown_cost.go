package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

func (r *Results) progressTable(w mdWriter) {
	w("\n## Pace, runs in flight and CPU\n\nFrom the status polls (every 500 ms): the machine's CPU utilisation over " +
		"the campaign (all CPUs, every process), the device runs started and not yet finished (neither PENDING nor " +
		"final; time-weighted mean and peak), and the pace of each tenth of the devices in turn. First tenth: devices " +
		"÷ time from execute until 10 %% had finished; last tenth: from 90 %% to 100 %%. A last ÷ first ratio below 1 " +
		"means the campaign slowed down as it went.\n\n")
	w("| Run | CPU utilisation | Mean in flight | Peak in flight | First 10 %%/min | Last 10 %%/min | Last ÷ first | Pace of each tenth, devices/min |\n")
	w("|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil && c.Progress != nil {
			p := c.Progress
			w("| %s | %.0f %% | %.0f | %d | %s | %s | **%.2f** | %s |\n", run.Name, p.CPUUtilPct, p.MeanInFlight, p.PeakInFlight,
				Int(int(p.FirstTenthPerMin)), Int(int(p.LastTenthPerMin)), p.LastToFirst, joinFloats(p.DecilePerMin, 0))
		}
	}
}

func (r *Results) historyTable(w mdWriter) {
	w("\n## Cadence history per device\n\nRead back from Cadence after the campaign: a sample of its workflow runs " +
		"(evenly spread; a group run holds several device runs, and its events count for each of them in " +
		"proportion), and every execution of the campaign's own continue-as-new chain. Every event is a row " +
		"written by the history service; every decision task is a round trip through matching, the worker and the " +
		"history service.\n\n")
	w("| Run | Workflow runs read (device runs in them) | Events per device run | Decision tasks per device run | Signals per run | Timers per run | Campaign executions | Campaign events per device | Campaign decision tasks per device | Longest execution (events) |\n")
	w("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil && c.History != nil {
			h := c.History
			w("| %s | %d (%d) | **%.1f** | **%.1f** | %.1f | %.1f | %d | **%.3f** | **%.4f** | %s |\n", run.Name,
				h.WorkflowRunsSampled, h.DeviceRunsSampled,
				h.EventsPerRun, h.DecisionsPerRun, h.SignalsPerRun, h.TimersPerRun, h.CampaignRuns, h.CampaignEventsPerDevice,
				h.CampaignDecisionsPerDevice, Int(h.CampaignMaxRunEvents))
		}
	}
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil && c.History != nil && c.History.Error != "" {
			w("\n%s: histories not fully read: `%s`\n", run.Name, c.History.Error)
		}
	}
}

func (r *Results) postgresTables(w mdWriter) {
	found := false
	for _, run := range r.Runs {
		if c := run.Campaign; c != nil && c.Postgres != nil {
			found = true
		}
	}
	if !found {
		return
	}
	w("\n## PostgreSQL during the campaign\n\nPer database, from pg_stat_database and pg_stat_user_tables between execute " +
		"and completion, divided by devices; dead rows and autovacuums at the end. app is the control plane's " +
		"database; cadence and cadence_visibility are the Cadence server's own (PostgreSQL persistence only). Statements " +
		"are counted by pg_stat_statements when the server loads it (— when it does not); commits include every " +
		"statement that ran outside a transaction block.\n\n")
	w("| Run | Database | Commits | Statements | Rows inserted | Rows updated | Rows deleted | Rows fetched | Live rows at end | Dead rows at end | Autovacuums |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		c := run.Campaign
		if c == nil || c.Postgres == nil {
			continue
		}
		for _, d := range c.Postgres.Databases {
			stmts := "—"
			if d.StatementsPerDevice != nil {
				stmts = fmt.Sprintf("%.1f", *d.StatementsPerDevice)
			}
			w("| %s | %s | %.1f | %s | %.1f | %.1f | %.1f | %.1f | %s | %s | %d |\n", run.Name, d.Role, d.CommitsPerDevice,
				stmts, d.InsertedPerDevice, d.UpdatedPerDevice, d.DeletedPerDevice, d.FetchedPerDevice, Int(int(d.LiveRowsAtEnd)),
				Int(int(d.DeadRowsAtEnd)), d.AutovacuumsDuring)
		}
	}
	w("\nStatements seen running in pg_stat_activity, sampled every 250 ms (a profile without pg_stat_statements, " +
		"which needs a server restart): the most frequent per run, and how often in the first and in the last tenth " +
		"of the campaign (per 100 samples of that tenth). A statement whose share grows from first to last is " +
		"something that grows with the campaign.\n")
	for _, run := range r.Runs {
		c := run.Campaign
		if c == nil || c.Postgres == nil {
			continue
		}
		pg := c.Postgres
		w("\n### %s\n\n| Database | Statement | Samples | First tenth /100 | Last tenth /100 |\n|---|---|---|---|---|\n", run.Name)
		for _, st := range pg.Statements {
			w("| %s | `%s` | %d | %s | %s |\n", st.Role, mdCode(st.Text), st.Samples, perHundred(st, pg, 0), perHundred(st, pg, 9))
		}
		w("\n| Database | Wait event | Samples | First tenth /100 | Last tenth /100 |\n|---|---|---|---|---|\n")
		for _, st := range pg.Waits {
			w("| %s | %s | %d | %s | %s |\n", st.Role, st.Text, st.Samples, perHundred(st, pg, 0), perHundred(st, pg, 9))
		}
		if len(pg.Databases) > 0 {
			w("\nTables with the most writes:\n\n| Database | Table | Inserted | Updated (HOT) | Deleted | Seq scans | Rows read by seq scans | Live rows | Dead rows |\n|---|---|---|---|---|---|---|---|---|\n")
			for _, d := range pg.Databases {
				for _, t := range d.Tables[:min(6, len(d.Tables))] {
					w("| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s |\n", d.Role, t.Table, Int(int(t.Inserted)), Int(int(t.Updated)),
						Int(int(t.HotUpdated)), Int(int(t.Deleted)), Int(int(t.SeqScans)), Int(int(t.SeqRowsRead)),
						Int(int(t.LiveRows)), Int(int(t.DeadRows)))
				}
			}
		}
		if pg.Error != "" {
			w("\nSampler error: `%s`\n", pg.Error)
		}
	}
}

func perHundred(st SampledStatement, pg *Postgres, decile int) string {
	if len(pg.SamplesPerDecile) <= decile || pg.SamplesPerDecile[decile] == 0 || len(st.PerDecile) <= decile {
		return "—"
	}
	return fmt.Sprintf("%.1f", 100*float64(st.PerDecile[decile])/float64(pg.SamplesPerDecile[decile]))
}

// mdCode keeps a statement inside one table cell.
func mdCode(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "`", "'") }

func (r *Results) scaleTable(w mdWriter) {
	has := false
	for _, run := range r.Runs {
		if run.Scale != nil {
			has = true
		}
	}
	if !has {
		return
	}
	w("\n## One large campaign in the database\n\nNo device runs: the devices and one campaign over all of them, " +
		"its rows given a mix of states, then the queries that grow with a campaign. The aggregate is the store's " +
		"status query called directly (what one miss of the API's 250 ms status cache costs); status under load is " +
		"GET …/status from many clients; the dry run and device pages go through the API.\n\n")
	w("| Run | Devices | States | Create s | Aggregate p50 / p99 / max ms | Status clients | Status p50 / p99 ms | Requests | Dry run p50 / max ms | Device page p50 / p99 ms |\n")
	w("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		s := run.Scale
		if s == nil {
			continue
		}
		states := []string{}
		for _, k := range sortedKeys(s.States) {
			states = append(states, fmt.Sprintf("%s %s", k, Int(s.States[k])))
		}
		clients, st, reqs := "—", "—", "—"
		if l := s.Status; l != nil {
			clients, st, reqs = fmt.Sprint(l.Clients), fmt.Sprintf("%.1f / **%.1f**", l.P50Ms, l.P99Ms), Int(l.Requests)
		}
		w("| %s | %s | %s | %.1f | %.1f / %.1f / %.1f | %s | %s | %s | %.0f / %.0f | %.1f / %.1f |\n", run.Name, Int(s.Devices),
			strings.Join(states, ", "), s.CreateSeconds, s.Aggregate.P50Ms, s.Aggregate.P99Ms, s.Aggregate.MaxMs, clients, st, reqs,
			s.DryRun.P50Ms, s.DryRun.MaxMs, s.DevicesPage.P50Ms, s.DevicesPage.P99Ms)
	}
}

func sortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }
