// Package mqttbus is the worker's connection to the MQTT broker: QoS 1 publishing with
// broker acknowledgement, and subscriptions whose handlers are in place before the
// connection is, so nothing the broker kept for a persistent session is dropped.
package mqttbus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/config"
)

// Handler processes one message. It must not block for long: the client's router calls
// it. It calls ack once the message is safely handled; with a persistent session an
// unacknowledged QoS 1 message is delivered again after a crash and reconnect.
type Handler func(topic string, payload []byte, ack func())

type subscription struct {
	filter  string
	qos     byte
	handler Handler
}

// Bus is the worker's MQTT client.
type Bus struct {
	cfg      config.MQTT
	clientID string
	log      *zap.Logger
	client   mqtt.Client

	mu   sync.Mutex
	subs []subscription
	// routes are every handler ever registered; unlike subs, Unsubscribe keeps them.
	routes []subscription
	// firstSub reports the outcome of the first connection's subscriptions to Connect.
	firstSub chan error
	once     sync.Once
}

// New prepares a client; register handlers with Handle, then Connect.
func New(cfg config.MQTT, log *zap.Logger) *Bus {
	b := &Bus{cfg: cfg, clientID: ClientID(cfg), log: log, firstSub: make(chan error, 1)}
	opts := b.options(b.clientID, !cfg.PersistentSession).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetOnConnectHandler(b.subscribeAll).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("mqtt connection lost; reconnecting", zap.Error(err))
		})
	b.client = mqtt.NewClient(opts)
	return b
}

// ClientID is the worker's MQTT client id: configured, or from the host name (a pod
// name under Kubernetes), stable across restarts so a persistent session resumes.
func ClientID(cfg config.MQTT) string {
	if cfg.ClientID != "" {
		return cfg.ClientID
	}
	host, _ := os.Hostname()
	return "ota-worker-" + host
}

func (b *Bus) options(clientID string, clean bool) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().
		AddBroker(b.cfg.Broker).
		SetClientID(clientID).
		SetUsername(b.cfg.Username).
		SetPassword(b.cfg.Password).
		SetCleanSession(clean).
		SetAutoAckDisabled(true).
		SetConnectTimeout(b.cfg.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(false)
}

// Ready reports nil while the connection to the broker is up (a readiness check).
func (b *Bus) Ready(context.Context) error {
	if !b.Connected() {
		return fmt.Errorf("not connected to %s", b.cfg.Broker)
	}
	return nil
}

// ID is the client id the bus connects with.
func (b *Bus) ID() string { return b.clientID }

// Handle registers a handler for filter (a shared subscription is fine). Call it before
// Connect: the broker may deliver what it queued for the session right after CONNACK,
// before any SUBSCRIBE is answered, and only a registered route can take it.
func (b *Bus) Handle(filter string, qos byte, h Handler) {
	s := subscription{filter: filter, qos: qos, handler: h}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.routes = append(b.routes, s)
	b.mu.Unlock()
	b.client.AddRoute(filter, route(h))
}

func route(h Handler) mqtt.MessageHandler {
	return func(_ mqtt.Client, m mqtt.Message) {
		var once sync.Once
		h(m.Topic(), m.Payload(), func() { once.Do(m.Ack) })
	}
}

// Connect dials the broker and waits until the first connection has subscribed.
func (b *Bus) Connect(ctx context.Context) error {
	tok := b.client.Connect()
	timeout := b.cfg.ConnectTimeout
	if !tok.WaitTimeout(timeout) {
		b.client.Disconnect(0)
		return fmt.Errorf("mqtt: connect to %s: no answer within %s", b.cfg.Broker, timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: connect to %s: %w", b.cfg.Broker, err)
	}
	select {
	case err := <-b.firstSub:
		if err != nil {
			b.client.Disconnect(0)
		}
		return err
	case <-ctx.Done():
		b.client.Disconnect(0)
		return ctx.Err()
	}
}

// subscribeAll (re)subscribes after every connect: a clean session forgets
// subscriptions, and for a persistent one it is harmless.
func (b *Bus) subscribeAll(c mqtt.Client) {
	b.mu.Lock()
	subs := append([]subscription(nil), b.subs...)
	b.mu.Unlock()
	var errs []error
	for _, s := range subs {
		if err := subscribe(c, s.filter, s.qos, b.cfg.PublishTimeout); err != nil {
			b.log.Error("mqtt subscribe failed", zap.String("filter", s.filter), zap.Error(err))
			errs = append(errs, err)
		}
	}
	b.once.Do(func() { b.firstSub <- errors.Join(errs...) })
}

func subscribe(c mqtt.Client, filter string, qos byte, timeout time.Duration) error {
	// The route registered by Handle delivers; no per-subscription callback.
	tok := c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("mqtt: subscribe %s: no answer within %s", filter, timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: subscribe %s: %w", filter, err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code >= 0x80 {
				return fmt.Errorf("mqtt: subscribe %s: refused by the broker", f)
			}
		}
	}
	return nil
}

// Unsubscribe stops all subscriptions (first step of a graceful shutdown); the routes
// stay, so what the broker already sent is still handled.
func (b *Bus) Unsubscribe() {
	b.mu.Lock()
	filters := make([]string, len(b.subs))
	for i, s := range b.subs {
		filters[i] = s.filter
	}
	b.subs = nil
	b.mu.Unlock()
	if len(filters) > 0 && b.client.IsConnected() {
		b.client.Unsubscribe(filters...).WaitTimeout(b.cfg.PublishTimeout)
	}
}

// Publish sends one message and, for QoS ≥ 1, waits for the broker's acknowledgement.
func (b *Bus) Publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	if !b.client.IsConnectionOpen() {
		return fmt.Errorf("mqtt: publish %s: not connected", topic)
	}
	tok := b.client.Publish(topic, qos, false, payload)
	timer := time.NewTimer(b.cfg.PublishTimeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt: publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt: publish %s: %w", topic, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("mqtt: publish %s: no acknowledgement within %s", topic, b.cfg.PublishTimeout)
	}
}

// Connected reports whether the connection is up.
func (b *Bus) Connected() bool { return b.client.IsConnectionOpen() }

// Close disconnects, letting in-flight messages finish for up to 250 ms.
func (b *Bus) Close() { b.client.Disconnect(250) }
