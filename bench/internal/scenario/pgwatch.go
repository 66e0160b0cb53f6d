package scenario

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/bench/internal/stack"
)

const (
	pgSampleEvery = 250 * time.Millisecond
	pgTopN        = 12
)

// pgWatch profiles PostgreSQL during a campaign: it samples pg_stat_activity (which
// statements are running, and what they wait for) several times a second, per tenth of
// the campaign's progress, and diffs the per-database and per-table counters. It is
// the evidence for where the database time goes and what grows as the campaign goes on.
type pgWatch struct {
	e        *env
	progress *timeline
	dbs      map[string]string // database name → role
	before   map[string]dbCounters
	// statementsAtStart holds each database's pg_stat_statements at the start; empty when the
	// server does not load it.
	statementsAtStart map[string]map[string]stack.Statement
	cancel            context.CancelFunc
	done              chan struct{}

	mu         sync.Mutex
	perDecile  [10]int
	statements map[[2]string]*report.SampledStatement
	waits      map[[2]string]*report.SampledStatement
	err        error
}

// dbCounters is one database's pg_stat_database row and pg_stat_user_tables rows.
type dbCounters struct {
	db     map[string]int64
	tables map[string]map[string]int64
}

// startPGWatch starts sampling; nil (which stop accepts) when PostgreSQL cannot be read.
func (e *env) startPGWatch(ctx context.Context) *pgWatch {
	w := &pgWatch{e: e, dbs: map[string]string{e.appDB: "app"}, before: map[string]dbCounters{}, done: make(chan struct{}),
		statementsAtStart: map[string]map[string]stack.Statement{},
		statements:        map[[2]string]*report.SampledStatement{}, waits: map[[2]string]*report.SampledStatement{}}
	if e.spec.Persistence == "postgres" {
		w.dbs[e.appDB+"_cadence"] = "cadence"
		w.dbs[e.appDB+"_cadence_visibility"] = "cadence_visibility"
	}
	for db := range w.dbs {
		c, err := readDBCounters(ctx, db)
		if err != nil {
			logf("%s: PostgreSQL counters of %s: %v", e.spec.Name(), db, err)
			return nil
		}
		w.before[db] = c
		switch st, err := stack.Statements(ctx, []string{db}); {
		case err == nil:
			w.statementsAtStart[db] = st
		case !errors.Is(err, stack.ErrNoStatementStats):
			logf("%s: statements of %s: %v", e.spec.Name(), db, err)
		}
	}
	conn, err := pgx.Connect(ctx, stack.DSN("postgres"))
	if err != nil {
		logf("%s: PostgreSQL sampler: %v", e.spec.Name(), err)
		return nil
	}
	sctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	go w.sample(sctx, conn)
	return w
}

func (w *pgWatch) sample(ctx context.Context, conn *pgx.Conn) {
	defer close(w.done)
	defer conn.Close(context.Background())
	names := make([]string, 0, len(w.dbs))
	for db := range w.dbs {
		names = append(names, db)
	}
	t := time.NewTicker(pgSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rows, err := conn.Query(ctx, `SELECT datname, coalesce(wait_event_type, ''), coalesce(wait_event, ''), query
			FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = ANY($1)`, names)
		if err != nil {
			if ctx.Err() == nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
			return
		}
		decile := 0
		if w.progress != nil {
			decile = int(w.progress.decile.Load())
		}
		w.mu.Lock()
		w.perDecile[decile]++
		for rows.Next() {
			var db, waitType, wait, query string
			if rows.Scan(&db, &waitType, &wait, &query) != nil {
				continue
			}
			role := w.dbs[db]
			count(w.statements, role, normalizeSQL(query), decile)
			if waitType != "" {
				count(w.waits, role, waitType+":"+wait, decile)
			} else {
				count(w.waits, role, "CPU (no wait event)", decile)
			}
		}
		w.mu.Unlock()
		rows.Close()
	}
}

func count(m map[[2]string]*report.SampledStatement, role, text string, decile int) {
	k := [2]string{role, text}
	s := m[k]
	if s == nil {
		s = &report.SampledStatement{Role: role, Text: text, PerDecile: make([]int, 10)}
		m[k] = s
	}
	s.Samples++
	s.PerDecile[decile]++
}

// stop ends sampling and returns the evidence; safe on a nil watch.
func (w *pgWatch) stop() *report.Postgres {
	if w == nil {
		return nil
	}
	w.cancel()
	<-w.done
	out := &report.Postgres{SamplesPerDecile: w.perDecile[:]}
	if w.err != nil {
		out.Error = w.err.Error()
	}
	out.Statements = top(w.statements, pgTopN)
	out.Waits = top(w.waits, pgTopN)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for db, role := range w.dbs {
		after, err := readDBCounters(ctx, db)
		if err != nil {
			out.Error = err.Error()
			continue
		}
		a := activity(role, db, w.before[db], after, w.e.spec.Devices)
		if before, ok := w.statementsAtStart[db]; ok {
			st, err := stack.Statements(ctx, []string{db})
			if err != nil {
				out.Error = err.Error()
			} else {
				n := round(float64(statementCalls(st)-statementCalls(before))/float64(max(w.e.spec.Devices, 1)), 1)
				a.StatementsPerDevice = &n
			}
		}
		out.Databases = append(out.Databases, a)
	}
	slices.SortFunc(out.Databases, func(a, b report.DBActivity) int { return cmp.Compare(a.Role, b.Role) })
	return out
}

