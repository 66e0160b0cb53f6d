package chirpstacksim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	"github.com/chirpstack/chirpstack/api/go/v4/integration"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	// ErrNoBroker is returned by the Publish methods when Options.BrokerURL is empty.
	ErrNoBroker = errors.New("chirpstacksim: no MQTT broker configured")
	// ErrUnknownDevice is returned when publishing for a device that does not exist.
	ErrUnknownDevice = errors.New("chirpstacksim: unknown device")
)

// Defaults for the radio metadata of simulated uplinks.
const (
	defaultGatewayID = "0016c001f1500001"
	defaultRSSI      = -60
	defaultSNR       = 7.5
	defaultDR        = 5
	defaultFrequency = 868100000
	defaultRegion    = "eu868"
)

// EventTopic is the MQTT topic of an integration event, ChirpStack's default
// event_topic "application/{{application_id}}/device/{{dev_eui}}/event/{{event}}".
func EventTopic(applicationID, devEUI, event string) string {
	return fmt.Sprintf("application/%s/device/%s/event/%s", applicationID, devEUI, event)
}

// Marshal encodes an integration event as the server publishes it.
func (e Encoding) Marshal(m proto.Message) ([]byte, error) {
	switch e {
	case EncodingJSON:
		// ChirpStack's integration messages are serialised by pbjson with
		// emit_fields: lowerCamelCase names, enum names and default values emitted.
		return protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	case EncodingProtobuf:
		return proto.Marshal(m)
	default:
		return nil, fmt.Errorf("chirpstacksim: invalid encoding %v", e)
	}
}

// Unmarshal decodes an integration event published with this encoding; unknown
// JSON fields are ignored, as ChirpStack's own decoder does.
func (e Encoding) Unmarshal(b []byte, m proto.Message) error {
	switch e {
	case EncodingJSON:
		return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
	case EncodingProtobuf:
		return proto.Unmarshal(b, m)
	default:
		return fmt.Errorf("chirpstacksim: invalid encoding %v", e)
	}
}

type publisher struct {
	client   mqtt.Client
	encoding Encoding
	qos      byte
}

func newPublisher(opts Options, log *zap.Logger) (*publisher, error) {
	mo := mqtt.NewClientOptions().
		AddBroker(opts.BrokerURL).
		SetClientID(opts.MQTTClientID).
		SetUsername(opts.MQTTUsername).
		SetPassword(opts.MQTTPassword).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(publishTimeout).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("mqtt connection lost", zap.Error(err))
		})
	client := mqtt.NewClient(mo)
	tok := client.Connect()
	if !tok.WaitTimeout(publishTimeout) {
		client.Disconnect(0)
		return nil, fmt.Errorf("chirpstacksim: connect to %s: timed out", opts.BrokerURL)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("chirpstacksim: connect to %s: %w", opts.BrokerURL, err)
	}
	return &publisher{client: client, encoding: opts.Encoding, qos: opts.MQTTQoS}, nil
}

func (p *publisher) publish(ctx context.Context, topic string, m proto.Message) error {
	b, err := p.encoding.Marshal(m)
	if err != nil {
		return fmt.Errorf("chirpstacksim: encode event: %w", err)
	}
	tok := p.client.Publish(topic, p.qos, false, b)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("chirpstacksim: publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("chirpstacksim: publish %s: %w", topic, ctx.Err())
	}
}

// close is nil-safe so Stop and failed Starts need no checks.
func (p *publisher) close() {
	if p != nil {
		p.client.Disconnect(250)
	}
}

// deviceInfoLocked is the device_info block of every event. Tags merge the
// device profile's and the device's own, the device winning, as in ChirpStack.
func (s *Server) deviceInfoLocked(rec *deviceRec) *integration.DeviceInfo {
	d := rec.d
	info := &integration.DeviceInfo{
		ApplicationId:      d.GetApplicationId(),
		DeviceProfileId:    d.GetDeviceProfileId(),
		DeviceName:         d.GetName(),
		DevEui:             d.GetDevEui(),
		DeviceClassEnabled: rec.classEnabled,
		Tags:               map[string]string{},
	}
	if app, ok := s.apps[d.GetApplicationId()]; ok {
		info.ApplicationName = app.a.GetName()
		info.TenantId = app.a.GetTenantId()
		if t, ok := s.tenants[app.a.GetTenantId()]; ok {
			info.TenantName = t.t.GetName()
		}
	}
	if p, ok := s.profiles[d.GetDeviceProfileId()]; ok {
		info.DeviceProfileName = p.p.GetName()
		maps.Copy(info.Tags, p.p.GetTags())
	}
	maps.Copy(info.Tags, d.GetTags())
	return info
}

