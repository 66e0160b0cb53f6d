// Package startup is what every binary does first: load and validate configuration,
// build the logger, and tie a context to SIGINT/SIGTERM.
package startup

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/logging"
)

// Exit codes: 2 for configuration errors, 1 for failures while running.
const (
	exitConfig  = 2
	exitFailure = 1
)

// Load parses flags, loads and validates the configuration and builds the logger. A bad
// value stops the process with one message naming the key.
func Load(service string, validate func(*config.Config) error) (*config.Config, *zap.Logger) {
	configPath := flag.String("config", "", "YAML configuration file (default: $OTA_CONFIG, else built-in defaults)")
	flag.Parse()
	cfg, err := config.Load(*configPath)
	if err == nil {
		err = validate(cfg)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		os.Exit(exitConfig)
	}
	log, err := logging.New(cfg.Log, service)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		os.Exit(exitConfig)
	}
	if cfg.UsesDevSecrets() {
		log.Warn("built-in development secrets in use; set OTA_AUTH_ADMIN_KEY and OTA_FIRMWARE_URL_SIGNING_KEY for production")
	}
	return cfg, log
}

// SignalContext is canceled by SIGINT or SIGTERM: the start of a graceful shutdown.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// Exit ends the process, logging err if there is one.
func Exit(log *zap.Logger, err error) {
	_ = log.Sync()
	if err != nil {
		log.Error("stopped with an error", zap.Error(err))
		os.Exit(exitFailure)
	}
}
