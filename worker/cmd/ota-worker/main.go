// Command ota-worker runs the OTA workflows and the activities that talk to devices.
package main

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
	"github.com/otaplane/ota/worker/app"
)

func main() {
	configPath := flag.String("config", "", "YAML configuration file (default: $OTA_CONFIG, else built-in defaults)")
	flag.Parse()
	cfg, err := config.Load(*configPath)
	if err == nil {
		err = cfg.ValidateWorker()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-worker:", err)
		os.Exit(2)
	}
	log, err := logging.New(cfg.Log, "ota-worker")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-worker:", err)
		os.Exit(2)
	}
	if cfg.UsesDevSecrets() {
		log.Warn("built-in development secrets in use; set OTA_FIRMWARE_URL_SIGNING_KEY for production")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg, log); err != nil {
		log.Error("worker failed", zap.Error(err))
		os.Exit(1)
	}
}
