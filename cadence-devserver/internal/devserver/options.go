// Package devserver assembles a single-process Cadence server (frontend,
// matching, history and worker) for local development and integration tests.
package devserver

import (
	"fmt"
	"regexp"
	"strings"
)

// Persistence back ends.
const (
	PersistenceSQLite   = "sqlite"
	PersistenceMemory   = "memory"
	PersistencePostgres = "postgres"
)

// Addresses are fixed by the onebox host for cluster 0.
const (
	FrontendGRPCAddr     = "127.0.0.1:7114"
	FrontendTChannelAddr = "127.0.0.1:7104"
)

// Options configures the dev server.
type Options struct {
	Persistence string
	DataDir     string
	Postgres    PostgresOptions
	Shards      int
	LogLevel    string
}

// PostgresOptions locates the PostgreSQL server. Database holds the core
// tables; visibility records go to Database + "_visibility".
type PostgresOptions struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
}

// VisibilityDatabase is the name of the PostgreSQL visibility database.
func (p PostgresOptions) VisibilityDatabase() string { return p.Database + "_visibility" }

var pgIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate rejects option combinations the server cannot run with.
func (o *Options) Validate() error {
	switch o.Persistence {
	case PersistenceSQLite:
		if o.DataDir == "" {
			return fmt.Errorf("-data-dir must not be empty for sqlite persistence")
		}
	case PersistenceMemory:
	case PersistencePostgres:
		// The name ends up in CREATE DATABASE and in a DSN path.
		if !pgIdent.MatchString(o.Postgres.Database) {
			return fmt.Errorf("-pg-db %q: use letters, digits and underscores only", o.Postgres.Database)
		}
		if o.Postgres.Port <= 0 || o.Postgres.Port > 65535 {
			return fmt.Errorf("-pg-port %d out of range", o.Postgres.Port)
		}
	default:
		return fmt.Errorf("-persistence %q: want sqlite, memory or postgres", o.Persistence)
	}
	if o.Shards < 1 {
		return fmt.Errorf("-shards must be at least 1, got %d", o.Shards)
	}
	switch strings.ToLower(o.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("-log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	return nil
}
