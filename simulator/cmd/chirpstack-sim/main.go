// Command chirpstack-sim serves a stateful, in-memory ChirpStack v4 gRPC API
// (tenants, applications, device profiles, devices, FUOTA deployments) and
// publishes integration events over MQTT. It seeds one application and one
// FUOTA-capable device profile and prints their IDs as KEY=value lines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/otaplane/ota/simulator/chirpstacksim"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chirpstack-sim:", err)
		os.Exit(2)
	}
	logCfg := zap.NewProductionConfig()
	logCfg.Encoding = "console"
	logCfg.DisableStacktrace = true // errors here are operational, a stack adds nothing
	logCfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	if opts.verbose {
		logCfg.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	log, err := logCfg.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chirpstack-sim: build logger:", err)
		os.Exit(1)
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr cannot sync

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, log); err != nil {
		log.Error("chirpstack-sim failed", zap.Error(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, opts options, log *zap.Logger) error {
	so := opts.serverOptions()
	so.Logger = log
	srv := chirpstacksim.New(so)
	if err := srv.Start(opts.listen); err != nil {
		return err
	}
	defer srv.Stop()

	appID, err := srv.AddApplication(&api.Application{Id: opts.appID, Name: opts.appName, TenantId: srv.TenantID()})
	if err != nil {
		return fmt.Errorf("seed application: %w", err)
	}
	profile := chirpstacksim.FUOTADeviceProfile(srv.TenantID(), opts.profileName)
	profile.Id = opts.profileID
	profileID, err := srv.AddDeviceProfile(profile)
	if err != nil {
		return fmt.Errorf("seed device profile: %w", err)
	}
	fmt.Printf("CHIRPSTACK_ADDR=%s\nCHIRPSTACK_TENANT_ID=%s\nCHIRPSTACK_APPLICATION_ID=%s\nCHIRPSTACK_DEVICE_PROFILE_ID=%s\n",
		srv.Addr(), srv.TenantID(), appID, profileID)
	if opts.versionFPort > 0 {
		go srv.ReportVersions(ctx, uint32(opts.versionFPort), opts.reportInterval, opts.initialVersion)
	}

	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
