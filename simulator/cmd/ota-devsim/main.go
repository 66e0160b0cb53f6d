// Command ota-devsim runs a fleet of simulated OTA devices for one tenant against an
// MQTT broker. Each device gets its own broker credentials from the control plane
// (registering the device first with --register), as a real device is provisioned.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/otaplane/ota/simulator/devicesim"
	"github.com/otaplane/ota/simulator/internal/controlapi"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const registerWorkers = 8

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-devsim:", err)
		os.Exit(2)
	}
	logCfg := zap.NewProductionConfig()
	logCfg.Encoding = "console"
	logCfg.DisableStacktrace = true // errors here are operational, a stack adds nothing
	logCfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := logCfg.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ota-devsim: build logger:", err)
		os.Exit(1)
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr cannot sync

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, log); err != nil {
		log.Error("ota-devsim failed", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, opts options, log *zap.Logger) error {
	specs, err := opts.devices()
	if err != nil {
		return err
	}
	httpClient := &http.Client{Timeout: 30 * time.Second}
	api := controlapi.New(opts.api, opts.apiKey, httpClient)
	tenant := opts.tenant
	if tenant == "" {
		if tenant, err = api.TenantID(ctx); err != nil {
			return err
		}
		log.Info("tenant from API key", zap.String("tenant", tenant))
	}
	devices := make([]controlapi.Device, len(specs))
	for i, s := range specs {
		devices[i] = controlapi.Device{ID: s.ID, HardwareModel: s.HardwareModel, FirmwareVersion: s.FirmwareVersion,
			Labels: map[string]string{"simulated": "true"}}
	}
	// Every device connects with credentials of its own, which the API shows once.
	creds, created, err := api.ProvisionAll(ctx, devices, opts.register, registerWorkers)
	if err != nil {
		return err
	}
	log.Info("devices provisioned", zap.Int("created", created), zap.Int("existing", len(specs)-created))
	broker := opts.broker
	for i := range specs {
		c := creds[specs[i].ID]
		specs[i].Username, specs[i].Password = c.Username, c.Password
		if broker == "" {
			broker = c.Broker
		}
	}
	if broker == "" {
		return fmt.Errorf("no broker: set --broker (the API names none: mqtt.device_broker is empty)")
	}
	// What a provisioned device pins: it installs only updates signed with these keys.
	trust, err := devicesim.FetchTrust(ctx, httpClient, opts.api, opts.apiKey)
	if err != nil {
		return err
	}
	fleet, err := devicesim.NewFleet(devicesim.Config{
		BrokerURL:         broker,
		TenantID:          tenant,
		Trust:             trust,
		HeartbeatInterval: opts.heartbeat,
		StepDelay:         opts.stepDelay,
		ProgressReports:   opts.progress,
		Logger:            log,
	}, specs)
	if err != nil {
		return err
	}
	if err := fleet.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	fleet.Stop()
	return nil
}
