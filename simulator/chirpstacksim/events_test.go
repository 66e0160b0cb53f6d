package chirpstacksim

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
	"github.com/chirpstack/chirpstack/api/go/v4/integration"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// subscribe returns the payloads arriving on topic. Application IDs are random
// UUIDs, so topics never collide between test runs on a shared broker.
func subscribe(t *testing.T, topic string) <-chan []byte {
	t.Helper()
	ch := make(chan []byte, 16)
	opts := mqtt.NewClientOptions().AddBroker(brokerURL()).SetClientID("cs-sim-test-" + randomEUI(t)).
		SetUsername(os.Getenv("OTA_MQTT_USERNAME")).SetPassword(os.Getenv("OTA_MQTT_PASSWORD"))
	client := mqtt.NewClient(opts)
	tok := client.Connect()
	require.True(t, tok.WaitTimeout(waitTimeout), "connect to %s", brokerURL())
	require.NoError(t, tok.Error())
	t.Cleanup(func() { client.Disconnect(100) })
	tok = client.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m.Payload() })
	require.True(t, tok.WaitTimeout(waitTimeout))
	require.NoError(t, tok.Error())
	return ch
}

func receive(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(waitTimeout):
		t.Fatal("no event received")
		return nil
	}
}

func TestUplinkEventJSON(t *testing.T) {
	srv := startServer(t, Options{BrokerURL: brokerURL(), Encoding: EncodingJSON})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	eui := createDevice(t, ctx, c, fx.appID, fx.profileID)
	events := subscribe(t, EventTopic(fx.appID, eui, "up"))

	sent, err := srv.PublishUplink(ctx, eui, 10, []byte{0x01, 0x02}, WithSignal(-97, -3.5))
	require.NoError(t, err)
	raw := receive(t, events)

	var got integration.UplinkEvent
	require.NoError(t, protojson.Unmarshal(raw, &got))
	assert.True(t, proto.Equal(sent, &got), "received event differs from the published one")
	assert.Equal(t, srv.TenantID(), got.GetDeviceInfo().GetTenantId())
	assert.Equal(t, fx.appID, got.GetDeviceInfo().GetApplicationId())
	assert.Equal(t, fx.profileID, got.GetDeviceInfo().GetDeviceProfileId())
	assert.Equal(t, "dev-"+eui, got.GetDeviceInfo().GetDeviceName())
	assert.Equal(t, eui, got.GetDeviceInfo().GetDevEui())
	assert.Equal(t, map[string]string{"fleet": "test"}, got.GetDeviceInfo().GetTags())
	assert.EqualValues(t, 10, got.GetFPort())
	assert.Equal(t, []byte{0x01, 0x02}, got.GetData())
	require.Len(t, got.GetRxInfo(), 1)
	assert.EqualValues(t, -97, got.GetRxInfo()[0].GetRssi())
	assert.InDelta(t, -3.5, got.GetRxInfo()[0].GetSnr(), 0.001)
	assert.WithinDuration(t, time.Now(), got.GetTime().AsTime(), 5*time.Second)

	// ChirpStack's JSON: camelCase field names, defaults emitted, bytes as base64.
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	for _, key := range []string{"deduplicationId", "deviceInfo", "fPort", "fCnt", "rxInfo", "txInfo", "confirmed", "adr", "data"} {
		assert.Contains(t, fields, key)
	}
	assert.NotContains(t, fields, "f_port")
	assert.Equal(t, false, fields["confirmed"])
	assert.Equal(t, "AQI=", fields["data"])

	// The frame counter advances and the device counts as seen.
	next, err := srv.PublishUplink(ctx, eui, 10, nil)
	require.NoError(t, err)
	assert.Equal(t, got.GetFCnt()+1, next.GetFCnt())
	receive(t, events)
	dev, err := c.device.Get(ctx, &api.GetDeviceRequest{DevEui: eui})
	require.NoError(t, err)
	assert.NotNil(t, dev.GetLastSeenAt())
}

