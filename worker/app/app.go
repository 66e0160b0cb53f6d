// Package app wires the worker process: store, Cadence, MQTT, per-tenant workers and the
// device feed. main only loads configuration and calls Run.
package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/cadence/worker"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/firmwarelink"
	"github.com/otaplane/ota/pkg/probe"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/signing"
	"github.com/otaplane/ota/pkg/store/postgres"
	"github.com/otaplane/ota/proto/topic"
	"github.com/otaplane/ota/worker/campaign"
	"github.com/otaplane/ota/worker/chirpstack"
	"github.com/otaplane/ota/worker/devicefeed"
	"github.com/otaplane/ota/worker/fleet"
	"github.com/otaplane/ota/worker/fuota"
	"github.com/otaplane/ota/worker/lorawan"
	"github.com/otaplane/ota/worker/mqttbus"
	"github.com/otaplane/ota/worker/mqttsession"
	"github.com/otaplane/ota/worker/otaupdate"
	"github.com/otaplane/ota/worker/webhook"
)

// reportShards is how many goroutines deliver reports (per-device order is kept).
const reportShards = 16

// Run serves until ctx is canceled, then shuts down gracefully: stop taking device
// messages, let in-flight tasks finish, flush, disconnect.
func Run(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
	secrets, err := secretbox.New(cfg.Secrets.EncryptionKey)
	if err != nil {
		return err
	}
	st, err := postgres.OpenReady(ctx, cfg.Database, cfg.Cadence.StartupTimeout, postgres.WithSecrets(secrets))
	if err != nil {
		return err
	}
	defer st.Close()

	conn, err := cadenceclient.Dial(cfg.Cadence, "ota-worker")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.WaitReady(ctx, cfg.Cadence.StartupTimeout, cfg.Cadence.RPCTimeout); err != nil {
		return err
	}

	// Process-wide and before any worker starts, as the client requires.
	worker.SetStickyWorkflowCacheSize(cfg.Worker.StickyCacheSize)

	bus := mqttbus.New(cfg.MQTT, log)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := devicefeed.NewMetrics(reg)

	deviceActs := &otaupdate.Activities{
		Store: st, Runs: conn, Publisher: bus, Now: time.Now, Logger: log,
		URLs: firmwarelink.New(cfg.Firmware.URLSigningKey, cfg.HTTP.PublicURL), LinkTTL: cfg.Firmware.URLTTL,
		Manifests: signing.New(st, secrets),
	}
	campaignActs := &campaign.Activities{Store: st, Runs: conn, TaskList: cfg.Cadence.TaskList, DevicesPerRun: cfg.OTA.DevicesPerRun,
		Webhooks: &webhook.Notifier{Store: st, Cadence: conn, TaskList: cfg.Cadence.TaskList}}
	webhookActs := &webhook.Activities{Store: st, HTTP: webhook.NewHTTPClient(cfg.Webhooks.AllowPrivateTargets)}
	chirpClients := chirpstack.NewClients(cfg.LoRaWAN.AllowLocalAddresses)
	defer chirpClients.Close()
	fuotaActs := &fuota.Activities{Store: st, Clients: chirpClients, MaxPayload: cfg.OTA.FUOTAMaxPayload,
		Now: time.Now, Logger: log}
	loraActs := &lorawan.Activities{Store: st, Clients: chirpClients, KeySecret: cfg.Firmware.URLSigningKey,
		CallTimeout: cfg.LoRaWAN.CallTimeout}
	f := fleet.New(conn.Service, *cfg, st, func(w worker.Registry) {
		otaupdate.Register(w, deviceActs)
		campaign.Register(w, campaignActs)
		fuota.Register(w, fuotaActs)
		lorawan.Register(w, loraActs)
		webhook.Register(w, webhookActs)
	}, log)
	// Serve the known tenants before the first device message can name one.
	if err := f.Refresh(ctx); err != nil {
		log.Warn("first tenant refresh failed; retrying in the background", zap.Error(err))
	}

	// Every handler is in place before the connection: a persistent session's queued
	// messages arrive right after CONNACK.
	reports := devicefeed.NewReports(f, st, metrics, log, reportShards, cfg.Worker.ReportBatchWindow)
	heartbeats := devicefeed.NewHeartbeats(st, metrics, log, cfg.Worker.HeartbeatFlushInterval)
	loraEvents := devicefeed.NewLoRaWANEvents(st, st, metrics, reg, log, cfg.Worker.HeartbeatFlushInterval)
	group := cfg.MQTT.SharedGroup
	bus.Handle(topic.Shared(group, topic.AllDevices(topic.KindReports)), 1, reports.Handle)
	bus.Handle(topic.Shared(group, topic.AllDevices(topic.KindStatus)), 1, reports.Handle)
	bus.Handle(topic.Shared(group, topic.AllDevices(topic.KindHeartbeat)), 0, heartbeats.Handle)
	// ChirpStack publishes its integration events with QoS 0.
	bus.Handle(topic.Shared(group, devicefeed.ChirpStackEvents), 0, loraEvents.Handle)
	if err := bus.Connect(ctx); err != nil {
		return err
	}
	defer bus.Close()

	sessionsDone := make(chan struct{})
	sctx, stopSessions := context.WithCancel(context.Background())
	if cfg.MQTT.PersistentSession {
		keeper := &mqttsession.Keeper{Store: st, Drainer: bus, Self: bus.ID(), Every: cfg.Worker.SessionTouchInterval,
			StaleAfter: cfg.Worker.SessionStaleAfter, Log: log.Named("mqtt-sessions"), Now: time.Now}
		go func() {
			defer close(sessionsDone)
			keeper.Run(sctx)
		}()
	} else {
		close(sessionsDone)
	}

	monitor := probe.Mux(map[string]probe.Check{"tenants": f.Ready, "mqtt": bus.Ready},
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	monitorSrv := &http.Server{Addr: cfg.Worker.MonitorListen, Handler: monitor, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := monitorSrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("monitor listener stopped", zap.Error(err))
		}
	}()

	fleetDone := make(chan struct{})
	go func() {
		defer close(fleetDone)
		f.Run(ctx)
	}()
	log.Info("worker running", zap.String("cadence", cfg.Cadence.Address()), zap.String("mqtt", cfg.MQTT.Broker),
		zap.String("task_list", cfg.Cadence.TaskList))

	<-ctx.Done()
	log.Info("shutting down: no new device messages, finishing in-flight tasks")
	bus.Unsubscribe()
	<-fleetDone    // stops pollers; in-flight activities finish within worker.shutdown_timeout
	stopSessions() // marks the session stopped: what is left in it goes to another worker
	<-sessionsDone
	reports.Close()
	heartbeats.Close()
	loraEvents.Close()
	mctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = monitorSrv.Shutdown(mctx)
	log.Info("worker stopped")
	return nil
}
