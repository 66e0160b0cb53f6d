package devicefeed

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/otaplane/ota/pkg/store"
	"github.com/otaplane/ota/proto/topic"
	"go.uber.org/zap"
)

// HeartbeatStore applies a batch of heartbeats.
type HeartbeatStore interface {
	ApplyHeartbeats(ctx context.Context, hbs []store.Heartbeat) error
}

type deviceKey struct{ tenant, device string }

// Heartbeats batches heartbeats per flush interval (the latest per device wins), so a
// fleet of 100k devices costs one statement per interval, not one per message.
type Heartbeats struct {
	store    HeartbeatStore
	log      *zap.Logger
	drops    *dropLog
	metrics  *Metrics
	interval time.Duration
	maxBatch int

	mu      sync.Mutex
	pending map[deviceKey]store.Heartbeat
	stop    chan struct{}
	done    chan struct{}
}

// NewHeartbeats starts the flush loop.
func NewHeartbeats(st HeartbeatStore, m *Metrics, log *zap.Logger, interval time.Duration) *Heartbeats {
	h := &Heartbeats{store: st, log: log, drops: newDropLog(log, m), metrics: m, interval: interval, maxBatch: 2000,
		pending: map[deviceKey]store.Heartbeat{}, stop: make(chan struct{}), done: make(chan struct{})}
	go h.loop()
	return h
}

// Handle is the MQTT handler. Heartbeats are QoS 0: nothing to acknowledge. A heartbeat
// with a bad topic or content is dropped here, so it never joins a batch.
func (h *Heartbeats) Handle(t string, payload []byte, ack func()) {
	ack()
	tenantID, deviceID, kind, err := topic.Parse(t)
	if err != nil || kind != topic.KindHeartbeat {
		h.drops.drop("bad_topic", err, zap.String("topic", truncate(t, 200)))
		return
	}
	hb, err := DecodeHeartbeat(payload)
	if err != nil {
		h.drops.drop("bad_payload", err, zap.String("tenant_id", tenantID), zap.String("device_id", deviceID))
		return
	}
	seen := time.Now().UTC()
	h.mu.Lock()
	h.pending[deviceKey{tenantID, deviceID}] = store.Heartbeat{TenantID: tenantID, DeviceID: deviceID,
		FirmwareVersion: hb.FirmwareVersion, BatteryPercent: hb.BatteryPercent, SeenAt: seen,
		BootCount: hb.BootCount, UptimeSeconds: hb.UptimeSeconds}
	h.mu.Unlock()
	h.metrics.Heartbeats.Inc()
}

func (h *Heartbeats) loop() {
	defer close(h.done)
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			h.Flush(context.Background())
		case <-h.stop:
			h.Flush(context.Background())
			return
		}
	}
}

// Flush writes what is pending now.
func (h *Heartbeats) Flush(ctx context.Context) {
	h.mu.Lock()
	batch := make([]store.Heartbeat, 0, len(h.pending))
	for _, hb := range h.pending {
		batch = append(batch, hb)
	}
	h.pending = map[deviceKey]store.Heartbeat{}
	h.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), h.maxBatch)
		h.apply(ctx, batch[:n])
		batch = batch[n:]
	}
}

// apply writes a batch. If the database refuses it for its content rather than for
// being unreachable, the batch is split until the bad row is alone and dropped: one row
// never costs the others their write.
func (h *Heartbeats) apply(ctx context.Context, batch []store.Heartbeat) {
	err := h.store.ApplyHeartbeats(ctx, batch)
	switch {
	case err == nil:
		return
	case errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil:
		// A lost heartbeat is replaced by the next one; don't pile them up.
		h.log.Warn("heartbeats not applied", zap.Int("count", len(batch)), zap.Error(err))
	case len(batch) == 1:
		h.drops.drop("bad_row", err, zap.String("tenant_id", batch[0].TenantID), zap.String("device_id", batch[0].DeviceID))
	default:
		h.apply(ctx, batch[:len(batch)/2])
		h.apply(ctx, batch[len(batch)/2:])
	}
}

// Close flushes and stops.
func (h *Heartbeats) Close() {
	close(h.stop)
	<-h.done
}
