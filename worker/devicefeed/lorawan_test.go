package devicefeed

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	"github.com/chirpstack/chirpstack/api/go/v4/integration"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

const (
	appID  = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	devEUI = "0102030405060708"
)

type fakeRouting struct {
	mu    sync.Mutex
	calls int
	s     map[string]model.ChirpStackSettings
}

func (f *fakeRouting) ChirpStackSettingsByApplication(_ context.Context, id string) (model.ChirpStackSettings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	s, ok := f.s[id]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

type fakeUplinks struct {
	mu      sync.Mutex
	applied []store.LoRaWANUplink
	err     error
}

func (f *fakeUplinks) ApplyLoRaWANUplink(_ context.Context, u store.LoRaWANUplink) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.applied = append(f.applied, u)
	return nil
}

func newEvents(t *testing.T, encoding string) (*LoRaWANEvents, *fakeRouting, *fakeUplinks) {
	r := &fakeRouting{s: map[string]model.ChirpStackSettings{appID: {TenantID: "tenant-1", ApplicationID: appID,
		EventEncoding: encoding, VersionFPort: 10}}}
	st := &fakeUplinks{}
	reg := prometheus.NewRegistry()
	// A long interval: the tests flush by hand.
	e := NewLoRaWANEvents(r, st, NewMetrics(reg), reg, zap.NewNop(), time.Hour)
	t.Cleanup(e.Close)
	return e, r, st
}

func encode(t *testing.T, encoding string, m proto.Message) []byte {
	t.Helper()
	var b []byte
	var err error
	if encoding == "json" {
		// ChirpStack's JSON: camelCase names, defaults emitted.
		b, err = protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	} else {
		b, err = proto.Marshal(m)
	}
	require.NoError(t, err)
	return b
}

func topicOf(event string) string {
	return "application/" + appID + "/device/" + devEUI + "/event/" + event
}

func info() *integration.DeviceInfo {
	return &integration.DeviceInfo{ApplicationId: appID, DevEui: devEUI, Tags: map[string]string{}}
}

func uplink(at time.Time, fPort uint32, data []byte, rx ...*gw.UplinkRxInfo) *integration.UplinkEvent {
	return &integration.UplinkEvent{DeduplicationId: "d", Time: timestamppb.New(at), DeviceInfo: info(), FPort: fPort,
		Data: data, RxInfo: rx}
}

func TestUplinkStatusAndJoinBecomeDeviceState(t *testing.T) {
	for _, encoding := range []string{"json", "protobuf"} {
		t.Run(encoding, func(t *testing.T) {
			e, _, st := newEvents(t, encoding)
			at := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
			ack := 0
			e.Handle(topicOf("join"), encode(t, encoding, &integration.JoinEvent{Time: timestamppb.New(at.Add(-time.Hour)),
				DeviceInfo: info(), DevAddr: "01020304"}), func() { ack++ })
			e.Handle(topicOf("up"), encode(t, encoding, uplink(at, 10, []byte{0x01, 1, 4, 2},
				&gw.UplinkRxInfo{GatewayId: "a", Rssi: -110, Snr: -5}, &gw.UplinkRxInfo{GatewayId: "b", Rssi: -70, Snr: 3.5})), func() { ack++ })
			e.Handle(topicOf("status"), encode(t, encoding, &integration.StatusEvent{Time: timestamppb.New(at.Add(-time.Second)),
				DeviceInfo: info(), Margin: 12, BatteryLevel: 87.5}), func() { ack++ })
			e.Handle(topicOf("txack"), encode(t, encoding, &integration.TxAckEvent{DeviceInfo: info(), QueueItemId: "q"}), func() { ack++ })
			e.Handle(topicOf("log"), encode(t, encoding, &integration.LogEvent{DeviceInfo: info(), Description: "x"}), func() { ack++ })
			assert.Equal(t, 5, ack, "QoS 0 events are acknowledged at once")
			e.Flush(context.Background())

			require.Len(t, st.applied, 1, "one write per device and flush")
			u := st.applied[0]
			assert.Equal(t, "tenant-1", u.TenantID)
			assert.Equal(t, devEUI, u.DevEUI)
			assert.True(t, at.Equal(u.SeenAt), "the newest event's time: %s", u.SeenAt)
			require.NotNil(t, u.RSSI)
			assert.Equal(t, -70, *u.RSSI, "the best gateway")
			assert.InDelta(t, 3.5, *u.SNR, 0.001)
			require.NotNil(t, u.Margin)
			assert.Equal(t, 12, *u.Margin)
			require.NotNil(t, u.BatteryLevel)
			assert.InDelta(t, 87.5, *u.BatteryLevel, 0.001)
			assert.Equal(t, "1.4.2", u.FirmwareVersion)
		})
	}
}

