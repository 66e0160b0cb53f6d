package devserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/lib/pq"
	"github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/uber/cadence/common/config"
	"github.com/uber/cadence/common/constants"
	"github.com/uber/cadence/common/dynamicconfig/dynamicproperties"
	"github.com/uber/cadence/common/log"
	"github.com/uber/cadence/common/log/tag"
	"github.com/uber/cadence/common/persistence"
	persistenceclient "github.com/uber/cadence/common/persistence/client"
	cadencesql "github.com/uber/cadence/common/persistence/sql"
	"github.com/uber/cadence/common/persistence/sql/sqlplugin/postgres"
	"github.com/uber/cadence/common/persistence/sql/sqlplugin/sqlite"
	"github.com/uber/cadence/common/types"
	postgresschema "github.com/uber/cadence/schema/postgres"
	sqliteschema "github.com/uber/cadence/schema/sqlite"
)

const (
	defaultStoreName    = "default"
	visibilityStoreName = "visibility"

	memDBName           = "cadence.db"
	memVisibilityDBName = "cadence_visibility.db"

	schemaTimeout = time.Minute

	// timeCollationMarker, in a data dir, says its schema was created with
	// sqliteTimeCollation; a dir without it predates that and keeps its schema.
	timeCollationMarker = "schema-time-collation"
)

// schemaTarget is one database and the schema file that populates it.
type schemaTarget struct {
	sql *config.SQL
	fs  fs.FS
	// file is the schema inside fs.
	file string
	// marker is a table whose presence means the schema is already there.
	marker string
	// rewrite, when set, adapts the schema text before it is applied.
	rewrite func(string) string
	// recordVersion writes schema_version (PostgreSQL only) so that
	// cadence-sql-tool can upgrade the database later.
	recordVersion bool
}

// preparePersistence creates the databases when needed, applies the schema to
// empty ones and returns the persistence config every Cadence service shares.
func (s *Server) preparePersistence(ctx context.Context) (config.Persistence, error) {
	var targets []schemaTarget
	switch s.opts.Persistence {
	case PersistenceMemory:
		// Named memdb databases are shared by every pool in the process;
		// a plain ":memory:" DSN would give each pool its own empty database.
		memdb.Create(memDBName, nil)
		memdb.Create(memVisibilityDBName, nil)
		useUTC()
		attrs := map[string]string{"vfs": "memdb", "_pragma.journal_mode": "memory"}
		targets = sqliteTargets(sqliteSQL("/"+memDBName, attrs), sqliteSQL("/"+memVisibilityDBName, attrs))
	case PersistenceSQLite:
		if err := os.MkdirAll(s.opts.DataDir, 0o755); err != nil {
			return config.Persistence{}, fmt.Errorf("create data dir: %w", err)
		}
		dir, err := filepath.Abs(s.opts.DataDir)
		if err != nil {
			return config.Persistence{}, err
		}
		useUTC()
		if err := s.checkDataDirSchema(dir); err != nil {
			return config.Persistence{}, err
		}
		targets = sqliteTargets(
			sqliteSQL(filepath.Join(dir, "cadence.db"), nil),
			sqliteSQL(filepath.Join(dir, "cadence_visibility.db"), nil),
		)
	case PersistencePostgres:
		pg := s.opts.Postgres
		for _, name := range []string{pg.Database, pg.VisibilityDatabase()} {
			if err := ensurePostgresDatabase(ctx, pg, name, s.logger); err != nil {
				return config.Persistence{}, err
			}
		}
		targets = []schemaTarget{
			{sql: postgresSQL(pg, pg.Database), fs: postgresschema.SchemaFS, file: "cadence/schema.sql", marker: "domains", recordVersion: true},
			{sql: postgresSQL(pg, pg.VisibilityDatabase()), fs: postgresschema.SchemaFS, file: "visibility/schema.sql", marker: "executions_visibility", recordVersion: true},
		}
	}

	pcfg := config.Persistence{
		DefaultStore:     defaultStoreName,
		VisibilityStore:  visibilityStoreName,
		NumHistoryShards: s.opts.Shards,
		DataStores: map[string]config.DataStore{
			defaultStoreName:    {SQL: targets[0].sql},
			visibilityStoreName: {SQL: targets[1].sql},
		},
		TransactionSizeLimit: dynamicproperties.GetIntPropertyFn(constants.DefaultTransactionSizeLimit),
		ErrorInjectionRate:   dynamicproperties.GetFloatPropertyFn(0),
	}
	// The regular server binary does this while loading its YAML; without it
	// SQL.NumShards stays 0 and the first shard lookup divides by zero.
	pcfg.FillDefaults()
	if err := pcfg.Validate(); err != nil {
		return config.Persistence{}, err
	}

	for _, t := range targets {
		if err := applySchema(ctx, t, s.logger); err != nil {
			return config.Persistence{}, err
		}
	}
	return pcfg, nil
}

