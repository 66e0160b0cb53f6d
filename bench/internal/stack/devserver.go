package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/procstat"
)

// Repo locates the repository's scripts and binaries.
type Repo struct {
	Root string // absolute path of the repository
}

func (r Repo) path(parts ...string) string {
	return filepath.Join(append([]string{r.Root}, parts...)...)
}

// Bin is the path of a binary that `make build` puts into bin/.
func (r Repo) Bin(name string) string { return r.path("bin", name) }

// EnsureServices starts PostgreSQL and Mosquitto, installing them when missing.
func (r Repo) EnsureServices(ctx context.Context) error {
	return runScript(ctx, r.Root, r.path("scripts", "services.sh"))
}

// Build builds the api and worker binaries and the Cadence dev server.
func (r Repo) Build(ctx context.Context) error {
	if err := runScript(ctx, r.Root, "make", "--no-print-directory", "build"); err != nil {
		return err
	}
	return runScript(ctx, r.Root, r.path("scripts", "cadence-devserver.sh"), "build")
}

// DevServerOptions selects the dev server's persistence. It always starts empty: SQLite
// in a new DataDir, or PostgreSQL in a new database PGDatabase.
type DevServerOptions struct {
	Persistence string // sqlite or postgres
	DataDir     string
	PGDatabase  string
}

// DevServer is a running dev server started through scripts/cadence-devserver.sh, which
// keeps its pid file, so `make stop` can still stop it if the benchmark is killed.
type DevServer struct {
	repo Repo
	opts DevServerOptions
	PID  int
	// DispatchTimeouts counts "Async task dispatch timed out" in its log, set by Stop:
	// the matching service's sign of tasks waiting on a poller that does not come.
	DispatchTimeouts int
	stopped          bool
}

// StopDevServer stops a dev server left running by anyone through the script; the
// fixed ports allow only one per machine.
func (r Repo) StopDevServer(ctx context.Context) error {
	return runScript(ctx, r.Root, r.path("scripts", "cadence-devserver.sh"), "stop")
}

// StartDevServer stops any running dev server, then starts a fresh one and waits until
// it is ready.
func (r Repo) StartDevServer(ctx context.Context, o DevServerOptions) (*DevServer, error) {
	if err := r.StopDevServer(ctx); err != nil {
		return nil, err
	}
	args := []string{"start", o.Persistence}
	switch o.Persistence {
	case "sqlite":
		args = append(args, "-data-dir", o.DataDir)
	case "postgres":
		args = append(args, "-pg-db", o.PGDatabase)
	default:
		return nil, fmt.Errorf("dev server persistence %q: want sqlite or postgres", o.Persistence)
	}
	if err := runScript(ctx, r.Root, r.path("scripts", "cadence-devserver.sh"), args...); err != nil {
		return nil, err
	}
	d := &DevServer{repo: r, opts: o}
	pid, err := r.devServerPID()
	if err != nil {
		_ = r.StopDevServer(context.Background())
		return nil, err
	}
	d.PID = pid
	// Someone else may have started one between our stop and start; the script would
	// then have reused theirs, with the wrong persistence and data.
	mode, _ := os.ReadFile(r.path(".run", "cadence-devserver.persistence"))
	if strings.TrimSpace(string(mode)) != o.Persistence {
		_ = r.StopDevServer(context.Background())
		return nil, fmt.Errorf("dev server pid %d runs %q persistence, not %s (started by someone else?)",
			pid, strings.TrimSpace(string(mode)), o.Persistence)
	}
	return d, nil
}

func (r Repo) devServerPID() (int, error) {
	raw, err := os.ReadFile(r.path(".run", "cadence-devserver.pid"))
	if err != nil {
		return 0, fmt.Errorf("dev server pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0, fmt.Errorf("dev server pid file: %w", err)
	}
	exe, err := procstat.Executable(pid)
	if err != nil || !procstat.SameFile(exe, r.Bin("cadence-devserver")) {
		return 0, fmt.Errorf("pid %d from the dev server pid file is not bin/cadence-devserver (%s)", pid, exe)
	}
	return pid, nil
}

// Alive reports whether the dev server this benchmark started still runs.
func (d *DevServer) Alive() error {
	pid, err := d.repo.devServerPID()
	if err != nil || pid != d.PID {
		return fmt.Errorf("Cadence dev server (pid %d) is gone; log:\n%s", d.PID,
			Tail(d.repo.path(".run", "cadence-devserver.log"), 15))
	}
	return nil
}

// Stop stops the dev server, keeps a copy of its log in logDir and removes its data; once.
func (d *DevServer) Stop(logDir string) error {
	if d.stopped {
		return nil
	}
	d.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := d.repo.StopDevServer(ctx)
	if raw, rerr := os.ReadFile(d.repo.path(".run", "cadence-devserver.log")); rerr == nil {
		_ = os.WriteFile(filepath.Join(logDir, "cadence-devserver.log"), raw, 0o644)
		d.DispatchTimeouts = strings.Count(string(raw), "Async task dispatch timed out")
	}
	switch d.opts.Persistence {
	case "sqlite":
		if rerr := os.RemoveAll(d.opts.DataDir); rerr != nil && err == nil {
			err = rerr
		}
	case "postgres":
		for _, db := range []string{d.opts.PGDatabase, d.opts.PGDatabase + "_visibility"} {
			if derr := DropDatabase(ctx, db); derr != nil && err == nil {
				err = derr
			}
		}
	}
	return err
}
