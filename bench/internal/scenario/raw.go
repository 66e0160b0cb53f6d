package scenario

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"google.golang.org/protobuf/proto"

	"github.com/otaplane/ota/bench/internal/report"
	"github.com/otaplane/ota/bench/internal/stack"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/firmwarelink"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store/postgres"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/topic"
)

const (
	rawPublishWait = 10 * time.Second
	rawCommandTTL  = 24 * time.Hour
)

// rawFanout does, for the same devices, what the device runs do minus the orchestration:
// one QoS-1 command per device and the activities' database work through the same store
// methods. Commands go to a tenant id that no device subscribes to, so the broker only
// acknowledges them; nothing is downloaded or reported.
// stopOrchestration stops the workers and the Cadence dev server (their cleanups, run
// again at the end, find them stopped).
func (e *env) stopOrchestration() {
	for _, w := range e.workers {
		if err := w.Stop(workerGrace); err != nil {
			logf("%s: stop %s: %v", e.spec.Name(), w.Name, err)
		}
	}
	if e.dev != nil {
		if err := e.dev.Stop(e.logDir); err != nil {
			logf("%s: stop dev server: %v", e.spec.Name(), err)
		}
	}
}

func (e *env) rawFanout(ctx context.Context, res *report.Run) error {
	if e.opts.RawParallel <= 0 {
		return nil
	}
	name := e.spec.Name()
	// The baseline needs neither Cadence nor the workers, and on PostgreSQL persistence
	// they hold most of the server's connections: they stop first.
	e.stopOrchestration()
	parallel := e.opts.RawParallel
	st, err := postgres.Open(config.Database{DSN: stack.DSN(e.appDB), MaxOpenConns: parallel + 2,
		QueryTimeout: 30 * time.Second, ConnMaxLifetime: time.Hour})
	if err != nil {
		return err
	}
	defer st.Close()

	fw, err := st.GetFirmware(ctx, e.tenantID, e.firmware.ID)
	if err != nil {
		return fmt.Errorf("raw fan-out: %w", err)
	}
	ref := otaflow.FirmwareRef{ID: fw.ID, Version: fw.Version, HardwareModel: fw.HardwareModel, SHA256: fw.SHA256,
		SizeBytes: fw.SizeBytes}
	// The activities update campaign_devices rows, so the baseline needs a campaign of its own.
	camp, err := st.CreateCampaign(ctx, model.Campaign{ID: newUUID(), TenantID: e.tenantID, Name: "raw fan-out",
		FirmwareID: fw.ID, Target: model.TargetDevices}, e.sets.full)
	if err != nil {
		return fmt.Errorf("raw fan-out: %w", err)
	}

	// The baseline publishes commands and reads reports as the workers do, with their identity.
	client := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(e.mqttURL).
		SetClientID(fmt.Sprintf("ota-bench-%d-%s-raw", os.Getpid(), e.opts.Stamp)).
		SetUsername(e.broker.Config.Auth.WorkerUsername).SetPassword(e.broker.Config.Auth.WorkerPassword).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).SetOrderMatters(false))
	if tok := client.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("raw fan-out: connect to %s: %v", e.mqttURL, tok.Error())
	}
	defer client.Disconnect(250)

	r := rawRunner{st: st, mqtt: client, tenantID: e.tenantID, campaignID: camp.ID, fw: ref,
		signer:    firmwarelink.New(config.DevSigningKey, e.apiURL),
		cmdTenant: "bench-raw-" + e.opts.Stamp}
	logf("%s: raw fan-out over %d devices with %d goroutines", name, len(e.sets.full), parallel)

	before := e.cpu()
	t0 := time.Now()
	err = r.run(ctx, e.sets.full, parallel)
	elapsed := time.Since(t0)
	after := e.cpu()
	if err != nil {
		return fmt.Errorf("raw fan-out: %w", err)
	}
	status, err := st.CampaignStatus(ctx, e.tenantID, camp.ID)
	if err != nil {
		return fmt.Errorf("raw fan-out: %w", err)
	}
	if got := status.Counts[model.StateSucceeded]; got != len(e.sets.full) {
		return fmt.Errorf("raw fan-out: %d of %d campaign devices SUCCEEDED", got, len(e.sets.full))
	}
	x := &report.RawFanout{Devices: len(e.sets.full), Parallel: parallel, Seconds: round(elapsed.Seconds(), 2),
		DevicesPerMin: perMinute(len(e.sets.full), elapsed), CPUMsPerDevice: perDevice(before, after, len(e.sets.full))}
	if res.Campaign != nil && x.DevicesPerMin > 0 {
		x.Ratio = round(res.Campaign.DevicesPerMin/x.DevicesPerMin, 4)
	}
	res.Raw = x
	logf("%s: raw fan-out %.0f devices/min (%.1f s); orchestrated/raw = %.4f", name, x.DevicesPerMin, x.Seconds, x.Ratio)
	return nil
}

type rawRunner struct {
	st         *postgres.Store
	mqtt       mqtt.Client
	signer     *firmwarelink.Signer
	tenantID   string
	campaignID string
	cmdTenant  string
	fw         otaflow.FirmwareRef
}

func (r rawRunner) run(ctx context.Context, ids []string, parallel int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for id := range work {
				if err := r.device(ctx, id); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("device %s: %w", id, err); cancel() })
					return
				}
			}
		})
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// device mirrors check_device_ready, send_mqtt_command, verify_firmware and
// update_device for one device.
func (r rawRunner) device(ctx context.Context, id string) error {
	wfID, runID := otaflow.DeviceWorkflowID(id)+":raw", newUUID()
	d, err := r.st.GetDevice(ctx, r.tenantID, id)
	if err != nil {
		return err
	}
	now := time.Now()
	exp := now.Add(rawCommandTTL)
	payload, err := proto.Marshal(&devicev1.Command{
		CommandId: newUUID(), Type: devicev1.CommandType_COMMAND_TYPE_UPDATE,
		IssuedAtMs: now.UnixMilli(), ExpiresAtMs: exp.UnixMilli(),
		Firmware: &devicev1.Firmware{Version: r.fw.Version, HardwareModel: r.fw.HardwareModel,
			Url: r.signer.DeviceURL(r.tenantID, r.fw.ID, id, exp), Sha256: r.fw.SHA256, SizeBytes: r.fw.SizeBytes},
	})
	if err != nil {
		return err
	}
	tok := r.mqtt.Publish(topic.Commands(r.cmdTenant, id), 1, false, payload)
	if !tok.WaitTimeout(rawPublishWait) {
		return fmt.Errorf("no PUBACK within %s", rawPublishWait)
	}
	if err := tok.Error(); err != nil {
		return err
	}
	if err := r.st.AdvanceCampaignDevice(ctx, r.tenantID, r.campaignID, id, model.StateCommanded, "", wfID, runID); err != nil {
		return err
	}
	if _, err := r.st.GetFirmware(ctx, r.tenantID, r.fw.ID); err != nil {
		return err
	}
	return r.st.RecordOutcome(ctx, otaflow.OutcomeRequest{TenantID: r.tenantID, DeviceID: id, CampaignID: r.campaignID,
		Firmware: r.fw, State: model.StateSucceeded, FromVersion: d.FirmwareVersion, Installed: true,
		WorkflowID: wfID, RunID: runID})
}

// newUUID returns a random (version 4) UUID; the store's columns are uuid-typed.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