// sqliteTimeColumn matches the time column types of Cadence's SQLite schema.
var sqliteTimeColumn = regexp.MustCompile(`\bDATETIME\(6\)|\bTIMESTAMP\b`)

// sqliteTimeCollation gives every time column the driver's TIME collation. Times are
// stored as RFC 3339 text with trailing zeros trimmed, and Cadence compares them in
// SQL (timer task ranges, visibility), but as plain text "…:18.25Z" sorts after
// "…:18.253Z". The timer queue then skipped a timer that fell just after its read
// level, and the workflow waited for it forever. TIME compares such text in time order.
func sqliteTimeCollation(schema string) string {
	return sqliteTimeColumn.ReplaceAllString(schema, "$0 COLLATE TIME")
}

// checkDataDirSchema marks a new data dir as getting the collated schema, and warns
// about one created before: its timers can fire late or never.
func (s *Server) checkDataDirSchema(dir string) error {
	marker := filepath.Join(dir, timeCollationMarker)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "cadence.db")); err == nil {
		s.logger.Warn("data dir created by an older dev server: its time columns do not sort, so timers may " +
			"fire late or never; stop the server and remove " + dir + " to start fresh")
		return nil
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return fmt.Errorf("mark data dir: %w", err)
	}
	return nil
}

// useUTC gives every time the server writes the same offset, so the stored text
// stays in time order across a daylight-saving change. Cadence's crons are UTC anyway.
func useUTC() { time.Local = time.UTC }

func sqliteTargets(core, visibility *config.SQL) []schemaTarget {
	return []schemaTarget{
		{sql: core, fs: sqliteschema.SchemaFS, file: "cadence/schema.sql", marker: "domains", rewrite: sqliteTimeCollation},
		{sql: visibility, fs: sqliteschema.SchemaFS, file: "visibility/schema.sql", marker: "executions_visibility",
			rewrite: sqliteTimeCollation},
	}
}

func sqliteSQL(databaseName string, attrs map[string]string) *config.SQL {
	return &config.SQL{
		PluginName:        sqlite.PluginName,
		DatabaseName:      databaseName,
		ConnectAttributes: attrs,
		// SQLite allows one writer at a time; a single connection queues
		// in database/sql instead of failing with SQLITE_BUSY.
		MaxConns: 1,
	}
}

func postgresSQL(pg PostgresOptions, database string) *config.SQL {
	return &config.SQL{
		PluginName:      postgres.PluginName,
		User:            pg.User,
		Password:        pg.Password,
		DatabaseName:    database,
		ConnectAddr:     net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)),
		ConnectProtocol: "tcp",
		// As Cadence's own server image: every connection stays open when idle. With
		// fewer idle than open, each burst opened (forked) PostgreSQL backends that the
		// next lull closed again — several per second under a campaign.
		MaxConns:        20,
		MaxIdleConns:    20,
		MaxConnLifetime: time.Hour,
		// One round trip per statement with arguments: lib/pq otherwise parses and
		// describes each one first and waits for the answer before binding it. Every
		// argument Cadence's PostgreSQL schema takes as bytes is a bytea column.
		ConnectAttributes: map[string]string{"binary_parameters": "yes"},
	}
}