// statementCalls is how many statements a pg_stat_statements reading counts in all.
func statementCalls(st map[string]stack.Statement) int64 {
	var n int64
	for _, s := range st {
		n += s.Calls
	}
	return n
}

func top(m map[[2]string]*report.SampledStatement, n int) []report.SampledStatement {
	out := make([]report.SampledStatement, 0, len(m))
	for _, s := range m {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b report.SampledStatement) int { return cmp.Compare(b.Samples, a.Samples) })
	return out[:min(n, len(out))]
}

func activity(role, db string, before, after dbCounters, devices int) report.DBActivity {
	per := func(k string) float64 { return round(float64(after.db[k]-before.db[k])/float64(max(devices, 1)), 2) }
	a := report.DBActivity{Role: role, Name: db, CommitsPerDevice: per("xact_commit"), InsertedPerDevice: per("tup_inserted"),
		UpdatedPerDevice: per("tup_updated"), DeletedPerDevice: per("tup_deleted"), FetchedPerDevice: per("tup_fetched"),
		ReturnedPerDevice: per("tup_returned"), BlocksReadPerDev: per("blks_read")}
	for name, t := range after.tables {
		b := before.tables[name]
		ta := report.TableActivity{Table: name, Inserted: t["n_tup_ins"] - b["n_tup_ins"], Updated: t["n_tup_upd"] - b["n_tup_upd"],
			HotUpdated: t["n_tup_hot_upd"] - b["n_tup_hot_upd"], Deleted: t["n_tup_del"] - b["n_tup_del"],
			SeqScans: t["seq_scan"] - b["seq_scan"], SeqRowsRead: t["seq_tup_read"] - b["seq_tup_read"],
			IdxScans: t["idx_scan"] - b["idx_scan"], IdxFetched: t["idx_tup_fetch"] - b["idx_tup_fetch"],
			LiveRows: t["n_live_tup"], DeadRows: t["n_dead_tup"], Autovacuums: t["autovacuum_count"] - b["autovacuum_count"]}
		a.DeadRowsAtEnd += ta.DeadRows
		a.LiveRowsAtEnd += ta.LiveRows
		a.AutovacuumsDuring += ta.Autovacuums
		a.AutoanalyzesDuring += t["autoanalyze_count"] - b["autoanalyze_count"]
		if ta.Inserted+ta.Updated+ta.Deleted+ta.SeqScans > 0 || ta.DeadRows > 0 {
			a.Tables = append(a.Tables, ta)
		}
	}
	slices.SortFunc(a.Tables, func(x, y report.TableActivity) int {
		return cmp.Compare(y.Inserted+y.Updated+y.Deleted, x.Inserted+x.Updated+x.Deleted)
	})
	return a
}

func readDBCounters(ctx context.Context, db string) (dbCounters, error) {
	conn, err := pgx.Connect(ctx, stack.DSN(db))
	if err != nil {
		return dbCounters{}, err
	}
	defer conn.Close(context.Background())
	c := dbCounters{db: map[string]int64{}, tables: map[string]map[string]int64{}}
	dbCols := []string{"xact_commit", "tup_inserted", "tup_updated", "tup_deleted", "tup_fetched", "tup_returned", "blks_read"}
	vals := make([]int64, len(dbCols))
	ptrs := make([]any, len(dbCols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := conn.QueryRow(ctx, `SELECT `+strings.Join(dbCols, ", ")+` FROM pg_stat_database WHERE datname = current_database()`).
		Scan(ptrs...); err != nil {
		return c, fmt.Errorf("pg_stat_database: %w", err)
	}
	for i, k := range dbCols {
		c.db[k] = vals[i]
	}
	tCols := []string{"n_tup_ins", "n_tup_upd", "n_tup_hot_upd", "n_tup_del", "seq_scan", "seq_tup_read", "idx_scan",
		"idx_tup_fetch", "n_live_tup", "n_dead_tup", "autovacuum_count", "autoanalyze_count"}
	sel := make([]string, len(tCols))
	for i, k := range tCols {
		sel[i] = "coalesce(" + k + ", 0)"
	}
	rows, err := conn.Query(ctx, `SELECT relname, `+strings.Join(sel, ", ")+` FROM pg_stat_user_tables`)
	if err != nil {
		return c, fmt.Errorf("pg_stat_user_tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		tv := make([]int64, len(tCols))
		tp := []any{&name}
		for i := range tv {
			tp = append(tp, &tv[i])
		}
		if err := rows.Scan(tp...); err != nil {
			return c, err
		}
		m := map[string]int64{}
		for i, k := range tCols {
			m[k] = tv[i]
		}
		c.tables[name] = m
	}
	return c, rows.Err()
}

var (
	sqlString = regexp.MustCompile(`'(?:[^']|'')*'`)
	sqlNumber = regexp.MustCompile(`\b\d+(?:\.\d+)?\b`)
	sqlSpace  = regexp.MustCompile(`\s+`)
)

// normalizeSQL turns a statement into its shape: literals become ?, whitespace one space,
// at most 220 characters, so that the samples of one statement add up.
func normalizeSQL(q string) string {
	q = sqlString.ReplaceAllString(q, "?")
	q = sqlNumber.ReplaceAllString(q, "?")
	q = sqlSpace.ReplaceAllString(strings.TrimSpace(q), " ")
	if len(q) > 220 {
		q = q[:220] + "…"
	}
	return q
}
