package devicesim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/otaplane/ota/proto/topic"
)

// connectParallel bounds how many devices dial the broker at once when a fleet starts.
const connectParallel = 64

// ClientID is the MQTT client id a device connects with; the control plane binds each
// device's credentials to it.
func ClientID(tenantID, deviceID string) string { return tenantID + ":" + deviceID }

// connection is one device's own MQTT connection, with its own credentials, as a real
// device has.
type connection struct {
	client mqtt.Client
	// first reports the outcome of the first subscription, read by connect.
	first chan error
	once  sync.Once
}

// dial connects d and subscribes it to its own command topic; it reconnects and
// resubscribes by itself afterwards.
func (f *Fleet) dial(ctx context.Context, d *device) error {
	conn := &connection{first: make(chan error, 1)}
	filter := topic.Commands(f.cfg.TenantID, d.id)
	opts := mqtt.NewClientOptions().
		AddBroker(f.cfg.BrokerURL).
		SetClientID(ClientID(f.cfg.TenantID, d.id)).
		SetUsername(d.username).
		SetPassword(d.password).
		SetCleanSession(true).
		SetAutoReconnect(true).
		// A device keeps trying, as a real one does: a refusal right after provisioning
		// (the broker has not learned the credential yet) or a broker restart passes.
		SetConnectRetry(true).
		SetConnectRetryInterval(250 * time.Millisecond).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(connectTimeout).
		SetOnConnectHandler(func(c mqtt.Client) { f.onConnect(d, conn, c, filter) }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			f.log.Debug("mqtt connection lost", zap.String("device", d.id), zap.Error(err))
		})
	conn.client = mqtt.NewClient(opts)
	d.mu.Lock()
	d.conn = conn
	d.mu.Unlock()
	if err := waitToken(ctx, conn.client.Connect()); err != nil {
		conn.client.Disconnect(0)
		return fmt.Errorf("devicesim: %s: connect to %s: %w", d.id, f.cfg.BrokerURL, err)
	}
	select {
	case err := <-conn.first:
		if err != nil {
			conn.client.Disconnect(0)
		}
		return err
	case <-ctx.Done():
		conn.client.Disconnect(0)
		return fmt.Errorf("devicesim: %s: subscribe: %w", d.id, ctx.Err())
	}
}

// onConnect (re)subscribes after every connect: with a clean session the broker forgets
// subscriptions when the connection drops. After a reconnect the device restates where
// it stands, since the control plane may have missed its reports meanwhile.
func (f *Fleet) onConnect(d *device, conn *connection, c mqtt.Client, filter string) {
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { f.onCommand(d, m) })
	var err error
	switch {
	case !tok.WaitTimeout(subscribeTimeout):
		err = fmt.Errorf("devicesim: %s: subscribe %s: timed out after %v", d.id, filter, subscribeTimeout)
	case tok.Error() != nil:
		err = fmt.Errorf("devicesim: %s: subscribe %s: %w", d.id, filter, tok.Error())
	default:
		if st, ok := tok.(*mqtt.SubscribeToken); ok && st.Result()[filter] >= 0x80 {
			err = fmt.Errorf("devicesim: %s: subscribe %s: refused by the broker", d.id, filter)
		}
	}
	first := false
	conn.once.Do(func() {
		first = true
		conn.first <- err
	})
	if first {
		return
	}
	if err != nil {
		f.log.Error("resubscribe after reconnect failed", zap.String("device", d.id), zap.Error(err))
		return
	}
	f.spawn(func() { f.restate(d) })
}

// dialAll connects every device, a bounded number at a time.
func (f *Fleet) dialAll(ctx context.Context, devices []*device) error {
	sem := make(chan struct{}, connectParallel)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, d := range devices {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f.dial(ctx, d); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// client returns d's MQTT client. Callers hold d.mu.
func (d *device) mqttClient() mqtt.Client {
	if d.conn == nil {
		return nil
	}
	return d.conn.client
}
