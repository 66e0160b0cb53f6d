package devicefeed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	"github.com/chirpstack/chirpstack/api/go/v4/integration"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// ChirpStackEvents is the filter of ChirpStack's MQTT integration events for every
// application: application/{application_id}/device/{dev_eui}/event/{event}.
const ChirpStackEvents = "application/+/device/+/event/+"

const (
	// settingsTTL bounds how long a routing answer (including "no tenant") is reused.
	settingsTTL = 30 * time.Second
	// maxClockSkew: an event stamped further in the future is taken as received now, so
	// a wrong clock cannot pin last_seen_at ahead.
	maxClockSkew = time.Minute
)

// LoRaWANRouting finds the tenant a ChirpStack application belongs to.
type LoRaWANRouting interface {
	ChirpStackSettingsByApplication(ctx context.Context, applicationID string) (model.ChirpStackSettings, error)
}

// UplinkStore applies what events say about LoRaWAN devices.
type UplinkStore interface {
	ApplyLoRaWANUplink(ctx context.Context, u store.LoRaWANUplink) error
}

type route struct {
	settings model.ChirpStackSettings
	known    bool
	expires  time.Time
}

type loraKey struct{ tenant, devEUI string }

// LoRaWANEvents turns ChirpStack integration events into device state: last seen, radio
// quality, DevStatus margin and battery, and the firmware version devices report on the
// tenant's version fPort. State is coalesced per device and written once per flush
// interval, like heartbeats.
type LoRaWANEvents struct {
	routing  LoRaWANRouting
	store    UplinkStore
	log      *zap.Logger
	metrics  *Metrics
	events   *prometheus.CounterVec
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	routes  map[string]route
	pending map[loraKey]store.LoRaWANUplink
	stop    chan struct{}
	done    chan struct{}
}

// NewLoRaWANEvents registers its metrics on reg and starts the flush loop.
func NewLoRaWANEvents(r LoRaWANRouting, st UplinkStore, m *Metrics, reg prometheus.Registerer, log *zap.Logger,
	interval time.Duration) *LoRaWANEvents {
	e := &LoRaWANEvents{routing: r, store: st, log: log, metrics: m, interval: interval, now: time.Now,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ota_lorawan_events_total",
			Help: "ChirpStack integration events received, by event type."}, []string{"event"}),
		routes: map[string]route{}, pending: map[loraKey]store.LoRaWANUplink{},
		stop: make(chan struct{}), done: make(chan struct{})}
	reg.MustRegister(e.events)
	go e.loop()
	return e
}

// Handle is the MQTT handler. ChirpStack publishes with QoS 0: nothing to acknowledge.
func (e *LoRaWANEvents) Handle(t string, payload []byte, ack func()) {
	ack()
	appID, devEUI, event, ok := parseEventTopic(t)
	if !ok {
		e.metrics.Dropped.WithLabelValues("lorawan_bad_topic").Inc()
		return
	}
	e.events.WithLabelValues(event).Inc()
	s, ok := e.route(appID)
	if !ok {
		e.metrics.Dropped.WithLabelValues("lorawan_unknown_application").Inc()
		return
	}
	u, ok, err := decodeEvent(event, payload, s, e.now())
	if err != nil {
		e.metrics.Dropped.WithLabelValues("lorawan_bad_payload").Inc()
		e.log.Debug("undecodable ChirpStack event", zap.String("topic", t), zap.Error(err))
		return
	}
	if !ok {
		return
	}
	if u.DevEUI == "" {
		u.DevEUI = devEUI
	}
	e.add(u)
}

// parseEventTopic splits application/{app}/device/{eui}/event/{event}.
func parseEventTopic(t string) (appID, devEUI, event string, ok bool) {
	p := strings.Split(t, "/")
	if len(p) != 6 || p[0] != "application" || p[2] != "device" || p[4] != "event" || p[1] == "" || p[3] == "" {
		return "", "", "", false
	}
	// Both are looked up in the database: only what ChirpStack can send gets that far.
	eui, err := model.NormalizeEUI("dev_eui", p[3])
	if err != nil || !model.IsUUID(p[1]) {
		return "", "", "", false
	}
	return strings.ToLower(p[1]), eui, p[5], true
}

