// Command cadence-devserver runs a complete Cadence server (frontend,
// matching, history, worker) in one process for local development and
// integration tests. It prints one ready line to stdout; logs go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/otaplane/ota/cadence-devserver/internal/devserver"
)

const stopTimeout = 10 * time.Second

func main() { os.Exit(run()) }

func run() int {
	// A private FlagSet: Cadence's host package registers its own test flags
	// on flag.CommandLine.
	fs := flag.NewFlagSet("cadence-devserver", flag.ContinueOnError)
	var opts devserver.Options
	fs.StringVar(&opts.Persistence, "persistence", devserver.PersistenceSQLite, "persistence: sqlite, memory or postgres")
	fs.StringVar(&opts.DataDir, "data-dir", "./.run/cadence", "directory for the sqlite database files")
	fs.StringVar(&opts.Postgres.Host, "pg-host", "127.0.0.1", "postgres host")
	fs.IntVar(&opts.Postgres.Port, "pg-port", 5432, "postgres port")
	fs.StringVar(&opts.Postgres.User, "pg-user", "postgres", "postgres user")
	fs.StringVar(&opts.Postgres.Password, "pg-password", "", "postgres password")
	fs.StringVar(&opts.Postgres.Database, "pg-db", "cadence", "postgres database (visibility uses <pg-db>_visibility); created if missing")
	fs.IntVar(&opts.Shards, "shards", 4, "number of history shards (fixed once a store is initialised)")
	fs.StringVar(&opts.LogLevel, "log-level", "warn", "cadence log level: debug, info, warn or error")
	fs.IntVar(&opts.Cluster, "cluster", 0, fmt.Sprintf("port set, 0 to %d: cluster n listens on the cluster-0 ports (frontend gRPC 7114) plus n×1000", devserver.MaxCluster))
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cadence-devserver: unexpected arguments %q\n", fs.Args())
		return 2
	}

	srv, err := devserver.New(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cadence-devserver: %v\n", err)
		return 2
	}

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	started := time.Now()
	if err := srv.Start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "cadence-devserver: %v\n", err)
		stop(srv)
		return 1
	}
	fmt.Fprintf(os.Stderr, "cadence-devserver: %s persistence, %d shards, up in %s\n",
		opts.Persistence, opts.Shards, time.Since(started).Round(time.Millisecond))
	fmt.Printf("cadence-devserver ready grpc=%s tchannel=%s\n", devserver.FrontendGRPCAddr(opts.Cluster), devserver.FrontendTChannelAddr(opts.Cluster))

	<-ctx.Done()
	// Restore default handling so a second signal kills the process at once.
	stopSignals()
	fmt.Fprintln(os.Stderr, "cadence-devserver: stopping")
	if !stop(srv) {
		return 1
	}
	return 0
}

func stop(srv *devserver.Server) bool {
	if err := srv.Stop(stopTimeout); err != nil {
		fmt.Fprintf(os.Stderr, "cadence-devserver: %v after %s; exiting anyway\n", err, stopTimeout)
		return false
	}
	return true
}
