// Package gateway wires the API process: store, Cadence connection, use cases, router,
// and a graceful HTTP server. main only loads configuration and calls Run or Migrate.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/api/httpapi"
	"github.com/otaplane/ota/api/workflowclient"
	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/probe"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/signing"
	"github.com/otaplane/ota/pkg/store/postgres"
)

// Migrate applies the database migrations and returns.
func Migrate(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
	secrets, err := secretbox.New(cfg.Secrets.EncryptionKey)
	if err != nil {
		return err
	}
	st, err := postgres.Open(cfg.Database, postgres.WithSecrets(secrets))
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	log.Info("migrations applied", zap.Int("applied", n))
	return nil
}

// Run serves until ctx is canceled, then drains in-flight requests. ready, when not nil,
// receives the bound address once the listener is up.
func Run(ctx context.Context, cfg *config.Config, log *zap.Logger, ready chan<- string) error {
	secrets, err := secretbox.New(cfg.Secrets.EncryptionKey)
	if err != nil {
		return err
	}
	st, err := postgres.OpenReady(ctx, cfg.Database, cfg.Cadence.StartupTimeout, postgres.WithSecrets(secrets))
	if err != nil {
		return err
	}
	defer st.Close()
	conn, err := cadenceclient.Dial(cfg.Cadence, "ota-api")
	if err != nil {
		return err
	}
	defer conn.Close()
	// Start-up health check: refuse to serve against a Cadence that never answers.
	if err := conn.WaitReady(ctx, cfg.Cadence.StartupTimeout, cfg.Cadence.RPCTimeout); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	keyCache, stopKeyCache, err := startKeyCache(ctx, cfg, st, reg, log)
	if err != nil {
		return err
	}
	defer stopKeyCache() // before the store closes: the listener probes through its pool
	wf := workflowclient.New(conn, cfg.Cadence)
	keys := signing.New(st, secrets)
	svc := app.New(st, wf, keys, cfg)
	router := httpapi.New(svc, app.NewFleetService(st), app.NewLoRaWANService(st, wf, cfg), app.NewCredentialService(st, cfg, keys),
		app.NewAccessService(st, cfg, keyCache), app.NewWebhookService(st, cfg), cfg, reg, log)
	mux := http.NewServeMux()
	mux.Handle(probe.MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", router)

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("api listening", zap.String("addr", ln.Addr().String()), zap.String("cadence", cfg.Cadence.Address()))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests", zap.Duration("timeout", cfg.HTTP.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("drain: %w", err)
	}
	log.Info("api stopped")
	return nil
}
