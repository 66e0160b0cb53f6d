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

// MaxCluster is the highest cluster number the onebox host has ports for. Cluster n
// listens on the ports of cluster 0 plus n×1000, so up to four servers (say, a demo and
// a test run) share a machine.
const MaxCluster = 3

// portShift is how far each cluster number moves every onebox port.
const portShift = 1000

// FrontendGRPCAddr is the frontend's gRPC address for a cluster number.
func FrontendGRPCAddr(cluster int) string { return fmt.Sprintf("127.0.0.1:%d", 7114+cluster*portShift) }

// FrontendTChannelAddr is the frontend's TChannel address (Cadence Web, the CLI).
func FrontendTChannelAddr(cluster int) string {
	return fmt.Sprintf("127.0.0.1:%d", 7104+cluster*portShift)
}

// Options configures the dev server.
type Options struct {
	Persistence string
	DataDir     string
	Postgres    PostgresOptions
	Shards      int
	LogLevel    string
	// Cluster picks the onebox port set (0 to MaxCluster).
	Cluster int
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
	if o.Cluster < 0 || o.Cluster > MaxCluster {
		return fmt.Errorf("-cluster %d: want 0 to %d", o.Cluster, MaxCluster)
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
