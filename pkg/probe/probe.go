// Package probe is what orchestrators and Prometheus call on every process: the paths
// of liveness, readiness and metrics, and the readiness answer's shape. The api, the
// worker and the Kubernetes manifests (deploy/) all take the paths from here.
package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"
)

// Paths every process serves.
const (
	// HealthPath answers 200 while the process is up (liveness).
	HealthPath = "/healthz"
	// ReadyPath answers 200 when the process can do its work, 503 and why otherwise.
	ReadyPath = "/readyz"
	// MetricsPath serves Prometheus metrics.
	MetricsPath = "/metrics"
)

// Paths lists HealthPath, ReadyPath and MetricsPath.
func Paths() []string { return []string{HealthPath, ReadyPath, MetricsPath} }

// Check reports nil when one dependency is usable.
type Check func(ctx context.Context) error

// Answer is the body of a readiness answer: "ready" or "unavailable", and each check's
// "ok" or error text.
type Answer struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Evaluate runs every check and tells whether all passed.
func Evaluate(ctx context.Context, checks map[string]Check) (Answer, bool) {
	names := make([]string, 0, len(checks))
	for name := range checks {
		names = append(names, name)
	}
	sort.Strings(names)
	a := Answer{Status: "ready", Checks: make(map[string]string, len(checks))}
	ready := true
	for _, name := range names {
		if err := checks[name](ctx); err != nil {
			ready = false
			a.Checks[name] = err.Error()
			continue
		}
		a.Checks[name] = "ok"
	}
	if !ready {
		a.Status = "unavailable"
	}
	return a, ready
}

// checkTimeout bounds one readiness answer: a kubelet probe gives up after its own
// timeout, and a hung check must not pile up goroutines behind it.
const checkTimeout = 3 * time.Second

// Mux serves HealthPath, ReadyPath (from checks) and MetricsPath (metrics), and 404
// for anything else.
func Mux(checks map[string]Check, metrics http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
		defer cancel()
		a, ready := Evaluate(ctx, checks)
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, a)
	})
	mux.Handle("GET "+MetricsPath, metrics)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