func TestOtherFPortAndExternalPowerLeaveValuesAlone(t *testing.T) {
	e, _, st := newEvents(t, "json")
	e.Handle(topicOf("up"), encode(t, "json", uplink(time.Now(), 2, []byte{0x01, 9, 9, 9})), func() {})
	e.Handle(topicOf("status"), encode(t, "json", &integration.StatusEvent{Time: timestamppb.Now(), DeviceInfo: info(),
		Margin: 3, ExternalPowerSource: true}), func() {})
	e.Flush(context.Background())
	require.Len(t, st.applied, 1)
	assert.Empty(t, st.applied[0].FirmwareVersion, "fPort 2 is application data, not a version report")
	assert.Nil(t, st.applied[0].BatteryLevel, "external power: no battery level")
	assert.Nil(t, st.applied[0].RSSI, "no gateway metadata")
}

func TestEncodingFallbackAndRouting(t *testing.T) {
	e, r, st := newEvents(t, "protobuf")
	// The integration sends JSON although the settings say protobuf.
	e.Handle(topicOf("up"), encode(t, "json", uplink(time.Now(), 10, []byte("v2.0.0-beta.1\x00"))), func() {})
	// Events of an application no tenant owns are dropped; the answer is cached.
	for range 3 {
		e.Handle("application/99999999-bbbb-cccc-dddd-eeeeeeeeeeee/device/"+devEUI+"/event/up",
			encode(t, "json", uplink(time.Now(), 10, nil)), func() {})
	}
	e.Handle("application/x/device/y/event", nil, func() {})
	e.Flush(context.Background())
	require.Len(t, st.applied, 1)
	assert.Equal(t, "2.0.0-beta.1", st.applied[0].FirmwareVersion)
	assert.Equal(t, 2, r.calls, "one lookup per application")
}

func TestUnappliedStateIsRetriedAtTheNextFlush(t *testing.T) {
	e, _, st := newEvents(t, "json")
	st.err = store.ErrUnavailable
	e.Handle(topicOf("up"), encode(t, "json", uplink(time.Now(), 10, []byte{0x01, 1, 0, 0})), func() {})
	e.Flush(context.Background())
	st.err = nil
	e.Flush(context.Background())
	require.Len(t, st.applied, 1)
	assert.Equal(t, "1.0.0", st.applied[0].FirmwareVersion)
}

func TestDecodeVersionPayload(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0x01, 1, 4, 2}, "1.4.2"},
		{[]byte{0x01, 2, 0, 0, 0}, "2.0.0"},
		{[]byte{0x01, 2, 0, 0, 3}, "2.0.0-rc.3"},
		{[]byte{0x01, 255, 255, 255}, "255.255.255"},
		{[]byte("1.4.2"), "1.4.2"},
		{[]byte("v1.0.0-rc.1\x00\x00"), "1.0.0-rc.1"},
		{[]byte(" 3.1.4\n"), "3.1.4"},
	} {
		got, err := DecodeVersionPayload(tt.in)
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
	}
	for _, bad := range [][]byte{nil, {0x01, 1, 2}, {0x01, 1, 2, 3, 4, 5}, []byte("1.4"), []byte("latest"), {0x02, 1, 2, 3}} {
		_, err := DecodeVersionPayload(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestFutureTimestampsAreClamped(t *testing.T) {
	now := time.Now()
	assert.WithinDuration(t, now, eventTime(timestamppb.New(now.Add(24*time.Hour)), now), time.Second)
	assert.WithinDuration(t, now, eventTime(nil, now), time.Second)
	past := now.Add(-time.Hour)
	assert.True(t, past.Equal(eventTime(timestamppb.New(past), now)))
}