// emit builds an event under the lock (build may update device state) and
// publishes it on the device's event topic.
func emit[M proto.Message](ctx context.Context, s *Server, devEUI, event string,
	build func(rec *deviceRec, info *integration.DeviceInfo, now time.Time) M,
) (M, error) {
	var zero M
	if s.pub == nil {
		return zero, ErrNoBroker
	}
	eui, err := parseEUI64("dev_eui", devEUI)
	if err != nil {
		return zero, err
	}
	s.mu.Lock()
	rec, ok := s.devices[eui]
	if !ok {
		s.mu.Unlock()
		return zero, fmt.Errorf("%w: %s", ErrUnknownDevice, eui)
	}
	m := build(rec, s.deviceInfoLocked(rec), time.Now())
	topic := EventTopic(rec.d.GetApplicationId(), eui, event)
	s.mu.Unlock()

	if err := s.pub.publish(ctx, topic, m); err != nil {
		return zero, err
	}
	return m, nil
}

// UplinkOption adjusts a simulated uplink before it is published.
type UplinkOption func(*integration.UplinkEvent)

// WithSignal sets the RSSI (dBm) and SNR (dB) seen by the receiving gateway.
func WithSignal(rssi int32, snr float32) UplinkOption {
	return func(ev *integration.UplinkEvent) {
		for _, rx := range ev.GetRxInfo() {
			rx.Rssi, rx.Snr = rssi, snr
		}
	}
}

// WithRxInfo replaces the receiving gateways' metadata.
func WithRxInfo(rx ...*gw.UplinkRxInfo) UplinkOption {
	return func(ev *integration.UplinkEvent) { ev.RxInfo = rx }
}

// WithFCnt sets the frame counter; later uplinks continue from it.
func WithFCnt(fCnt uint32) UplinkOption {
	return func(ev *integration.UplinkEvent) { ev.FCnt = fCnt }
}

// WithDR sets the data rate.
func WithDR(dr uint32) UplinkOption {
	return func(ev *integration.UplinkEvent) { ev.Dr = dr }
}

// WithConfirmed marks the uplink as confirmed.
func WithConfirmed() UplinkOption {
	return func(ev *integration.UplinkEvent) { ev.Confirmed = true }
}

// WithObject sets the codec-decoded object.
func WithObject(obj *structpb.Struct) UplinkOption {
	return func(ev *integration.UplinkEvent) { ev.Object = obj }
}

// PublishUplink publishes an "up" event for the device with one receiving
// gateway, LoRa SF7BW125 on 868.1 MHz, and the device's next frame counter, then
// records the device as seen. It returns the event as published.
func (s *Server) PublishUplink(ctx context.Context, devEUI string, fPort uint32, data []byte, opts ...UplinkOption) (*integration.UplinkEvent, error) {
	return emit(ctx, s, devEUI, "up", func(rec *deviceRec, info *integration.DeviceInfo, now time.Time) *integration.UplinkEvent {
		ev := &integration.UplinkEvent{
			DeduplicationId: newUUID(),
			Time:            timestamppb.New(now),
			DeviceInfo:      info,
			DevAddr:         rec.activation.GetDevAddr(),
			Adr:             true,
			Dr:              defaultDR,
			FCnt:            rec.fCntUp,
			FPort:           fPort,
			Data:            append([]byte(nil), data...),
			RxInfo: []*gw.UplinkRxInfo{{
				GatewayId: defaultGatewayID,
				UplinkId:  uint32(now.UnixNano()),
				GwTime:    timestamppb.New(now),
				NsTime:    timestamppb.New(now),
				Rssi:      defaultRSSI,
				Snr:       defaultSNR,
				Channel:   0,
				CrcStatus: gw.CRCStatus_CRC_OK,
			}},
			TxInfo: &gw.UplinkTxInfo{
				Frequency: defaultFrequency,
				Modulation: &gw.Modulation{Parameters: &gw.Modulation_Lora{Lora: &gw.LoraModulationInfo{
					Bandwidth:       125000,
					SpreadingFactor: 7,
					CodeRate:        gw.CodeRate_CR_4_5,
				}}},
			},
			RegionConfigId: defaultRegion,
		}
		for _, opt := range opts {
			opt(ev)
		}
		rec.fCntUp = ev.GetFCnt() + 1
		rec.lastSeenAt = now
		return ev
	})
}

// PublishJoin publishes a "join" event and gives the device a new random DevAddr
// and fresh frame counters, visible through GetActivation; a device whose profile
// supports Class-C is Class-C from then on.
func (s *Server) PublishJoin(ctx context.Context, devEUI string) (*integration.JoinEvent, error) {
	return emit(ctx, s, devEUI, "join", func(rec *deviceRec, info *integration.DeviceInfo, now time.Time) *integration.JoinEvent {
		devAddr := randomHex(4)
		// Session keys are random: nothing here encrypts, but clients may read them.
		rec.activation = &api.DeviceActivation{
			DevEui:      rec.d.GetDevEui(),
			DevAddr:     devAddr,
			AppSKey:     randomHex(16),
			NwkSEncKey:  randomHex(16),
			SNwkSIntKey: randomHex(16),
			FNwkSIntKey: randomHex(16),
		}
		rec.fCntUp, rec.fCntDown = 0, 0
		rec.lastSeenAt = now
		// ChirpStack switches a Class-C capable device to Class-C on join.
		if p, ok := s.profiles[rec.d.GetDeviceProfileId()]; ok && p.p.GetSupportsClassC() {
			rec.classEnabled = common.DeviceClass_CLASS_C
			info.DeviceClassEnabled = rec.classEnabled
		}
		return &integration.JoinEvent{
			DeduplicationId: newUUID(),
			Time:            timestamppb.New(now),
			DeviceInfo:      info,
			DevAddr:         devAddr,
			RegionConfigId:  defaultRegion,
		}
	})
}

