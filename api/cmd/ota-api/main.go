// Command ota-api is the HTTP gateway for fleet tools. `ota-api migrate` applies the
// database migrations and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/otaplane/ota/api/gateway"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/logging"
)

func main() {
	configPath := flag.String("config", "", "YAML configuration file (default: $OTA_CONFIG, else built-in defaults)")
	flag.Parse()
	cfg, err := config.Load(*configPath)
	if err == nil {
		err = cfg.ValidateAPI()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-api:", err)
		os.Exit(2)
	}
	log, err := logging.New(cfg.Log, "ota-api")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-api:", err)
		os.Exit(2)
	}
	if cfg.UsesDevSecrets() {
		log.Warn("built-in development secrets in use; set OTA_AUTH_ADMIN_KEY and OTA_FIRMWARE_URL_SIGNING_KEY for production")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch flag.Arg(0) {
	case "migrate":
		err = gateway.Migrate(ctx, cfg, log)
	case "", "serve":
		err = gateway.Run(ctx, cfg, log, nil)
	default:
		err = fmt.Errorf("unknown command %q (want serve or migrate)", flag.Arg(0))
	}
	if err != nil {
		log.Error("ota-api failed", zap.Error(err))
		os.Exit(1)
	}
}
