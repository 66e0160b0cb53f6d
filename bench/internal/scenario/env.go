package scenario

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
	"github.com/otaplane/ota/simulator/devicesim"
)

// Grace periods when stopping: the worker lets in-flight activities finish (its
// shutdown_timeout is 30s by default).
const (
	workerGrace = 45 * time.Second
	apiGrace    = 20 * time.Second
	readyWait   = 90 * time.Second
)

// env is one freshly started stack: dev server, app database, api, workers, fleet.
type env struct {
	spec   Spec
	opts   Options
	logDir string

	dev     *stack.DevServer
	broker  *stack.Broker // nil when an external broker is used
	mqttURL string
	appDB   string
	api     *stack.Proc
	workers []*stack.Proc
	fleet   *devicesim.Fleet

	metricsPorts []int // of each worker

	apiURL   string
	admin    *otaapi.Client
	client   *otaapi.Client // the benchmark tenant's key
	tenantID string
	firmware otaapi.Firmware
	sets     deviceSets

	cleanups []func()
}

func (e *env) onDown(name string, fn func() error) {
	e.cleanups = append(e.cleanups, func() {
		if err := fn(); err != nil {
			logf("%s: cleanup %s: %v", e.spec.Name(), name, err)
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
	name := e.spec.Name()
	e.logDir = filepath.Join(e.opts.LogDir, name)
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		return err
	}
	dbBase := fmt.Sprintf("ota_bench_%s_%s", e.opts.Stamp, strings.ReplaceAll(name, "-", "_"))

	devOpts := stack.DevServerOptions{Persistence: e.spec.Persistence, DataDir: filepath.Join(e.logDir, "cadence-data"),
		PGDatabase: dbBase + "_cadence"}
	logf("%s: starting a fresh Cadence dev server (%s persistence)", name, e.spec.Persistence)
	dev, err := e.opts.Repo.StartDevServer(ctx, devOpts)
	if err != nil {
		// A server that failed half-way may have left its data behind.
		e.onDown("dev server data", func() error {
			if devOpts.Persistence == "postgres" {
				_ = stack.DropDatabase(context.Background(), devOpts.PGDatabase+"_visibility")
				return stack.DropDatabase(context.Background(), devOpts.PGDatabase)
			}
			return os.RemoveAll(devOpts.DataDir)
		})
		return fmt.Errorf("dev server: %w", err)
	}
	e.dev = dev
	e.onDown("dev server", func() error { return dev.Stop(e.logDir) })

	e.appDB = dbBase
	if err := stack.CreateDatabase(ctx, e.appDB); err != nil {
		return err
	}
	e.onDown("app database", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return stack.DropDatabase(ctx, e.appDB)
	})

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

	e.api, err = stack.StartProc("api", e.opts.Repo.Bin("ota-api"), nil, common, filepath.Join(e.logDir, "api.log"))
	if err != nil {
		return err
	}
	api := e.api
	e.onDown("api", func() error { return api.Stop(apiGrace) })
	hc := otaapi.NewHTTPClient(128)
	e.admin = &otaapi.Client{Base: e.apiURL, Key: adminKey, HTTP: hc}
	if err := e.waitReady(ctx); err != nil {
		return err
	}

	for i := 1; i <= e.spec.Workers; i++ {
		wenv := append(append([]string{}, common...),
			fmt.Sprintf("OTA_MQTT_CLIENT_ID=ota-bench-%d-%s-worker-%d", os.Getpid(), e.opts.Stamp, i),
			"OTA_MQTT_USERNAME="+e.broker.Config.Auth.WorkerUsername,
			"OTA_MQTT_PASSWORD="+e.broker.Config.Auth.WorkerPassword,
			"OTA_WORKER_MONITOR_LISTEN=127.0.0.1:0")
		w, err := stack.StartProc(fmt.Sprintf("worker-%d", i), e.opts.Repo.Bin("ota-worker"), nil, wenv,
			filepath.Join(e.logDir, fmt.Sprintf("worker-%d.log", i)))
		if err != nil {
			return err
		}
		e.workers = append(e.workers, w)
		e.onDown(w.Name, func() error { return w.Stop(workerGrace) })
	}
	return e.waitWorkers(ctx)
}

// processEnv is the environment of the api and workers: only what the benchmark sets,
// so variables of the caller's shell cannot change the system under test.
func (e *env) processEnv(port int, adminKey string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"OTA_DATABASE_DSN=" + stack.DSN(e.appDB),
		fmt.Sprintf("OTA_HTTP_LISTEN=127.0.0.1:%d", port),
		fmt.Sprintf("OTA_HTTP_PUBLIC_URL=http://127.0.0.1:%d", port),
		"OTA_AUTH_ADMIN_KEY=" + adminKey,
		"OTA_MQTT_BROKER=" + e.mqttURL,
		"OTA_LOG_LEVEL=warn",
		fmt.Sprintf("OTA_OTA_CAMPAIGN_IN_FLIGHT=%d", e.spec.InFlight),
	}
	if e.spec.HoldInFlight {
		// Runs must stay COMMANDED while memory is measured; the stack is torn down
		// afterwards, so they never need to time out.
		env = append(env, "OTA_OTA_STEP_TIMEOUT=1h")
	}
	return append(env, e.opts.ExtraEnv...)
}