// route answers from a short-lived cache: events arrive per uplink, settings change
// rarely.
func (e *LoRaWANEvents) route(appID string) (model.ChirpStackSettings, bool) {
	now := e.now()
	e.mu.Lock()
	r, cached := e.routes[appID]
	e.mu.Unlock()
	if cached && now.Before(r.expires) {
		return r.settings, r.known
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.routing.ChirpStackSettingsByApplication(ctx, appID)
	switch {
	case err == nil:
		r = route{settings: s, known: true, expires: now.Add(settingsTTL)}
	case errors.Is(err, store.ErrNotFound):
		r = route{expires: now.Add(settingsTTL)}
	default:
		// Keep routing with what was known while the database is unreachable.
		e.log.Warn("ChirpStack application not routed", zap.String("application_id", appID), zap.Error(err))
		return r.settings, cached && r.known
	}
	e.mu.Lock()
	e.routes[appID] = r
	e.mu.Unlock()
	return r.settings, r.known
}

// decodeEvent reads one event in the tenant's encoding; a payload starting with '{'
// is JSON whatever the settings say (the integration's json switch was flipped).
// ok is false for events that say nothing to record.
func decodeEvent(event string, payload []byte, s model.ChirpStackSettings, now time.Time) (store.LoRaWANUplink, bool, error) {
	u := store.LoRaWANUplink{TenantID: s.TenantID}
	switch event {
	case "up":
		var ev integration.UplinkEvent
		if err := unmarshalEvent(payload, s.EventEncoding, &ev); err != nil {
			return u, false, err
		}
		var err error
		if u.DevEUI, err = eventEUI(ev.GetDeviceInfo()); err != nil {
			return u, false, err
		}
		u.SeenAt = eventTime(ev.GetTime(), now)
		if rx := bestRx(ev.GetRxInfo()); rx != nil {
			rssi, snr := int(rx.GetRssi()), float64(rx.GetSnr())
			u.RSSI, u.SNR = &rssi, &snr
		}
		if s.VersionFPort > 0 && ev.GetFPort() == uint32(s.VersionFPort) {
			v, err := DecodeVersionPayload(ev.GetData())
			if err != nil {
				return u, false, fmt.Errorf("version uplink: %w", err)
			}
			u.FirmwareVersion = v
		}
		return u, true, nil
	case "join":
		var ev integration.JoinEvent
		if err := unmarshalEvent(payload, s.EventEncoding, &ev); err != nil {
			return u, false, err
		}
		var err error
		if u.DevEUI, err = eventEUI(ev.GetDeviceInfo()); err != nil {
			return u, false, err
		}
		u.SeenAt = eventTime(ev.GetTime(), now)
		return u, true, nil
	case "status":
		var ev integration.StatusEvent
		if err := unmarshalEvent(payload, s.EventEncoding, &ev); err != nil {
			return u, false, err
		}
		var err error
		if u.DevEUI, err = eventEUI(ev.GetDeviceInfo()); err != nil {
			return u, false, err
		}
		// DevStatusAns is an uplink: the device was seen too.
		u.SeenAt = eventTime(ev.GetTime(), now)
		margin := int(ev.GetMargin())
		u.Margin = &margin
		if !ev.GetExternalPowerSource() && !ev.GetBatteryLevelUnavailable() {
			b := float64(ev.GetBatteryLevel())
			if b >= 0 && b <= 100 {
				u.BatteryLevel = &b
			}
		}
		return u, true, nil
	case "ack":
		return u, false, unmarshalEvent(payload, s.EventEncoding, &integration.AckEvent{})
	case "txack":
		return u, false, unmarshalEvent(payload, s.EventEncoding, &integration.TxAckEvent{})
	case "log":
		return u, false, unmarshalEvent(payload, s.EventEncoding, &integration.LogEvent{})
	default:
		// Other integration events (location, integration) carry no device state.
		return u, false, nil
	}
}

// unmarshalEvent decodes in the tenant's encoding; a payload that starts with '{' is
// JSON and any other is tried as protobuf too, so an integration switched between
// encodings keeps working before the settings follow.
func unmarshalEvent(payload []byte, encoding string, m proto.Message) error {
	looksJSON := len(payload) > 0 && payload[0] == '{'
	if !looksJSON && encoding != "json" {
		return proto.Unmarshal(payload, m)
	}
	err := protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(payload, m)
	if err == nil || looksJSON {
		return err
	}
	proto.Reset(m)
	return proto.Unmarshal(payload, m)
}

// eventEUI is the DevEUI an event names: empty (the topic's then counts) or an EUI-64,
// normalized. Anything else is refused: it would be looked up in the database on every
// flush and never match.
func eventEUI(d *integration.DeviceInfo) (string, error) {
	if d.GetDevEui() == "" {
		return "", nil
	}
	eui, err := model.NormalizeEUI("dev_eui", d.GetDevEui())
	if err != nil {
		return "", fmt.Errorf("event DevEUI %.40q: %w", d.GetDevEui(), err)
	}
	return eui, nil
}

func eventTime(ts *timestamppb.Timestamp, now time.Time) time.Time {
	if ts == nil || !ts.IsValid() {
		return now.UTC()
	}
	t := ts.AsTime()
	if t.After(now.Add(maxClockSkew)) {
		return now.UTC()
	}
	return t
}

// bestRx is the gateway that heard the uplink best: highest RSSI, then SNR. A gateway
// reporting an SNR that is not a number is left out: JSON answers cannot carry it.
func bestRx(rxs []*gw.UplinkRxInfo) *gw.UplinkRxInfo {
	var best *gw.UplinkRxInfo
	for _, rx := range rxs {
		if snr := float64(rx.GetSnr()); math.IsNaN(snr) || math.IsInf(snr, 0) {
			continue
		}
		if best == nil || rx.GetRssi() > best.GetRssi() || (rx.GetRssi() == best.GetRssi() && rx.GetSnr() > best.GetSnr()) {
			best = rx
		}
	}
	return best
}

// VersionFormatBinary is byte 0 of a binary version payload (docs/lorawan.md).
const VersionFormatBinary = 0x01

// DecodeVersionPayload reads the firmware version a device reports on its version
// fPort: 0x01, major, minor, patch and an optional pre-release number n (0 = none,
// else "-rc.n"); or the version as ASCII text ("1.4.2", "v2.0.0-beta.1").
func DecodeVersionPayload(b []byte) (string, error) {
	if len(b) == 0 {
		return "", errors.New("empty version payload")
	}
	if b[0] == VersionFormatBinary {
		switch {
		case len(b) == 4 || (len(b) == 5 && b[4] == 0):
			return fmt.Sprintf("%d.%d.%d", b[1], b[2], b[3]), nil
		case len(b) == 5:
			return fmt.Sprintf("%d.%d.%d-rc.%d", b[1], b[2], b[3], b[4]), nil
		default:
			return "", fmt.Errorf("binary version payload of %d bytes, want 4 or 5", len(b))
		}
	}
	v := strings.TrimPrefix(strings.TrimSpace(strings.TrimRight(string(b), "\x00")), "v")
	if err := model.ValidateVersion("version", v); err != nil {
		return "", fmt.Errorf("version payload %.80q: %w", b, err)
	}
	if len(v) > maxVersionLen {
		return "", fmt.Errorf("version payload of %d bytes, at most %d", len(v), maxVersionLen)
	}
	return v, nil
}

// add merges u into the device's pending state: a newer event's values win, an older
// one only fills what is still unknown.
func (e *LoRaWANEvents) add(u store.LoRaWANUplink) {
	k := loraKey{u.TenantID, u.DevEUI}
	e.mu.Lock()
	defer e.mu.Unlock()
	cur, ok := e.pending[k]
	if !ok {
		e.pending[k] = u
		return
	}
	e.pending[k] = merge(cur, u)
}

func merge(cur, u store.LoRaWANUplink) store.LoRaWANUplink {
	newer, older := u, cur
	if u.SeenAt.Before(cur.SeenAt) {
		newer, older = cur, u
	}
	out := newer
	if out.RSSI == nil {
		out.RSSI, out.SNR = older.RSSI, older.SNR
	}
	if out.Margin == nil {
		out.Margin = older.Margin
	}
	if out.BatteryLevel == nil {
		out.BatteryLevel = older.BatteryLevel
	}
	if out.FirmwareVersion == "" {
		out.FirmwareVersion = older.FirmwareVersion
	}
	return out
}

func (e *LoRaWANEvents) loop() {
	defer close(e.done)
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.Flush(context.Background())
		case <-e.stop:
			e.Flush(context.Background())
			return
		}
	}
}

// Flush writes the pending state of every device. State that could not be written
// for another reason than an unknown device is kept for the next flush.
func (e *LoRaWANEvents) Flush(ctx context.Context) {
	e.mu.Lock()
	batch := e.pending
	e.pending = map[loraKey]store.LoRaWANUplink{}
	e.mu.Unlock()
	failed := 0
	for _, u := range batch {
		err := e.store.ApplyLoRaWANUplink(ctx, u)
		switch {
		case err == nil:
		case errors.Is(err, store.ErrNotFound):
			e.metrics.Dropped.WithLabelValues("lorawan_unknown_device").Inc()
		default:
			failed++
			e.add(u)
		}
	}
	if failed > 0 {
		e.log.Warn("LoRaWAN device state not applied; retrying at the next flush", zap.Int("devices", failed))
	}
}

// Close flushes and stops.
func (e *LoRaWANEvents) Close() {
	close(e.stop)
	<-e.done
}
