package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/otaapi"
	"github.com/otaplane/ota/bench/internal/procstat"
	"github.com/otaplane/ota/bench/internal/stack"
	"github.com/otaplane/ota/bench/internal/tcpproxy"
	"github.com/otaplane/ota/simulator/devicesim"
)

const (
	// The worker's own graceful shutdown allows 30 s for in-flight activities.
	workerGrace = 45 * time.Second
	apiGrace    = 20 * time.Second
	readyWait   = 90 * time.Second
	// Short, so a broker killed with SIGKILL loses little of its state.
	brokerAutosave = 2 * time.Second
)

// env is one fault's freshly started stack: dev server, app database, broker, database
// proxy, api, workers and the simulated fleet.
type env struct {
	cfg    Config
	repo   stack.Repo
	fault  fault
	logDir string

	dev     *stack.DevServer
	appDB   string
	broker  *stack.Broker
	proxy   *tcpproxy.Proxy
	api     *stack.Proc
	workers []*stack.Proc // a killed worker's slot holds its restarted process, if any
	gone    map[int]bool  // workers killed for good by the fault
	fleet   *devicesim.Fleet

	apiURL   string
	admin    *otaapi.Client
	client   *otaapi.Client // the tenant's key
	tenantID string
	firmware otaapi.Firmware
	ids      []string

	cleanups []func()
}

func (e *env) onDown(name string, fn func() error) {
	e.cleanups = append(e.cleanups, func() {
		if err := fn(); err != nil {
			logf("%s: cleanup %s: %v", e.fault.name, name, err)
		}
	})
}

// down undoes up in reverse order; it runs after failures and interrupts too.
func (e *env) down() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

