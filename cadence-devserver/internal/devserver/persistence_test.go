package devserver

import (
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sqliteschema "github.com/uber/cadence/schema/sqlite"
)

// Millisecond times, as Cadence stores its timer tasks; some end in zeros, which the
// driver trims from the text it stores.
func millisecondTimes() []time.Time {
	base := time.Date(2026, 11, 27, 23, 54, 18, 0, time.UTC)
	var out []time.Time
	for _, ms := range []int{0, 2, 20, 200, 247, 250, 253, 999, 1000} {
		out = append(out, base.Add(time.Duration(ms)*time.Millisecond))
	}
	return out
}

// timesAfter stores the times in a DATETIME(6) column declared as given and reads
// back, in the column's order, those at or after the fifth — the range query the
// timer queue runs from its read level.
func timesAfter(t *testing.T, column string) []time.Time {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE timers (ts " + column + " NOT NULL)")
	require.NoError(t, err)
	times := millisecondTimes()
	for _, ts := range times {
		_, err := db.Exec("INSERT INTO timers (ts) VALUES (?)", ts)
		require.NoError(t, err)
	}
	rows, err := db.Query("SELECT ts FROM timers WHERE ts >= ? ORDER BY ts", times[4])
	require.NoError(t, err)
	defer rows.Close()
	var got []time.Time
	for rows.Next() {
		var ts time.Time
		require.NoError(t, rows.Scan(&ts))
		got = append(got, ts.UTC())
	}
	require.NoError(t, rows.Err())
	return got
}

func TestTimeColumnsCompareInTimeOrder(t *testing.T) {
	want := millisecondTimes()[4:]
	assert.NotEqual(t, want, timesAfter(t, "DATETIME(6)"), "plain text order loses times: the reason for the collation")
	assert.Equal(t, want, timesAfter(t, sqliteTimeCollation("DATETIME(6)")))
}

func TestEverySQLiteTimeColumnIsCollated(t *testing.T) {
	for _, file := range []string{"cadence/schema.sql", "visibility/schema.sql"} {
		text, err := fs.ReadFile(sqliteschema.SchemaFS, file)
		require.NoError(t, err)
		schema := sqliteTimeCollation(string(text))
		for _, line := range strings.Split(schema, "\n") {
			upper := strings.ToUpper(line)
			if strings.Contains(upper, "DATETIME") || strings.Contains(upper, " TIMESTAMP") {
				assert.Contains(t, line, "COLLATE TIME", "%s: %s", file, line)
			}
		}
	}
}

func TestDataDirSchemaMarker(t *testing.T) {
	srv, err := New(Options{Persistence: PersistenceSQLite, DataDir: t.TempDir(), LogLevel: "error", Shards: 1})
	require.NoError(t, err)

	fresh := t.TempDir()
	require.NoError(t, srv.checkDataDirSchema(fresh))
	assert.FileExists(t, filepath.Join(fresh, timeCollationMarker), "a new dir gets the collated schema")

	old := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(old, "cadence.db"), nil, 0o644))
	require.NoError(t, srv.checkDataDirSchema(old), "a dir from before still starts")
	assert.NoFileExists(t, filepath.Join(old, timeCollationMarker))
}
