package gateway

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/store/postgres"
)

// startKeyCache returns the cache of authenticated API keys with its change listener
// running, or nil when auth.key_cache_ttl is 0. stop ends the listener and waits for it.
func startKeyCache(ctx context.Context, cfg *config.Config, st *postgres.Store, reg prometheus.Registerer,
	log *zap.Logger) (cache *app.KeyCache, stop func(), err error) {
	if cfg.Auth.KeyCacheTTL == 0 {
		log.Info("API key cache off: every request asks the database")
		return nil, func() {}, nil
	}
	listener, err := postgres.NewKeyListener(st, postgres.KeyListenerConfig{
		DSN:             cfg.Database.ListenerDSN(),
		ApplicationName: "ota-api key listener",
		OnError: func(err error) {
			log.Warn("API key cache bypassed until its notifications are proven again", zap.Error(err))
		},
	})
	if err != nil {
		return nil, nil, err
	}
	cache = app.NewKeyCache(cfg.Auth.KeyCacheTTL, listener)
	cache.RegisterMetrics(reg)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.Run(lctx, cache.Invalidate)
	}()
	return cache, func() { cancel(); <-done }, nil
}
