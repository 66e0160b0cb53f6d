package devicefeed

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/otaplane/ota/pkg/store"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/topic"
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
	h := &Heartbeats{store: st, log: log, metrics: m, interval: interval, maxBatch: 2000,
		pending: map[deviceKey]store.Heartbeat{}, stop: make(chan struct{}), done: make(chan struct{})}
	go h.loop()
	return h
}

// Handle is the MQTT handler. Heartbeats are QoS 0: nothing to acknowledge.
func (h *Heartbeats) Handle(t string, payload []byte, ack func()) {
	ack()
	tenantID, deviceID, _, err := topic.Parse(t)
	if err != nil {
		h.metrics.Dropped.WithLabelValues("bad_topic").Inc()
		return
	}
	var hb devicev1.Heartbeat
	if err := proto.Unmarshal(payload, &hb); err != nil {
		h.metrics.Dropped.WithLabelValues("bad_payload").Inc()
		return
	}
	seen := time.Now().UTC()
	var battery *int
	if b := int(hb.GetBatteryPercent()); b >= 0 && b <= 100 {
		battery = &b
	}
	h.mu.Lock()
	h.pending[deviceKey{tenantID, deviceID}] = store.Heartbeat{TenantID: tenantID, DeviceID: deviceID,
		FirmwareVersion: hb.GetFirmwareVersion(), BatteryPercent: battery, SeenAt: seen}
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
		if err := h.store.ApplyHeartbeats(ctx, batch[:n]); err != nil {
			// A lost heartbeat is replaced by the next one; don't pile them up.
			h.log.Warn("heartbeats not applied", zap.Int("count", n), zap.Error(err))
		}
		batch = batch[n:]
	}
}

// Close flushes and stops.
func (h *Heartbeats) Close() {
	close(h.stop)
	<-h.done
}