// startBroker starts a private Mosquitto unless -broker names one.
func (e *env) startBroker(ctx context.Context) error {
	if e.opts.Broker != "" {
		e.mqttURL = e.opts.Broker
		return nil
	}
	port, err := stack.FreePort()
	if err != nil {
		return err
	}
	b, err := stack.StartBroker(ctx, stack.BrokerConfig{Port: port, Auth: e.opts.Repo.NewBrokerAuth(e.appDB)}, e.logDir)
	if err != nil {
		return err
	}
	e.broker = b
	e.onDown("mosquitto", func() error { return b.Stop(10 * time.Second) })
	e.mqttURL = b.URL()
	return nil
}

func (e *env) waitReady(ctx context.Context) error {
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
			return fmt.Errorf("api not ready after %s: %v", readyWait, err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// alive fails if any process of the stack has gone away.
func (e *env) alive() error {
	if err := e.dev.Alive(); err != nil {
		return err
	}
	procs := append([]*stack.Proc{e.api}, e.workers...)
	if e.broker != nil {
		procs = append(procs, e.broker.Proc())
	}
	for _, p := range procs {
		if err := p.Alive(); err != nil {
			return err
		}
	}
	return nil
}

// cpuSample is cumulative CPU time per component.
type cpuSample map[string]time.Duration

// cpu samples every component's CPU time.
func (e *env) cpu() cpuSample {
	s := cpuSample{}
	read := func(key string, pid int) {
		if d, err := procstat.CPU(pid); err == nil {
			s[key] = d
		}
	}
	read("cadence", e.dev.PID)
	read("api", e.api.PID())
	for _, w := range e.workers {
		read(w.Name, w.PID())
	}
	read("bench", os.Getpid())
	if d, _, err := procstat.CommandCPU("postgres"); err == nil {
		s["postgres"] = d
	}
	if e.broker != nil {
		read("mosquitto", e.broker.Proc().PID())
	} else if d, _, err := procstat.CommandCPU("mosquitto"); err == nil {
		s["mosquitto"] = d
	}
	if d, err := procstat.MachineBusy(); err == nil {
		s[machineKey] = d
	}
	return s
}

// machineKey is the whole machine's busy CPU time in a sample; perDevice turns it into
// "other": CPU used by processes outside the benchmark's stack (other users, builds).
const machineKey = "machine"

// perDevice turns two samples into milliseconds per device, with the workers summed
// and a server total (everything but the benchmark process itself).
func perDevice(before, after cpuSample, devices int) map[string]float64 {
	out := map[string]float64{}
	var workers, total, ours time.Duration
	for k, a := range after {
		d := a - before[k]
		if k == machineKey {
			continue
		}
		out[k] = ms(d) / float64(devices)
		if strings.HasPrefix(k, "worker-") {
			workers += d
		}
		if k != "bench" {
			total += d
		}
		ours += d
	}
	out["worker"] = ms(workers) / float64(devices)
	out["server_total"] = ms(total) / float64(devices)
	if m, ok := after[machineKey]; ok {
		// Postgres is counted machine-wide, so "other" excludes others' database work.
		out["other"] = max(0, ms(m-before[machineKey]-ours)) / float64(devices)
	}
	for k, v := range out {
		out[k] = round(v, 2)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
