package probe

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMux(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) })
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("broker not connected") }
	tests := []struct {
		name       string
		checks     map[string]Check
		path       string
		wantStatus int
		wantBody   map[string]any
	}{
		{"health is up whatever the checks", map[string]Check{"mqtt": down}, HealthPath, 200,
			map[string]any{"status": "ok"}},
		{"ready when every check passes", map[string]Check{"mqtt": ok, "tenants": ok}, ReadyPath, 200,
			map[string]any{"status": "ready", "checks": map[string]any{"mqtt": "ok", "tenants": "ok"}}},
		{"unavailable names the failing check", map[string]Check{"mqtt": down, "tenants": ok}, ReadyPath, 503,
			map[string]any{"status": "unavailable", "checks": map[string]any{"mqtt": "broker not connected", "tenants": "ok"}}},
		{"unknown path", nil, "/nope", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Mux(tc.checks, metrics).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantBody == nil {
				return
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, tc.wantBody); g != w {
				t.Errorf("body = %s, want %s", g, w)
			}
		})
	}
}

func TestMuxServesMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) })
	rec := httptest.NewRecorder()
	Mux(nil, metrics).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, MetricsPath, nil))
	if rec.Code != 200 || rec.Body.String() != "up 1\n" {
		t.Errorf("metrics: %d %q", rec.Code, rec.Body)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