func TestEventsProtobuf(t *testing.T) {
	srv := startServer(t, Options{BrokerURL: brokerURL(), Encoding: EncodingProtobuf})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	eui := createDevice(t, ctx, c, fx.appID, fx.profileID)
	events := subscribe(t, EventTopic(fx.appID, eui, "+"))

	t.Run("join", func(t *testing.T) {
		sent, err := srv.PublishJoin(ctx, eui)
		require.NoError(t, err)
		var got integration.JoinEvent
		require.NoError(t, proto.Unmarshal(receive(t, events), &got))
		assert.True(t, proto.Equal(sent, &got))
		act, err := c.device.GetActivation(ctx, &api.GetDeviceActivationRequest{DevEui: eui})
		require.NoError(t, err)
		assert.Equal(t, got.GetDevAddr(), act.GetDeviceActivation().GetDevAddr())
		dev, err := c.device.Get(ctx, &api.GetDeviceRequest{DevEui: eui})
		require.NoError(t, err)
		assert.Equal(t, common.DeviceClass_CLASS_C, dev.GetClassEnabled())
	})

	t.Run("status", func(t *testing.T) {
		_, err := srv.PublishStatus(ctx, eui, 7, 87.5)
		require.NoError(t, err)
		var got integration.StatusEvent
		require.NoError(t, proto.Unmarshal(receive(t, events), &got))
		assert.EqualValues(t, 7, got.GetMargin())
		assert.InDelta(t, 87.5, got.GetBatteryLevel(), 0.001)
		dev, err := c.device.Get(ctx, &api.GetDeviceRequest{DevEui: eui})
		require.NoError(t, err)
		assert.InDelta(t, 87.5, dev.GetDeviceStatus().GetBatteryLevel(), 0.001)
	})

	t.Run("txack and ack", func(t *testing.T) {
		resp, err := c.device.Enqueue(ctx, &api.EnqueueDeviceQueueItemRequest{QueueItem: &api.DeviceQueueItem{
			DevEui: eui, FPort: 5, Data: []byte{1}, Confirmed: true,
		}})
		require.NoError(t, err)
		_, err = srv.PublishTxAck(ctx, eui, resp.GetId())
		require.NoError(t, err)
		var txack integration.TxAckEvent
		require.NoError(t, proto.Unmarshal(receive(t, events), &txack))
		assert.Equal(t, resp.GetId(), txack.GetQueueItemId())
		require.Len(t, srv.DeviceQueue(eui), 1)
		assert.True(t, srv.DeviceQueue(eui)[0].GetIsPending(), "a confirmed downlink waits for its ack")

		_, err = srv.PublishAck(ctx, eui, resp.GetId(), true)
		require.NoError(t, err)
		var ack integration.AckEvent
		require.NoError(t, proto.Unmarshal(receive(t, events), &ack))
		assert.True(t, ack.GetAcknowledged())
		assert.Equal(t, txack.GetFCntDown(), ack.GetFCntDown())
		assert.Empty(t, srv.DeviceQueue(eui))
	})

	t.Run("log", func(t *testing.T) {
		_, err := srv.PublishLog(ctx, eui, integration.LogLevel_ERROR, integration.LogCode_UPLINK_CODEC, "codec failed", map[string]string{"f": "x"})
		require.NoError(t, err)
		var got integration.LogEvent
		require.NoError(t, proto.Unmarshal(receive(t, events), &got))
		assert.Equal(t, integration.LogCode_UPLINK_CODEC, got.GetCode())
		assert.Equal(t, "codec failed", got.GetDescription())
	})
}

func TestFUOTACompletionHookPublishes(t *testing.T) {
	r := newUplinkRig(t)
	srv, c, ctx, fx, eui, events := r.srv, r.c, r.ctx, r.fx, r.eui, r.ups
	srv.OnFUOTAComplete(func(devEUI string) {
		// A device reports its new version after rebooting into the image.
		_, err := srv.PublishUplink(context.Background(), devEUI, 42, []byte("2.0.0"))
		assert.NoError(t, err)
	})
	id := createDeployment(t, ctx, c, testDeployment(fx), eui)
	_, err := c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
	require.NoError(t, err)

	var up integration.UplinkEvent
	require.NoError(t, protojson.Unmarshal(receive(t, events), &up))
	assert.EqualValues(t, 42, up.GetFPort())
	assert.Equal(t, []byte("2.0.0"), up.GetData())
	assert.Equal(t, "2.0.0", up.GetDeviceInfo().GetTags()["firmware"], "tags set on completion")
}

func TestPublishErrors(t *testing.T) {
	ctx := context.Background()
	noBroker := startServer(t, Options{})
	_, err := noBroker.PublishUplink(ctx, "0102030405060708", 1, nil)
	require.ErrorIs(t, err, ErrNoBroker)

	srv := startServer(t, Options{BrokerURL: brokerURL()})
	_, err = srv.PublishStatus(ctx, "0102030405060708", 0, 50)
	require.ErrorIs(t, err, ErrUnknownDevice)
}

func TestEncodingRoundTrip(t *testing.T) {
	ev := &integration.StatusEvent{DeviceInfo: &integration.DeviceInfo{DevEui: "0102030405060708"}, Margin: 3}
	for _, enc := range []Encoding{EncodingJSON, EncodingProtobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			b, err := enc.Marshal(ev)
			require.NoError(t, err)
			var got integration.StatusEvent
			require.NoError(t, enc.Unmarshal(b, &got))
			assert.True(t, proto.Equal(ev, &got))
		})
	}
	_, err := Encoding(0).Marshal(ev)
	require.Error(t, err)
}

// uplinkRig is a server publishing to the broker, one device in a fresh application,
// and the device's uplink events as they arrive.
type uplinkRig struct {
	srv *Server
	c   clients
	ctx context.Context
	fx  fixture
	eui string
	ups <-chan []byte
}

func newUplinkRig(t *testing.T) uplinkRig {
	t.Helper()
	srv := startServer(t, Options{StepInterval: testStep, TimeoutScale: testScale, BrokerURL: brokerURL()})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	eui := createDevice(t, ctx, c, fx.appID, fx.profileID)
	return uplinkRig{srv: srv, c: c, ctx: ctx, fx: fx, eui: eui, ups: subscribe(t, EventTopic(fx.appID, eui, "up"))}
}
