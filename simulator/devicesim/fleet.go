// Package devicesim simulates a fleet of IP devices speaking the OTA device protocol
// (docs/device-protocol.md). Each virtual device has its own MQTT connection and
// credentials, as a real one does; a process runs 10,000 of them.
//
// Typical use in a test:
//
//	fleet, err := devicesim.NewFleet(devicesim.Config{
//		BrokerURL:         "tcp://127.0.0.1:1883",
//		TenantID:          tenantID,
//		Trust:             &trust, // from FetchTrust
//		HeartbeatInterval: time.Second,
//		ProgressReports:   true,
//	}, []devicesim.DeviceSpec{{ID: "d1", HardwareModel: "board-v1", FirmwareVersion: "1.0.0"}})
//	if err != nil { ... }
//	if err := fleet.Start(ctx); err != nil { ... }
//	defer fleet.Stop()
package devicesim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/manifest"
	"github.com/otaplane/ota/proto/topic"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

const (
	// restateWindow: after a reconnect, a device restates a command finished this recently.
	restateWindow            = 10 * time.Minute
	defaultHeartbeatInterval = 10 * time.Second
	defaultDownloadTimeout   = 5 * time.Minute
	connectTimeout           = 10 * time.Second
	subscribeTimeout         = 10 * time.Second
	publishTimeout           = 10 * time.Second
	disconnectQuiesce        = 250 // milliseconds, as paho's Disconnect expects
)

// Config configures a Fleet.
type Config struct {
	// BrokerURL is the MQTT broker, e.g. "tcp://127.0.0.1:1883".
	BrokerURL string
	// TenantID is the first segment of every topic.
	TenantID string
	// Trust is what every device pins, as provisioned (GET /api/v1/trust, or the trust
	// field of its credentials; FetchTrust gets it). A device checks each UPDATE's
	// manifest with it; without one it installs nothing.
	Trust *manifest.TrustSet
	// HeartbeatInterval is the period of each device's heartbeat; defaults to 10s.
	// Every device sends one heartbeat immediately on Start, then the fleet's
	// heartbeats are spread evenly over the interval.
	HeartbeatInterval time.Duration
	// StepDelay is the pause after each step of an update (accepted, downloading,
	// downloaded, installing), simulating work; 0 means none.
	StepDelay time.Duration
	// ProgressReports enables the intermediate reports (ACCEPTED, DOWNLOADING,
	// DOWNLOADED, INSTALLING). When false only the final report of each command is
	// sent (INSTALLED, FAILED, REJECTED, ROLLED_BACK or CANCELED), which keeps
	// benchmark traffic small.
	ProgressReports bool
	// HTTPClient downloads firmware; defaults to a client with a 5 minute timeout.
	HTTPClient *http.Client
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.BrokerURL == "":
		return c, errors.New("devicesim: empty broker URL")
	case c.TenantID == "":
		return c, errors.New("devicesim: empty tenant id")
	case strings.ContainsAny(c.TenantID, "/+#"):
		return c, fmt.Errorf("devicesim: tenant id %q must not contain '/', '+' or '#'", c.TenantID)
	case c.HeartbeatInterval < 0 || c.StepDelay < 0:
		return c, errors.New("devicesim: negative heartbeat interval or step delay")
	case c.Trust != nil && c.Trust.TenantID != "" && c.Trust.TenantID != c.TenantID:
		return c, fmt.Errorf("devicesim: trust set is tenant %q's, the fleet is tenant %q's", c.Trust.TenantID, c.TenantID)
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = defaultHeartbeatInterval
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: defaultDownloadTimeout}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c, nil
}

// Fleet runs the virtual devices of one tenant, each over its own MQTT connection,
// subscribed to its own command topic.
//
// A Fleet is started once and stopped once. All methods are safe for concurrent use.
type Fleet struct {
	cfg Config
	log *zap.Logger

	// ctx ends when Stop is called; it bounds downloads and step delays.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	live   atomic.Bool // connected and heartbeating

	mu       sync.RWMutex
	devices  map[string]*device
	order    []*device // insertion order, for heartbeat scheduling
	started  bool
	stopping bool
}

// NewFleet validates the configuration and devices. Nothing connects until Start.
func NewFleet(cfg Config, devices []DeviceSpec) (*Fleet, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fleet{
		cfg:     cfg,
		log:     cfg.Logger.With(zap.String("tenant", cfg.TenantID)),
		ctx:     ctx,
		cancel:  cancel,
		devices: make(map[string]*device, len(devices)),
		order:   make([]*device, 0, len(devices)),
	}
	for _, spec := range devices {
		if err := f.add(spec); err != nil {
			cancel()
			return nil, err
		}
	}
	return f, nil
}

