// Package mqttbus is the worker's one connection to the MQTT broker: QoS 1 publishing with
// broker acknowledgement, and subscriptions that survive reconnects.
package mqttbus

import (
	"context"
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

// Bus is a connected MQTT client.
type Bus struct {
	client  mqtt.Client
	log     *zap.Logger
	timeout time.Duration

	mu   sync.Mutex
	subs []subscription
}

// Connect dials the broker and waits for the first connection.
func Connect(cfg config.MQTT, log *zap.Logger) (*Bus, error) {
	b := &Bus{log: log, timeout: cfg.PublishTimeout}
	clientID := cfg.ClientID
	if clientID == "" {
		// Stable across restarts (a pod name under Kubernetes), so a persistent session
		// picks up what the broker queued while the worker was down.
		host, _ := os.Hostname()
		clientID = "ota-worker-" + host
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(clientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(!cfg.PersistentSession).
		SetAutoAckDisabled(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(false).
		SetOnConnectHandler(b.resubscribe).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("mqtt connection lost; reconnecting", zap.Error(err))
		})
	b.client = mqtt.NewClient(opts)
	tok := b.client.Connect()
	if !tok.WaitTimeout(cfg.ConnectTimeout) {
		b.client.Disconnect(0)
		return nil, fmt.Errorf("mqtt: connect to %s: no answer within %s", cfg.Broker, cfg.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mqtt: connect to %s: %w", cfg.Broker, err)
	}
	return b, nil
}

// resubscribe restores every subscription after a (re)connect (a clean session forgets
// them; for a persistent one it is harmless).
func (b *Bus) resubscribe(c mqtt.Client) {
	b.mu.Lock()
	subs := append([]subscription(nil), b.subs...)
	b.mu.Unlock()
	for _, s := range subs {
		if err := b.subscribe(s); err != nil {
			b.log.Error("mqtt resubscribe failed", zap.String("filter", s.filter), zap.Error(err))
		}
	}
}

func (b *Bus) subscribe(s subscription) error {
	tok := b.client.Subscribe(s.filter, s.qos, func(_ mqtt.Client, m mqtt.Message) {
		var once sync.Once
		s.handler(m.Topic(), m.Payload(), func() { once.Do(m.Ack) })
	})
	if !tok.WaitTimeout(b.timeout) {
		return fmt.Errorf("mqtt: subscribe %s: no answer within %s", s.filter, b.timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: subscribe %s: %w", s.filter, err)
	}
	return nil
}

// Subscribe adds a subscription that is restored after every reconnect.
func (b *Bus) Subscribe(filter string, qos byte, h Handler) error {
	s := subscription{filter: filter, qos: qos, handler: h}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	return b.subscribe(s)
}

// Unsubscribe stops all subscriptions (first step of a graceful shutdown).
func (b *Bus) Unsubscribe() {
	b.mu.Lock()
	filters := make([]string, len(b.subs))
	for i, s := range b.subs {
		filters[i] = s.filter
	}
	b.subs = nil
	b.mu.Unlock()
	if len(filters) > 0 && b.client.IsConnected() {
		b.client.Unsubscribe(filters...).WaitTimeout(b.timeout)
	}
}

// Publish sends one message and, for QoS ≥ 1, waits for the broker's acknowledgement.
func (b *Bus) Publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	if !b.client.IsConnectionOpen() {
		return fmt.Errorf("mqtt: publish %s: not connected", topic)
	}
	tok := b.client.Publish(topic, qos, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt: publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt: publish %s: %w", topic, ctx.Err())
	case <-time.After(b.timeout):
		return fmt.Errorf("mqtt: publish %s: no acknowledgement within %s", topic, b.timeout)
	}
}

// Connected reports whether the connection is up.
func (b *Bus) Connected() bool { return b.client.IsConnectionOpen() }

// Close disconnects, letting in-flight messages finish for up to 250 ms.
func (b *Bus) Close() { b.client.Disconnect(250) }
