package mqttbus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
)

// drainQuiet is how long a drained session must stay quiet before it counts as empty;
// drainLimit bounds a whole drain.
const (
	drainQuiet = time.Second
	drainLimit = time.Minute
)

// Drain takes over the persistent session clientID of a worker that is gone: it stops
// the session's subscriptions (so nothing new is queued to it), hands every message the
// broker kept for it to this bus's handlers, then deletes the session. It returns how
// many messages it handled. If the owner comes back meanwhile, the broker hands the
// session back to it and Drain stops with an error, leaving the session to its owner.
func (b *Bus) Drain(ctx context.Context, clientID string) (int, error) {
	if clientID == b.clientID {
		return 0, errors.New("mqtt: a bus does not drain its own session")
	}
	b.mu.Lock()
	routes := append([]subscription(nil), b.routes...)
	b.mu.Unlock()

	var handled atomic.Int64
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	lost := make(chan error, 1)
	opts := b.options(clientID, false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	c := mqtt.NewClient(opts)
	filters := make([]string, 0, len(routes))
	for _, s := range routes {
		h := route(s.handler)
		c.AddRoute(s.filter, func(cl mqtt.Client, m mqtt.Message) {
			handled.Add(1)
			last.Store(time.Now().UnixNano())
			h(cl, m)
		})
		filters = append(filters, s.filter)
	}
	if err := wait(ctx, c.Connect(), b.cfg.ConnectTimeout); err != nil {
		return 0, fmt.Errorf("mqtt: take over session %s: %w", clientID, err)
	}
	if len(filters) > 0 {
		if err := wait(ctx, c.Unsubscribe(filters...), b.cfg.PublishTimeout); err != nil {
			c.Disconnect(0)
			return int(handled.Load()), fmt.Errorf("mqtt: unsubscribe session %s: %w", clientID, err)
		}
	}
	deadline := time.Now().Add(drainLimit)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Since(time.Unix(0, last.Load())) < drainQuiet && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			c.Disconnect(250)
			return int(handled.Load()), ctx.Err()
		case err := <-lost:
			return int(handled.Load()), fmt.Errorf("mqtt: session %s taken back: %w", clientID, err)
		case <-tick.C:
		}
	}
	c.Disconnect(250)
	// One connection with a clean session makes the broker forget the session for good.
	clean := mqtt.NewClient(b.options(clientID, true))
	if err := wait(ctx, clean.Connect(), b.cfg.ConnectTimeout); err != nil {
		return int(handled.Load()), fmt.Errorf("mqtt: delete session %s: %w", clientID, err)
	}
	clean.Disconnect(0)
	b.log.Info("drained the session of a worker that is gone", zap.String("client_id", clientID),
		zap.Int64("messages", handled.Load()))
	return int(handled.Load()), nil
}

func wait(ctx context.Context, tok mqtt.Token, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("no answer within %s", timeout)
	}
}
