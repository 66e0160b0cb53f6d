package integration

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/proto/topic"
)

// connect dials the test broker; it returns the connect error (nil when admitted).
func connect(username, password, clientID string, lost chan<- error) (mqtt.Client, error) {
	opts := mqtt.NewClientOptions().AddBroker(cfg.MQTT.Broker).SetClientID(clientID).
		SetUsername(username).SetPassword(password).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second)
	if lost != nil {
		opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect %s: no answer", username)
	}
	return c, tok.Error()
}

// feed is the worker fleet's view of every device report, for seeing what got through.
type feed struct {
	mu   sync.Mutex
	seen map[string][]string
}

func watchReports(t *testing.T) *feed {
	t.Helper()
	f := &feed{seen: map[string][]string{}}
	c, err := connect(os.Getenv("OTA_MQTT_USERNAME"), os.Getenv("OTA_MQTT_PASSWORD"), fmt.Sprintf("it-feed-%d", time.Now().UnixNano()), nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.Disconnect(100) })
	for _, filter := range []string{topic.AllDevices(topic.KindReports), topic.AllDevices(topic.KindHeartbeat)} {
		tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
			f.mu.Lock()
			f.seen[m.Topic()] = append(f.seen[m.Topic()], string(m.Payload()))
			f.mu.Unlock()
		})
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
	}
	return f
}

func (f *feed) got(t string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen[t]...)
}

// subscribeResult is the broker's answer to one SUBSCRIBE (0x80: refused).
func subscribeResult(t *testing.T, c mqtt.Client, filter string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, func(mqtt.Client, mqtt.Message) {})
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	return tok.(*mqtt.SubscribeToken).Result()[filter]
}

func TestBrokerConfinesEachDeviceToItsOwnTopics(t *testing.T) {
	a, b := newTenant(t), newTenant(t)
	a.createDevices(specs("conf", 2, "board-c", "1.0.0"))
	b.createDevices(specs("conf", 1, "board-c", "1.0.0"))
	reports := watchReports(t)

	me := a.creds["conf-001"]
	c, err := connect(me.Username, me.Password, me.ClientID, nil)
	require.NoError(t, err)
	defer c.Disconnect(100)

	own := topic.Reports(a.ID, "conf-001")
	forged := []string{
		topic.Reports(a.ID, "conf-002"),                  // a sibling
		topic.Reports(b.ID, "conf-001"),                  // the same device id in another tenant
		topic.Heartbeat(a.ID, "conf-002"),                // a sibling's heartbeat
		"application/x/device/0102030405060708/event/up", // a LoRaWAN uplink
	}
	for _, top := range append(forged, own) {
		tok := c.Publish(top, 1, false, "from conf-001")
		require.True(t, tok.WaitTimeout(10*time.Second))
	}
	require.Eventually(t, func() bool { return len(reports.got(own)) == 1 }, 10*time.Second, 50*time.Millisecond,
		"the device's own report goes through")
	time.Sleep(500 * time.Millisecond)
	for _, top := range forged {
		assert.Emptyf(t, reports.got(top), "%s was delivered", top)
	}

	for _, filter := range []string{"#", "+/devices/+/commands", a.ID + "/devices/+/commands", topic.Commands(a.ID, "conf-002"),
		topic.Reports(a.ID, "conf-002"), "$SYS/#"} {
		assert.EqualValuesf(t, 0x80, subscribeResult(t, c, filter), "subscribing to %s", filter)
	}
	assert.EqualValues(t, 1, subscribeResult(t, c, topic.Commands(a.ID, "conf-001")), "its own commands")

	_, err = connect("", "", fmt.Sprintf("anon-%d", time.Now().UnixNano()), nil)
	assert.Error(t, err, "an anonymous client is refused")
	_, err = connect(me.Username, me.Password, b.ID+":conf-001", nil)
	assert.Error(t, err, "a device's credential works only with its own client id")
	_, err = connect(me.Username, "not-its-password", me.ClientID, nil)
	assert.Error(t, err, "a wrong password is refused")
	other := a.creds["conf-002"]
	_, err = connect(other.Username, me.Password, other.ClientID, nil)
	assert.Error(t, err, "one device's password does not open another")
}