// applySchema loads the schema into an empty database, leaves a database that
// already has it alone, and refuses a database holding unrelated tables.
func applySchema(ctx context.Context, t schemaTarget, logger log.Logger) error {
	db, err := cadencesql.NewSQLAdminDB(t.sql)
	if err != nil {
		return fmt.Errorf("open %s: %w", t.sql.DatabaseName, err)
	}
	defer db.Close()

	tables, err := db.ListTables(t.sql.DatabaseName)
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", t.sql.DatabaseName, err)
	}
	if slices.Contains(tables, t.marker) {
		return nil
	}
	if len(tables) > 0 {
		return fmt.Errorf("database %s has tables but no %s table; refusing to apply the Cadence schema over it", t.sql.DatabaseName, t.marker)
	}

	text, err := fs.ReadFile(t.fs, t.file)
	if err != nil {
		return err
	}
	schema := string(text)
	if t.rewrite != nil {
		schema = t.rewrite(schema)
	}
	ctx, cancel := context.WithTimeout(ctx, schemaTimeout)
	defer cancel()
	if err := db.ExecSchemaOperationQuery(ctx, schema); err != nil {
		return fmt.Errorf("apply %s to %s: %w", t.file, t.sql.DatabaseName, err)
	}
	if t.recordVersion {
		version, err := latestSchemaVersion(t.fs, path.Dir(t.file))
		if err != nil {
			return err
		}
		if err := db.CreateSchemaVersionTables(); err != nil {
			return fmt.Errorf("create schema_version in %s: %w", t.sql.DatabaseName, err)
		}
		if err := db.UpdateSchemaVersion(t.sql.DatabaseName, version, version); err != nil {
			return fmt.Errorf("record schema version in %s: %w", t.sql.DatabaseName, err)
		}
	}
	logger.Info("applied schema", tag.Value(t.file), tag.StoreType(t.sql.PluginName))
	return nil
}

// latestSchemaVersion returns the newest versioned/vX.Y directory under dir.
// schema.sql matches it; the Version constants in the schema packages can lag
// behind (postgres visibility: constant 0.8, schema.sql at 0.9).
func latestSchemaVersion(fsys fs.FS, dir string) (string, error) {
	entries, err := fs.ReadDir(fsys, path.Join(dir, "versioned"))
	if err != nil {
		return "", err
	}
	var best string
	var bestMajor, bestMinor int
	for _, e := range entries {
		var major, minor int
		if _, err := fmt.Sscanf(e.Name(), "v%d.%d", &major, &minor); err != nil || !e.IsDir() {
			continue
		}
		if best == "" || major > bestMajor || major == bestMajor && minor > bestMinor {
			best, bestMajor, bestMinor = fmt.Sprintf("%d.%d", major, minor), major, minor
		}
	}
	if best == "" {
		return "", fmt.Errorf("no versioned schema under %s", dir)
	}
	return best, nil
}

// ensurePostgresDatabase creates database name unless it exists. Existence is
// checked first so that a user without CREATEDB can use a prepared database.
func ensurePostgresDatabase(ctx context.Context, pg PostgresOptions, name string, logger log.Logger) error {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(pg.User),
		Host:     net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable&connect_timeout=10",
	}
	if pg.Password != "" {
		u.User = url.UserPassword(pg.User, pg.Password)
	}
	db, err := sql.Open(postgres.PluginName, u.String())
	if err != nil {
		return err
	}
	defer db.Close()

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("postgres at %s as %s: %w", u.Host, pg.User, err)
	}
	if exists {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // duplicate_database: lost a race, fine
			return nil
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	logger.Info("created postgres database", tag.Value(name))
	return nil
}

// checkShards refuses a store that was initialised with a different shard
// count: workflow IDs hash onto shards, so changing it orphans executions.
// History creates every shard row on its first start, which is what this
// relies on.
func checkShards(ctx context.Context, factory persistenceclient.Factory, shards int) error {
	mgr, err := factory.NewShardManager()
	if err != nil {
		return err
	}
	defer mgr.Close()

	exists := func(id int) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := mgr.GetShard(ctx, &persistence.GetShardRequest{ShardID: id})
		var notFound *types.EntityNotExistsError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &notFound):
			return false, nil
		default:
			return false, fmt.Errorf("read shard %d: %w", id, err)
		}
	}

	if ok, err := exists(0); err != nil || !ok {
		return err // fresh store
	}
	more, err := exists(shards)
	if err != nil {
		return err
	}
	last, err := exists(shards - 1)
	if err != nil {
		return err
	}
	if more || !last {
		return fmt.Errorf("the store was initialised with a different number of history shards than -shards %d; use the original value or start from an empty store", shards)
	}
	return nil
}