// up starts everything the run needs, registering each piece for down.
func (e *env) up(ctx context.Context) error {
	name := e.fault.name
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		return err
	}
	dbBase := fmt.Sprintf("ota_chaos_%s_%s", e.cfg.Stamp, strings.ReplaceAll(name, "-", "_"))

	// SQLite: the outage under test is the app database's (see chaos.md).
	devOpts := stack.DevServerOptions{Persistence: "sqlite", DataDir: filepath.Join(e.logDir, "cadence-data")}
	logf("%s: starting a fresh Cadence dev server", name)
	dev, err := e.repo.StartDevServer(ctx, devOpts)
	if err != nil {
		e.onDown("dev server data", func() error { return os.RemoveAll(devOpts.DataDir) })
		return fmt.Errorf("dev server: %w", err)
	}
	e.dev = dev
	e.onDown("dev server", func() error { return dev.Stop(e.logDir) })

	e.appDB = dbBase
	if err := stack.CreateDatabase(ctx, e.appDB); err != nil {
		return err
	}
	e.onDown("app database", func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return stack.DropDatabase(dctx, e.appDB)
	})

	// Every database connection of api, workers and the broker's authentication plugin
	// goes through the proxy, in every run, so the runs differ only in their fault.
	e.proxy, err = tcpproxy.Start("127.0.0.1:0", stack.PostgresAddr)
	if err != nil {
		return err
	}
	e.onDown("postgres proxy", e.proxy.Close)

	if err := e.startBroker(ctx); err != nil {
		return err
	}

	port, err := stack.FreePort()
	if err != nil {
		return err
	}
	e.apiURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	adminKey := randomHex(16)
	common := e.processEnv(port, adminKey)
	e.api, err = stack.StartProc("api", e.repo.Bin("ota-api"), nil, common, filepath.Join(e.logDir, "api.log"))
	if err != nil {
		return err
	}
	e.onDown("api", func() error { return e.api.Stop(apiGrace) })
	e.admin = &otaapi.Client{Base: e.apiURL, Key: adminKey, HTTP: otaapi.NewHTTPClient(32)}
	if err := e.waitAPI(ctx); err != nil {
		return err
	}

	for i := range e.fault.workers {
		wenv := append(append([]string{}, common...),
			"OTA_MQTT_BROKER="+e.broker.URL(),
			"OTA_MQTT_USERNAME="+e.broker.Config.Auth.WorkerUsername,
			"OTA_MQTT_PASSWORD="+e.broker.Config.Auth.WorkerPassword,
			// Stable across a restart, so the restarted worker resumes its persistent session.
			fmt.Sprintf("OTA_MQTT_CLIENT_ID=ota-chaos-%s-%s-worker-%d", e.cfg.Stamp, name, i+1),
			// Chosen by the kernel; two workers on one machine cannot share the default.
			"OTA_WORKER_MONITOR_LISTEN=127.0.0.1:0")
		w, err := stack.StartProc(fmt.Sprintf("worker-%d", i+1), e.repo.Bin("ota-worker"), nil, wenv,
			filepath.Join(e.logDir, fmt.Sprintf("worker-%d.log", i+1)))
		if err != nil {
			return err
		}
		e.workers = append(e.workers, w)
		e.onDown(w.Name, func() error { return e.workers[i].Stop(workerGrace) })
	}
	for _, w := range e.workers {
		if _, err := waitWorker(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// processEnv is the environment of the api and workers: only what the benchmark sets,
// so variables of the caller's shell cannot change the system under test. Everything
// else keeps the product's defaults.
func (e *env) processEnv(port int, adminKey string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"OTA_DATABASE_DSN=" + stack.DSNAt(e.proxy.Addr(), e.appDB),
		fmt.Sprintf("OTA_HTTP_LISTEN=127.0.0.1:%d", port),
		fmt.Sprintf("OTA_HTTP_PUBLIC_URL=http://127.0.0.1:%d", port),
		"OTA_AUTH_ADMIN_KEY=" + adminKey,
	}
}

// startBroker starts the run's own Mosquitto with persistence in a new temporary
// directory, removed at teardown.
func (e *env) startBroker(ctx context.Context) error {
	port, err := stack.FreePort()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ota-chaos-"+e.cfg.Stamp+"-mosquitto-")
	if err != nil {
		return err
	}
	e.onDown("broker persistence", func() error { return os.RemoveAll(dir) })
	auth := e.repo.NewBrokerAuth(e.appDB)
	auth.DatabaseDSN = stack.DSNAt(e.proxy.Addr(), e.appDB)
	b, err := stack.StartBroker(ctx, stack.BrokerConfig{Port: port, PersistenceDir: dir,
		AutosaveInterval: brokerAutosave, Verbose: true, Auth: auth}, e.logDir)
	if err != nil {
		return err
	}
	e.broker = b
	e.onDown("mosquitto", func() error { return e.broker.Stop(10 * time.Second) })
	return nil
}

func (e *env) waitAPI(ctx context.Context) error {
	deadline := time.Now().Add(readyWait)
	for {
		if err := e.api.Alive(); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := e.admin.Ready(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("api not ready after %s: %w", readyWait, err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitWorker waits until a worker serves metrics, which it starts only after it has
// subscribed to device traffic, and returns how long that took.
func waitWorker(ctx context.Context, w *stack.Proc) (time.Duration, error) {
	t0 := time.Now()
	deadline := t0.Add(readyWait)
	for {
		if err := w.Alive(); err != nil {
			return 0, err
		}
		if ports, err := procstat.ListeningPorts(w.PID()); err == nil && len(ports) > 0 {
			return time.Since(t0), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not serving metrics after %s", w.Name, readyWait)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// alive fails if a process that should run has gone away; a worker the fault killed
// for good is not missed. Only the goroutine running the fault calls it.
func (e *env) alive() error {
	if err := e.dev.Alive(); err != nil {
		return err
	}
	procs := []*stack.Proc{e.api, e.broker.Proc()}
	for i, w := range e.workers {
		if !e.gone[i] {
			procs = append(procs, w)
		}
	}
	for _, p := range procs {
		if err := p.Alive(); err != nil {
			return err
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