// Start connects every device to the broker, each subscribing to its own command
// topic, and starts heartbeats. ctx bounds only the connections; the fleet runs until
// Stop. Each connection reconnects and resubscribes by itself.
func (f *Fleet) Start(ctx context.Context) error {
	f.mu.Lock()
	if f.started || f.stopping {
		f.mu.Unlock()
		return errors.New("devicesim: fleet already started or stopped")
	}
	f.started = true
	f.mu.Unlock()

	if err := f.dialAll(ctx, f.snapshotDevices()); err != nil {
		f.disconnectAll()
		return err
	}
	f.live.Store(true)
	if !f.spawn(f.heartbeatLoop) {
		return errors.New("devicesim: fleet stopped while starting")
	}
	f.log.Info("device fleet started", zap.String("broker", f.cfg.BrokerURL), zap.Int("devices", f.Len()))
	return nil
}

func (f *Fleet) disconnectAll() {
	for _, d := range f.snapshotDevices() {
		d.mu.Lock()
		c := d.mqttClient()
		d.mu.Unlock()
		if c != nil {
			c.Disconnect(disconnectQuiesce)
		}
	}
}

// Stop disconnects and waits for heartbeats and in-progress commands to end;
// unfinished updates are abandoned without a further report. Stop is idempotent.
func (f *Fleet) Stop() {
	f.mu.Lock()
	if f.stopping {
		f.mu.Unlock()
		return
	}
	f.stopping = true
	f.mu.Unlock()

	f.live.Store(false)
	f.cancel()
	f.disconnectAll()
	f.wg.Wait()
	f.log.Info("device fleet stopped")
}

// AddDevice adds a device; it may be called while the fleet runs, in which case the
// device connects and sends its first heartbeat at once. It fails if the id is already
// in use.
func (f *Fleet) AddDevice(spec DeviceSpec) error {
	if err := f.add(spec); err != nil {
		return err
	}
	if f.live.Load() {
		d := f.lookup(spec.ID)
		ctx, cancel := context.WithTimeout(f.ctx, connectTimeout+subscribeTimeout)
		defer cancel()
		if err := f.dial(ctx, d); err != nil {
			return err
		}
		f.heartbeat(d)
	}
	return nil
}

func (f *Fleet) add(spec DeviceSpec) error {
	if err := spec.validate(); err != nil {
		return fmt.Errorf("devicesim: %w", err)
	}
	d := newDevice(spec, time.Now())
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[spec.ID]; ok {
		return fmt.Errorf("devicesim: device %q already exists", spec.ID)
	}
	f.devices[spec.ID] = d
	f.order = append(f.order, d)
	return nil
}

// SetBehavior changes how a device behaves from now on; an update in progress sees
// the change at its next step. A device leaving BehaviorOffline heartbeats at once.
func (f *Fleet) SetBehavior(id string, b Behavior) error {
	if !b.valid() {
		return fmt.Errorf("devicesim: invalid behavior %v", b)
	}
	d := f.lookup(id)
	if d == nil {
		return fmt.Errorf("devicesim: unknown device %q", id)
	}
	d.mu.Lock()
	wasOffline := d.behavior == BehaviorOffline
	d.behavior = b
	d.mu.Unlock()
	if wasOffline && b != BehaviorOffline && f.live.Load() {
		f.heartbeat(d)
	}
	return nil
}

// Device returns a snapshot of one device.
func (f *Fleet) Device(id string) (DeviceState, bool) {
	d := f.lookup(id)
	if d == nil {
		return DeviceState{}, false
	}
	return d.snapshot(), true
}

// Commands returns the commands a device received, in arrival order and duplicates
// included (at most the latest 1024). Offline devices receive nothing. The messages
// are shared with the fleet and must not be modified.
func (f *Fleet) Commands(id string) []*devicev1.Command {
	d := f.lookup(id)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*devicev1.Command, len(d.commands))
	for i, r := range d.commands {
		out[i] = r.Command
	}
	return out
}

// Received returns the command deliveries of a device with their QoS, like Commands.
func (f *Fleet) Received(id string) []Received {
	d := f.lookup(id)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Received(nil), d.commands...)
}

// Len returns the number of devices.
func (f *Fleet) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.order)
}

func (f *Fleet) lookup(id string) *device {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.devices[id]
}

func (f *Fleet) snapshotDevices() []*device {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*device, len(f.order))
	copy(out, f.order)
	return out
}

// spawn runs fn on a goroutine that Stop waits for, unless Stop has begun. Lock
// order is device before fleet: spawn may be called with a device lock held.
func (f *Fleet) spawn(fn func()) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.stopping {
		return false
	}
	f.wg.Go(fn)
	return true
}

