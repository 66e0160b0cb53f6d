package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// workerProcess is the ota-worker binary running against the test database.
type workerProcess struct {
	bin     string
	env     []string
	logPath string
	cmd     *exec.Cmd
	log     *os.File
}

func startWorker(dir, dbName string) (*workerProcess, error) {
	bin := filepath.Join(dir, "ota-worker")
	build := exec.Command("go", "build", "-o", bin, "github.com/otaplane/ota/worker/cmd/ota-worker")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build worker: %w\n%s", err, out)
	}
	w, err := newWorkerProcess(bin, filepath.Join(dir, "worker.log"), cfg.MQTT.ClientID)
	if err != nil {
		return nil, err
	}
	return w, w.start()
}

// newWorkerProcess prepares a worker with its own MQTT client id; every worker shares
// the database, the Cadence task list and the shared subscription group.
func newWorkerProcess(bin, logPath, clientID string) (*workerProcess, error) {
	cfgPath, err := filepath.Abs("../configs/test.yaml")
	if err != nil {
		return nil, err
	}
	w := &workerProcess{bin: bin, logPath: logPath, env: append(os.Environ(),
		"OTA_CONFIG="+cfgPath,
		"OTA_LOG_LEVEL=info",
		"OTA_DATABASE_DSN="+cfg.Database.DSN,
		"OTA_HTTP_PUBLIC_URL="+cfg.HTTP.PublicURL,
		"OTA_FIRMWARE_URL_SIGNING_KEY="+cfg.Firmware.URLSigningKey,
		// A stable client id and a persistent session: a restarted worker receives the
		// reports the broker queued while it was down.
		"OTA_MQTT_CLIENT_ID="+clientID,
		"OTA_MQTT_SHARED_GROUP="+cfg.MQTT.SharedGroup,
		"OTA_WORKER_MONITOR_LISTEN=127.0.0.1:0",
		"OTA_WORKER_SHUTDOWN_TIMEOUT=10s",
	)}
	return w, nil
}

func (w *workerProcess) start() error {
	f, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w.log = f
	w.cmd = exec.Command(w.bin)
	w.cmd.Env = w.env
	w.cmd.Stdout, w.cmd.Stderr = f, f
	// A test binary that dies (a panic, a timeout) takes its worker with it: a worker
	// left behind would serve the next run's tenants with this run's settings.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	return nil
}

// kill ends the worker the hard way: no graceful shutdown, in-flight work abandoned.
func (w *workerProcess) kill() {
	_ = w.cmd.Process.Kill()
	_, _ = w.cmd.Process.Wait()
	_ = w.log.Close()
	w.cmd = nil
}

// killForTest kills the worker and makes sure it runs again when the test ends, even
// if the test fails before restarting it: later tests need it.
func (w *workerProcess) killForTest(t *testing.T) {
	w.kill()
	t.Cleanup(func() {
		if w.cmd == nil {
			if err := w.start(); err != nil {
				t.Errorf("restart worker: %v", err)
			}
		}
	})
}

// stop asks for a graceful shutdown (SIGTERM) and waits for it, bounded.
func (w *workerProcess) stop() {
	if w.cmd == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { _, _ = w.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = w.cmd.Process.Kill()
		<-done
	}
	_ = w.log.Close()
}