func TestRevokedOrDeletedDeviceIsCutOffAtOnce(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices(specs("rev", 2, "board-r", "1.0.0"))
	for i, path := range []string{"/api/v1/devices/rev-001/credentials", "/api/v1/devices/rev-002"} {
		id := fmt.Sprintf("rev-%03d", i+1)
		cred := tn.creds[id]
		lost := make(chan error, 1)
		c, err := connect(cred.Username, cred.Password, cred.ClientID, lost)
		require.NoError(t, err)
		tn.mustDo(http.StatusNoContent, http.MethodDelete, path, nil)
		select {
		case <-lost:
		case <-time.After(10 * time.Second):
			c.Disconnect(0)
			t.Fatalf("%s still connected after DELETE %s", id, path)
		}
		_, err = connect(cred.Username, cred.Password, cred.ClientID, nil)
		assert.Errorf(t, err, "%s connects again after DELETE %s", id, path)
	}
	creds := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/rev-001/credentials", nil)["credentials"].([]any)
	require.Len(t, creds, 1)
	assert.Equal(t, "REVOKED", creds[0].(map[string]any)["state"])
	assert.NotContains(t, creds[0], "password", "a password is never shown again")
	tn.mustDo(http.StatusNotFound, http.MethodGet, "/api/v1/devices/rev-002", nil)
}

func TestRotationKeepsTheOldCredentialForItsGrace(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices(specs("rot", 1, "board-r", "1.0.0"))
	old := tn.creds["rot-001"]
	lost := make(chan error, 1)
	c, err := connect(old.Username, old.Password, old.ClientID, lost)
	require.NoError(t, err)
	defer c.Disconnect(0)

	rotated := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices/rot-001/credentials", map[string]any{"retire_after": "4s"})
	assert.EqualValues(t, 2, rotated["generation"])
	require.NotEqual(t, old.Password, rotated["password"])
	select {
	case <-lost:
		t.Fatal("the old credential stopped at once: rotation must leave the device time to switch")
	case <-time.After(2 * time.Second):
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the old credential outlived its grace")
	}
	_, err = connect(old.Username, old.Password, old.ClientID, nil)
	assert.Error(t, err, "the retired generation is refused")
	nc, err := connect(rotated["username"].(string), rotated["password"].(string), old.ClientID, nil)
	require.NoError(t, err, "the new generation connects")
	nc.Disconnect(0)

	states := map[float64]string{}
	for _, c := range tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/rot-001/credentials", nil)["credentials"].([]any) {
		m := c.(map[string]any)
		states[m["generation"].(float64)] = m["state"].(string)
	}
	assert.Equal(t, map[float64]string{1: "RETIRED", 2: "ACTIVE"}, states)
}

func TestImportedDevicesGetCredentialsOnce(t *testing.T) {
	tn := newTenant(t)
	r := tn.postRaw("/api/v1/devices/import", "text/csv", []byte("id,hardware_model,firmware_version,labels\n"+
		"imp-001,board-i,1.0.0,\nimp-002,board-i,1.0.0,\n"))
	require.Equalf(t, http.StatusCreated, r.Status, "%s", r.Raw)
	body := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices/credentials",
		map[string]any{"device_ids": []string{"imp-001", "imp-002"}})
	issued := body["credentials"].([]any)
	require.Len(t, issued, 2)
	for _, c := range issued {
		tn.keepCredentials(map[string]any{"credentials": c})
	}
	again := tn.do(http.MethodPost, "/api/v1/devices/credentials", map[string]any{"device_ids": []string{"imp-002"}})
	assert.Equal(t, http.StatusConflict, again.Status, "%s", again.Raw)
	bad := tn.do(http.MethodPost, "/api/v1/devices/credentials", map[string]any{"device_ids": []string{"imp-001", "nope"}})
	requireField(t, bad, "device_ids[1]")

	// The fleet connects with the credentials issued after the import.
	sim := tn.startFleet(specs("imp", 2, "board-i", "1.0.0"))
	_, ok := sim.Device("imp-001")
	assert.True(t, ok)
}