// onCommand runs on paho's router goroutine, which delivers messages in order; it
// must not block, so it only records, deduplicates and queues the command.
func (f *Fleet) onCommand(d *device, msg mqtt.Message) {
	deviceID := d.id
	if msg.Topic() != topic.Commands(f.cfg.TenantID, d.id) {
		f.log.Warn("ignoring message on unexpected topic", zap.String("topic", msg.Topic()))
		return
	}
	cmd := &devicev1.Command{}
	if err := proto.Unmarshal(msg.Payload(), cmd); err != nil {
		f.log.Warn("ignoring malformed command", zap.String("device", deviceID), zap.Error(err))
		return
	}
	log := f.log.With(zap.String("device", deviceID), zap.String("command_id", cmd.GetCommandId()))

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.behavior == BehaviorOffline {
		return
	}
	d.record(cmd, msg.Qos())
	id := cmd.GetCommandId()
	switch {
	case id == "":
		// A report could not name the command it answers.
		log.Warn("ignoring command without command_id")
		return
	case cmd.GetType() == devicev1.CommandType_COMMAND_TYPE_STATUS_REQUEST:
		// Never deduplicated: every request gets its answer.
		if d.behavior != BehaviorSilent {
			f.awaitAsync(d.id, f.publishStatusLocked(d, id))
		}
		return
	case d.seen.has(id):
		d.duplicates++
		if id == d.current.id && d.current.final != nil && !d.mute() {
			// The control plane may have missed the outcome: say it again.
			log.Debug("repeating the outcome of a duplicate command")
			f.awaitAsync(d.id, f.publishLocked(d, d.current.final))
			return
		}
		log.Debug("dropping duplicate command")
		return
	}
	d.seen.add(id)
	if d.behavior == BehaviorSilent {
		return
	}
	log.Debug("command received", zap.Stringer("type", cmd.GetType()))
	if t := cmd.GetType(); t == devicev1.CommandType_COMMAND_TYPE_UPDATE || t == devicev1.CommandType_COMMAND_TYPE_ROLLBACK {
		d.current = commandState{id: id, status: devicev1.ReportStatus_REPORT_STATUS_ACCEPTED}
	}

	switch {
	case cmd.GetType() == devicev1.CommandType_COMMAND_TYPE_CANCEL:
		// Handled here rather than queued: it must reach an update that is in progress.
		f.awaitAsync(d.id, f.cancelLocked(d, cmd))
		return
	case cmd.GetType() == devicev1.CommandType_COMMAND_TYPE_UPDATE && d.canceled.has(id):
		// The CANCEL overtook its update and already answered for it.
		return
	}
	d.queue = append(d.queue, cmd)
	if !d.busy && f.spawn(func() { f.drain(d) }) {
		d.busy = true
	}
}

// publishLocked publishes a report for d. Callers hold d.mu, so the reports of one
// device are handed to paho in the order their outcomes were decided. It returns nil
// when nothing was published.
func (f *Fleet) publishLocked(d *device, r *devicev1.Report) mqtt.Token {
	if d.mute() {
		return nil
	}
	now := time.Now()
	d.noteReport(r, now)
	if r.ReportedAtMs == 0 {
		r.ReportedAtMs = now.UnixMilli()
	}
	if d.loses(r) || d.mqttClient() == nil {
		return nil
	}
	payload, err := proto.Marshal(r)
	if err != nil {
		f.log.Error("marshal report", zap.String("device", d.id), zap.Error(err))
		return nil
	}
	return d.mqttClient().Publish(topic.Reports(f.cfg.TenantID, d.id), 1, false, payload)
}

// publishStatusLocked publishes the device's restatement; requestID names the status
// request it answers ("" when unprompted). Callers hold d.mu.
func (f *Fleet) publishStatusLocked(d *device, requestID string) mqtt.Token {
	if d.mute() || d.mqttClient() == nil {
		return nil
	}
	payload, err := proto.Marshal(d.statusLocked(requestID, time.Now()))
	if err != nil {
		f.log.Error("marshal status", zap.String("device", d.id), zap.Error(err))
		return nil
	}
	return d.mqttClient().Publish(topic.Status(f.cfg.TenantID, d.id), 1, false, payload)
}

// restate has a device with an unfinished command, or one finished lately, say where it
// stands: the control plane may have missed its reports while the connection was down.
func (f *Fleet) restate(d *device) {
	d.mu.Lock()
	var tok mqtt.Token
	if c := d.current; c.id != "" && (c.final == nil || time.Since(c.finishedAt) < restateWindow) {
		tok = f.publishStatusLocked(d, "")
	}
	d.mu.Unlock()
	f.await(d.id, tok)
}

// await waits for a report's PUBACK and logs a failure; reports are not retried
// beyond what paho does itself.
func (f *Fleet) await(deviceID string, tok mqtt.Token) {
	if tok == nil {
		return
	}
	if !tok.WaitTimeout(publishTimeout) {
		f.log.Warn("report not acknowledged in time", zap.String("device", deviceID), zap.Duration("timeout", publishTimeout))
		return
	}
	if err := tok.Error(); err != nil {
		f.log.Warn("publish report", zap.String("device", deviceID), zap.Error(err))
	}
}

// awaitAsync is await for callers that must not block (the message handler).
func (f *Fleet) awaitAsync(deviceID string, tok mqtt.Token) {
	if tok != nil {
		f.spawn(func() { f.await(deviceID, tok) })
	}
}

func waitToken(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
