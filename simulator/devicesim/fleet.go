// Package devicesim simulates a fleet of IP devices speaking the OTA device protocol
// (docs/device-protocol.md). All virtual devices of one tenant share a single MQTT
// connection, so one process can run 10,000 of them.
//
// Typical use in a test:
//
//	fleet, err := devicesim.NewFleet(devicesim.Config{
//		BrokerURL:         "tcp://127.0.0.1:1883",
//		TenantID:          tenantID,
//		HeartbeatInterval: time.Second,
//		ProgressReports:   true,
//	}, []devicesim.DeviceSpec{{ID: "d1", HardwareModel: "board-v1", FirmwareVersion: "1.0.0"}})
//	if err != nil { ... }
//	if err := fleet.Start(ctx); err != nil { ... }
//	defer fleet.Stop()
package devicesim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
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
	// ClientID is the MQTT client id; defaults to "{tenant}-devsim-{random}".
	ClientID string
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
	}
	if c.ClientID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.ClientID = c.TenantID + "-devsim-" + hex.EncodeToString(b[:])
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

// Fleet runs the virtual devices of one tenant over one MQTT connection. It
// subscribes to the commands of every device of the tenant and hands each command
// to its device; commands for ids the fleet does not know are dropped.
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

	subOnce   sync.Once
	subResult chan error // outcome of the first subscription, read by Start

	mu       sync.RWMutex
	devices  map[string]*device
	order    []*device // insertion order, for heartbeat scheduling
	client   mqtt.Client
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
		cfg:       cfg,
		log:       cfg.Logger.With(zap.String("tenant", cfg.TenantID)),
		ctx:       ctx,
		cancel:    cancel,
		subResult: make(chan error, 1),
		devices:   make(map[string]*device, len(devices)),
		order:     make([]*device, 0, len(devices)),
	}
	for _, spec := range devices {
		if err := f.add(spec); err != nil {
			cancel()
			return nil, err
		}
	}
	return f, nil
}

// Start connects to the broker, subscribes to the tenant's command topics and starts
// heartbeats. ctx bounds only the connection and subscription; the fleet runs until
// Stop. The connection reconnects automatically and resubscribes after each reconnect.
func (f *Fleet) Start(ctx context.Context) error {
	f.mu.Lock()
	if f.started || f.stopping {
		f.mu.Unlock()
		return errors.New("devicesim: fleet already started or stopped")
	}
	f.started = true
	opts := mqtt.NewClientOptions().
		AddBroker(f.cfg.BrokerURL).
		SetClientID(f.cfg.ClientID).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(connectTimeout).
		SetOnConnectHandler(f.onConnect).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			f.log.Warn("mqtt connection lost", zap.Error(err))
		})
	f.client = mqtt.NewClient(opts)
	f.mu.Unlock()

	if err := waitToken(ctx, f.client.Connect()); err != nil {
		f.client.Disconnect(0)
		return fmt.Errorf("devicesim: connect to %s: %w", f.cfg.BrokerURL, err)
	}
	select {
	case err := <-f.subResult:
		if err != nil {
			f.client.Disconnect(0)
			return err
		}
	case <-ctx.Done():
		f.client.Disconnect(0)
		return fmt.Errorf("devicesim: subscribe: %w", ctx.Err())
	}

	f.live.Store(true)
	if !f.spawn(f.heartbeatLoop) {
		return errors.New("devicesim: fleet stopped while starting")
	}
	f.log.Info("device fleet started",
		zap.String("broker", f.cfg.BrokerURL),
		zap.String("client_id", f.cfg.ClientID),
		zap.Int("devices", f.Len()))
	return nil
}

// onConnect (re)subscribes after every connect: with a clean session the broker
// forgets subscriptions when the connection drops. paho runs it on its own goroutine.
func (f *Fleet) onConnect(c mqtt.Client) {
	filter := topic.TenantDevices(f.cfg.TenantID, topic.KindCommands)
	tok := c.Subscribe(filter, 1, f.onCommand)
	var err error
	if !tok.WaitTimeout(subscribeTimeout) {
		err = fmt.Errorf("devicesim: subscribe %s: timed out after %v", filter, subscribeTimeout)
	} else if tok.Error() != nil {
		err = fmt.Errorf("devicesim: subscribe %s: %w", filter, tok.Error())
	}
	first := false
	f.subOnce.Do(func() {
		first = true
		f.subResult <- err
	})
	if !first {
		if err != nil {
			f.log.Error("resubscribe after reconnect failed", zap.Error(err))
		} else {
			f.log.Info("reconnected and resubscribed", zap.String("filter", filter))
			f.spawn(f.restateAfterConnect)
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
	client := f.client
	f.mu.Unlock()

	f.live.Store(false)
	f.cancel()
	if client != nil {
		client.Disconnect(disconnectQuiesce)
	}
	f.wg.Wait()
	f.log.Info("device fleet stopped")
}

// AddDevice adds a device; it may be called while the fleet runs, in which case the
// device sends its first heartbeat at once. It fails if the id is already in use.
func (f *Fleet) AddDevice(spec DeviceSpec) error {
	if err := f.add(spec); err != nil {
		return err
	}
	if f.live.Load() {
		f.heartbeat(f.lookup(spec.ID))
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
	copy(out, d.commands)
	return out
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
func (f *Fleet) onCommand(_ mqtt.Client, msg mqtt.Message) {
	deviceID, ok := f.commandTarget(msg.Topic())
	if !ok {
		f.log.Warn("ignoring message on unexpected topic", zap.String("topic", msg.Topic()))
		return
	}
	d := f.lookup(deviceID)
	if d == nil {
		f.log.Debug("ignoring command for unknown device", zap.String("device", deviceID))
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
	d.record(cmd)
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
	if d.loses(r) {
		return nil
	}
	payload, err := proto.Marshal(r)
	if err != nil {
		f.log.Error("marshal report", zap.String("device", d.id), zap.Error(err))
		return nil
	}
	return f.client.Publish(topic.Reports(f.cfg.TenantID, d.id), 1, false, payload)
}

// publishStatusLocked publishes the device's restatement; requestID names the status
// request it answers ("" when unprompted). Callers hold d.mu.
func (f *Fleet) publishStatusLocked(d *device, requestID string) mqtt.Token {
	if d.mute() {
		return nil
	}
	payload, err := proto.Marshal(d.statusLocked(requestID, time.Now()))
	if err != nil {
		f.log.Error("marshal status", zap.String("device", d.id), zap.Error(err))
		return nil
	}
	return f.client.Publish(topic.Status(f.cfg.TenantID, d.id), 1, false, payload)
}

// restateAfterConnect has every device with an unfinished command, or one finished
// lately, restate where it stands: the control plane may have missed its reports while
// the connection was down.
func (f *Fleet) restateAfterConnect() {
	now := time.Now()
	for _, d := range f.snapshotDevices() {
		d.mu.Lock()
		var tok mqtt.Token
		if c := d.current; c.id != "" && (c.final == nil || now.Sub(c.finishedAt) < restateWindow) {
			tok = f.publishStatusLocked(d, "")
		}
		d.mu.Unlock()
		f.awaitAsync(d.id, tok)
	}
}

// commandTarget returns the device a command topic of this fleet's tenant names.
func (f *Fleet) commandTarget(t string) (string, bool) {
	rest, ok := strings.CutPrefix(t, f.cfg.TenantID+"/devices/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/"+string(topic.KindCommands))
	return id, ok && id != "" && !strings.Contains(id, "/")
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
