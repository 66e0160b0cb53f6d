package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrNoStatementStats: the local PostgreSQL does not load pg_stat_statements, so what a
// run's statements were cannot be counted. Loading it takes a server restart
// (shared_preload_libraries), which a benchmark does not do to the machine's database.
var ErrNoStatementStats = errors.New("pg_stat_statements is not loaded (shared_preload_libraries)")

// Statement is one normalised statement's counters, summed over the databases asked for.
type Statement struct {
	Query  string
	Calls  int64
	Rows   int64
	ExecMS float64
}

// Statements reads pg_stat_statements for the named databases, keyed by the normalised
// statement text: two samples' difference is what ran between them.
func Statements(ctx context.Context, databases []string) (map[string]Statement, error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	var loaded bool
	if err := conn.QueryRow(ctx,
		`SELECT 'pg_stat_statements' = ANY(string_to_array(current_setting('shared_preload_libraries'), ','))`).
		Scan(&loaded); err != nil {
		return nil, fmt.Errorf("shared_preload_libraries: %w", err)
	}
	if !loaded {
		return nil, ErrNoStatementStats
	}
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return nil, fmt.Errorf("create extension pg_stat_statements: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT s.query, s.calls, s.rows, s.total_exec_time
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY($1)`, databases)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	out := map[string]Statement{}
	for rows.Next() {
		var s Statement
		if err := rows.Scan(&s.Query, &s.Calls, &s.Rows, &s.ExecMS); err != nil {
			return nil, fmt.Errorf("read pg_stat_statements: %w", err)
		}
		// One text per statement whatever its spacing, and "begin" is "BEGIN".
		s.Query = strings.Join(strings.Fields(s.Query), " ")
		if strings.EqualFold(s.Query, "begin") || strings.EqualFold(s.Query, "commit") {
			s.Query = strings.ToUpper(s.Query)
		}
		t := out[s.Query]
		t.Query, t.Calls, t.Rows, t.ExecMS = s.Query, t.Calls+s.Calls, t.Rows+s.Rows, t.ExecMS+s.ExecMS
		out[s.Query] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	return out, nil
}
