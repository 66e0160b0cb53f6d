package devicesim

import (
	"time"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/topic"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// minHeartbeatSlot is the finest spacing of heartbeat batches; finer timers cost
// more than the bursts they would avoid.
const minHeartbeatSlot = 5 * time.Millisecond

// heartbeatLoop sends every device's first heartbeat at once (so the control plane
// sees the fleet immediately), then spreads each round over HeartbeatInterval in
// evenly spaced batches. Device i of n beats at offset (i+1)/n of the interval,
// so the gap between two heartbeats of one device never exceeds the interval.
func (f *Fleet) heartbeatLoop() {
	interval := f.cfg.HeartbeatInterval
	for _, d := range f.snapshotDevices() {
		f.heartbeat(d)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	roundStart := time.Now()
	for {
		devs := f.snapshotDevices()
		n := len(devs)
		slots := heartbeatSlots(n, interval)
		for s := range slots {
			at := roundStart.Add(interval * time.Duration(s+1) / time.Duration(slots))
			timer.Reset(time.Until(at))
			select {
			case <-f.ctx.Done():
				return
			case <-timer.C:
			}
			for _, d := range devs[s*n/slots : (s+1)*n/slots] {
				f.heartbeat(d)
			}
		}
		roundStart = roundStart.Add(interval)
		if behind := time.Since(roundStart); behind > interval {
			// Stalled (e.g. a suspended process): skip missed rounds instead of bursting.
			roundStart = time.Now()
		}
	}
}

// heartbeatSlots returns how many batches one round of n devices is split into.
func heartbeatSlots(n int, interval time.Duration) int {
	slots := max(int(interval/minHeartbeatSlot), 1)
	return max(min(n, slots), 1)
}

// heartbeat publishes one QoS 0 heartbeat without waiting: losing one is harmless
// and waiting would serialize thousands of devices.
func (f *Fleet) heartbeat(d *device) {
	if d == nil {
		return
	}
	d.mu.Lock()
	if d.behavior == BehaviorOffline {
		d.mu.Unlock()
		return
	}
	now := time.Now()
	if d.looping {
		d.reboot(now)
	}
	hb := &devicev1.Heartbeat{
		FirmwareVersion: d.version,
		HardwareModel:   d.model,
		BatteryPercent:  d.battery,
		UptimeSeconds:   int64(now.Sub(d.startedAt) / time.Second),
		SentAtMs:        now.UnixMilli(),
		BootCount:       d.boots,
	}
	client := d.mqttClient()
	d.mu.Unlock()
	if client == nil {
		return
	}
	payload, err := proto.Marshal(hb)
	if err != nil {
		f.log.Error("marshal heartbeat", zap.String("device", d.id), zap.Error(err))
		return
	}
	tok := client.Publish(topic.Heartbeat(f.cfg.TenantID, d.id), 0, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			f.log.Debug("publish heartbeat", zap.String("device", d.id), zap.Error(err))
		}
	default:
	}
}
