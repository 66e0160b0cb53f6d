package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/probe"
)

// A worker's monitor listener: alive at once, ready when it polls every tenant's task
// list and holds its broker connection, and its metrics for Prometheus. A second worker
// process, so the harness's one keeps its settings.
func TestWorkerMonitor(t *testing.T) {
	port, err := freePort()
	require.NoError(t, err)
	w, err := newWorkerProcess(worker.bin, filepath.Join(t.TempDir(), "worker.log"), fmt.Sprintf("ota-it-monitor-%d", port))
	require.NoError(t, err)
	w.env = append(w.env, fmt.Sprintf("OTA_WORKER_MONITOR_LISTEN=127.0.0.1:%d", port))
	require.NoError(t, w.start())
	t.Cleanup(w.stop)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	var ready probe.Answer
	var last string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		status, body := get(probe.ReadyPath)
		if status == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(body), &ready))
			break
		}
		last = body
		require.Truef(t, time.Now().Before(deadline), "worker never ready: last answer %s", last)
	}
	// Tenants whose domain is gone (other tests leave some) do not make it unready.
	assert.Equal(t, probe.Answer{Status: "ready", Checks: map[string]string{"mqtt": "ok", "tenants": "ok"}}, ready)

	status, _ := get(probe.HealthPath)
	assert.Equal(t, http.StatusOK, status)
	status, metrics := get(probe.MetricsPath)
	assert.Equal(t, http.StatusOK, status)
	assert.True(t, strings.Contains(metrics, "ota_device_heartbeats_total"), "metrics: %.500s", metrics)
}