// PublishStatus publishes a "status" event (DevStatusAns) and stores it as the
// device's status. batteryLevel is a percentage; a negative value means the
// level is unavailable.
func (s *Server) PublishStatus(ctx context.Context, devEUI string, margin int32, batteryLevel float32) (*integration.StatusEvent, error) {
	return emit(ctx, s, devEUI, "status", func(rec *deviceRec, info *integration.DeviceInfo, now time.Time) *integration.StatusEvent {
		ev := &integration.StatusEvent{
			DeduplicationId: newUUID(),
			Time:            timestamppb.New(now),
			DeviceInfo:      info,
			Margin:          margin,
		}
		if batteryLevel < 0 {
			ev.BatteryLevelUnavailable = true
		} else {
			ev.BatteryLevel = batteryLevel
		}
		// ChirpStack reports an unavailable battery level as -1.
		rec.status = &api.DeviceStatus{Margin: margin, BatteryLevel: max(batteryLevel, -1)}
		return ev
	})
}

// PublishTxAck publishes a "txack" event: the gateway accepted the queue item for
// transmission. Like ChirpStack, an unconfirmed item leaves the queue and a
// confirmed one stays pending until PublishAck. The item gets the device's next
// downlink frame counter.
func (s *Server) PublishTxAck(ctx context.Context, devEUI, queueItemID string) (*integration.TxAckEvent, error) {
	return emit(ctx, s, devEUI, "txack", func(rec *deviceRec, info *integration.DeviceInfo, now time.Time) *integration.TxAckEvent {
		fCnt := rec.fCntDown
		rec.fCntDown++
		for i, qi := range rec.queue {
			if qi.GetId() != queueItemID {
				continue
			}
			qi.FCntDown = fCnt
			if qi.GetConfirmed() {
				qi.IsPending = true
			} else {
				rec.queue = append(rec.queue[:i:i], rec.queue[i+1:]...)
			}
			break
		}
		return &integration.TxAckEvent{
			DownlinkId:  uint32(now.UnixNano()),
			Time:        timestamppb.New(now),
			DeviceInfo:  info,
			QueueItemId: queueItemID,
			FCntDown:    fCnt,
			GatewayId:   defaultGatewayID,
			TxInfo: &gw.DownlinkTxInfo{
				Frequency: defaultFrequency,
				Power:     14,
				Modulation: &gw.Modulation{Parameters: &gw.Modulation_Lora{Lora: &gw.LoraModulationInfo{
					Bandwidth:             125000,
					SpreadingFactor:       7,
					CodeRate:              gw.CodeRate_CR_4_5,
					PolarizationInversion: true,
				}}},
			},
		}
	})
}

// PublishAck publishes an "ack" event for a confirmed downlink (acknowledged, or
// not when it timed out) and removes the item from the queue either way.
func (s *Server) PublishAck(ctx context.Context, devEUI, queueItemID string, acknowledged bool) (*integration.AckEvent, error) {
	return emit(ctx, s, devEUI, "ack", func(rec *deviceRec, info *integration.DeviceInfo, now time.Time) *integration.AckEvent {
		ev := &integration.AckEvent{
			DeduplicationId: newUUID(),
			Time:            timestamppb.New(now),
			DeviceInfo:      info,
			QueueItemId:     queueItemID,
			Acknowledged:    acknowledged,
		}
		for i, qi := range rec.queue {
			if qi.GetId() == queueItemID {
				ev.FCntDown = qi.GetFCntDown()
				rec.queue = append(rec.queue[:i:i], rec.queue[i+1:]...)
				break
			}
		}
		return ev
	})
}

// PublishLog publishes a "log" event.
func (s *Server) PublishLog(ctx context.Context, devEUI string, level integration.LogLevel, code integration.LogCode, description string, logContext map[string]string) (*integration.LogEvent, error) {
	return emit(ctx, s, devEUI, "log", func(_ *deviceRec, info *integration.DeviceInfo, now time.Time) *integration.LogEvent {
		return &integration.LogEvent{
			Time:        timestamppb.New(now),
			DeviceInfo:  info,
			Level:       level,
			Code:        code,
			Description: description,
			Context:     maps.Clone(logContext),
		}
	})
}
