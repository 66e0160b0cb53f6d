package integration

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/otaplane/ota/pkg/firmwarelink"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/manifest"
	"github.com/otaplane/ota/proto/topic"
	"github.com/otaplane/ota/simulator/devicesim"
)

// TestSignedCampaignWithManagedKeys: a new tenant's managed keys number and sign each
// upload and every UPDATE's manifest; each device checked what it received, and a
// device's registration answer carries what it pins.
func TestSignedCampaignWithManagedKeys(t *testing.T) {
	tn := newTenant(t)
	keys := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/signing-keys", nil)["signing_keys"].([]any)
	require.Len(t, keys, 2, "a managed command key and release key from the start")
	for _, k := range keys {
		assert.Equal(t, true, k.(map[string]any)["managed"])
	}
	fleet := specs("signed", 3, "board-s", "1.0.0")
	registered := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
		"id": fleet[0].ID, "hardware_model": fleet[0].HardwareModel, "firmware_version": fleet[0].FirmwareVersion})
	tn.keepCredentials(registered)
	tn.createDevices(fleet[1:])
	trust := tn.trust()
	pinned := registered["credentials"].(map[string]any)["trust"].(map[string]any)
	assert.Equal(t, tn.ID, pinned["tenant_id"])
	assert.Len(t, pinned["keys"], len(trust.Keys), "the registration answer carries the trust set")

	sim := tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-s", image(2000))
	assert.EqualValues(t, 1, fw["release_counter"])
	require.NotEmpty(t, fw["release_key_id"])

	campaignID := tn.createCampaign(map[string]any{"name": "signed", "firmware_id": fw["id"], "device_ids": ids(fleet)})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+campaignID+"/execute", nil)
	st, _ := waitCampaign(t, tn, campaignID, 2*time.Minute)
	assert.EqualValues(t, len(fleet), statusCounts(st)["SUCCEEDED"], "%v", st)

	for _, d := range fleet {
		updates := updatesTo(sim, d.ID)
		require.NotEmptyf(t, updates, "no UPDATE reached %s", d.ID)
		for _, cmd := range updates {
			issued := time.UnixMilli(cmd.GetIssuedAtMs())
			m, err := manifest.VerifyUpdate(trust, manifest.Device{ID: d.ID, HardwareModel: d.HardwareModel,
				Version: d.FirmwareVersion}, cmd, issued)
			require.NoErrorf(t, err, "the manifest sent to %s", d.ID)
			assert.Equal(t, fw["id"], m.GetFirmwareId())
			assert.Equal(t, fw["release_key_id"], m.GetReleaseKeyId())
			assert.False(t, m.GetRollback())

			link, err := url.Parse(cmd.GetFirmware().GetUrl())
			require.NoError(t, err)
			assert.Equal(t, d.ID, link.Query().Get("device"), "the link is bound to its device")
			var expires int64
			fmt.Sscan(link.Query().Get("expires"), &expires)
			assert.LessOrEqual(t, expires, issued.Add(15*time.Minute).Unix(), "the link lives minutes")
		}
	}
}

// TestOfflineReleaseKeyEndToEnd: with an offline release key, an upload must bring its
// release counter and a signature that verifies, and devices check that signature.
func TestOfflineReleaseKeyEndToEnd(t *testing.T) {
	tn := newTenant(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/signing-keys",
		map[string]any{"purpose": "release", "public_key": base64.StdEncoding.EncodeToString(pub)})
	assert.Equal(t, false, key["managed"])
	assert.Equal(t, manifest.KeyID(pub), key["id"])

	fleet := specs("offline", 2, "board-o", "1.0.0")
	tn.createDevices(fleet)
	sim := tn.startFleet(fleet)

	img := image(1500)
	sum := sha256.Sum256(img)
	release := manifest.Release{TenantID: tn.ID, HardwareModel: "board-o", Version: "1.1.0", Counter: 1,
		SizeBytes: int64(len(img)), SHA256: hex.EncodeToString(sum[:])}
	otherImage := release
	otherImage.SHA256 = hex.EncodeToString(make([]byte, 32))
	signed := func(r manifest.Release) string {
		sig, err := manifest.SignRelease(priv, r)
		require.NoError(t, err)
		return base64.StdEncoding.EncodeToString(sig)
	}
	for _, tt := range []struct {
		name   string
		fields map[string]string
		field  string
	}{
		{"unsigned", nil, "release_counter"},
		{"no signature", map[string]string{"release_counter": "1"}, "signature"},
		{"signature over another image", map[string]string{"release_counter": "1", "signature": signed(otherImage)}, "signature"},
	} {
		r := tn.upload("1.1.0", "board-o", img, tt.fields)
		require.Equalf(t, http.StatusBadRequest, r.Status, "%s: %s", tt.name, r.Raw)
		assert.Equal(t, tt.field, r.Body["error"].(map[string]any)["field"], tt.name)
	}
	r := tn.upload("1.1.0", "board-o", img, map[string]string{"release_counter": "1", "signature": signed(release)})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Raw)
	assert.Equal(t, manifest.KeyID(pub), r.Body["release_key_id"])

	campaignID := tn.createCampaign(map[string]any{"name": "offline", "firmware_id": r.Body["id"], "device_ids": ids(fleet)})
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+campaignID+"/execute", nil)
	st, _ := waitCampaign(t, tn, campaignID, 2*time.Minute)
	assert.EqualValues(t, len(fleet), statusCounts(st)["SUCCEEDED"], "%v", st)
	for _, d := range fleet {
		state, _ := sim.Device(d.ID)
		assert.Equal(t, "1.1.0", state.FirmwareVersion)
		assert.EqualValues(t, 1, state.ReleaseCounter)
	}
}

// TestReplayedManifestIsRefused: an UPDATE captured on its way to one device is refused
// by another (wrong_device), and by the same device inside another command
// (wrong_command); neither downloads anything.
func TestReplayedManifestIsRefused(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("replay", 2, "board-r", "1.0.0")
	tn.createDevices(fleet)
	sim := tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-r", image(500))
	tn.startUpdate(fleet[0].ID, map[string]any{"firmware_id": fw["id"]})
	assert.Equal(t, "SUCCEEDED", tn.waitRun(fleet[0].ID, time.Minute)["state"])
	captured := updatesTo(sim, fleet[0].ID)[0]

	c := workerIdentity(t)
	replay := func(deviceID, commandID string) {
		cmd := proto.Clone(captured).(*devicev1.Command)
		cmd.CommandId = commandID
		payload, err := proto.Marshal(cmd)
		require.NoError(t, err)
		tok := c.Publish(topic.Commands(tn.ID, deviceID), 1, false, payload)
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
		require.Eventuallyf(t, func() bool {
			d, _ := sim.Device(deviceID)
			return d.CurrentCommandID == commandID && d.CurrentDone
		}, 10*time.Second, 50*time.Millisecond, "%s never answered the replay", deviceID)
	}
	for _, tt := range []struct{ device, command, code string }{
		{fleet[1].ID, captured.GetCommandId(), manifest.CodeWrongDevice},
		{fleet[0].ID, "replayed-into-another-command", manifest.CodeWrongCommand},
	} {
		replay(tt.device, tt.command)
		d, _ := sim.Device(tt.device)
		assert.Equal(t, tt.code, d.CurrentErrorCode, "device %s", tt.device)
	}
	other, _ := sim.Device(fleet[1].ID)
	assert.Equal(t, "1.0.0", other.FirmwareVersion)
}

// TestDowngradeNeedsAllowDowngrade: a lower version is refused by the control plane
// before any command; a lower release counter (an older line's hotfix released after a
// newer line) passes it and is refused by the device. allow_downgrade signs an explicit
// rollback, which both accept.
func TestDowngradeNeedsAllowDowngrade(t *testing.T) {
	tn := newTenant(t)
	dev := devicesim.DeviceSpec{ID: "down-1", HardwareModel: "board-d", FirmwareVersion: "1.0.0", BatteryPercent: 90}
	tn.createDevices([]devicesim.DeviceSpec{dev})
	sim := tn.startFleet([]devicesim.DeviceSpec{dev})
	v2 := tn.uploadFirmware("2.0.0", "board-d", image(300))  // release 1
	v15 := tn.uploadFirmware("1.5.0", "board-d", image(301)) // release 2
	require.EqualValues(t, []any{1.0, 2.0}, []any{v2["release_counter"], v15["release_counter"]})

	run := func(fw map[string]any, allow bool) map[string]any {
		t.Helper()
		tn.startUpdate(dev.ID, map[string]any{"firmware_id": fw["id"], "allow_downgrade": allow})
		return tn.waitRun(dev.ID, time.Minute)
	}
	require.Equal(t, "SUCCEEDED", run(v15, false)["state"])

	refused := run(v2, false)
	assert.Equal(t, "REJECTED", refused["state"])
	d, _ := sim.Device(dev.ID)
	assert.Equal(t, manifest.CodeRollbackRefused, d.CurrentErrorCode, "release 1 is below the installed release 2")
	assert.Equal(t, "1.5.0", d.FirmwareVersion)

	require.Equal(t, "SUCCEEDED", run(v2, true)["state"])
	d, _ = sim.Device(dev.ID)
	assert.Equal(t, "2.0.0", d.FirmwareVersion)
	assert.EqualValues(t, 2, d.ReleaseCounter, "the highest release installed stays")
	last := updatesTo(sim, dev.ID)
	assert.True(t, manifestOf(t, last[len(last)-1]).GetRollback())

	// The control plane judges by what the device last said it runs: wait for its word.
	require.Eventually(t, func() bool {
		return tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+dev.ID, nil)["reported_version"] == "2.0.0"
	}, 20*time.Second, 200*time.Millisecond)
	commands := len(sim.Commands(dev.ID))
	lower := run(v15, false)
	assert.Equal(t, "REJECTED", lower["state"])
	assert.Contains(t, fmt.Sprint(lower["reason"]), "downgrade", "%v", lower)
	assert.Equal(t, commands, len(sim.Commands(dev.ID)), "the control plane refused before commanding")

	require.Equal(t, "SUCCEEDED", run(v15, true)["state"])
	d, _ = sim.Device(dev.ID)
	assert.Equal(t, "1.5.0", d.FirmwareVersion)
}

// TestDeviceDownloadLinks: a link serves its image to its device only, until it expires,
// one range at a time; every refusal names the parameter at fault.
func TestDeviceDownloadLinks(t *testing.T) {
	tn := newTenant(t)
	tn.createDevices([]devicesim.DeviceSpec{{ID: "link-1", HardwareModel: "board-l", FirmwareVersion: "1.0.0"}})
	img := image(700)
	fw := tn.uploadFirmware("1.1.0", "board-l", img)
	fwID := fw["id"].(string)
	links := firmwarelink.New(cfg.Firmware.URLSigningKey, apiURL)
	soon := time.Now().Add(time.Minute)

	get := func(link string, header ...string) (int, []byte, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, link, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var field string
		if resp.StatusCode >= 400 {
			var e struct {
				Error struct {
					Field string `json:"field"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(body, &e), "%s", body)
			field = e.Error.Field
		}
		return resp.StatusCode, body, field
	}

	status, body, _ := get(links.DeviceURL(tn.ID, fwID, "link-1", soon))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, img, body)
	status, body, _ = get(links.DeviceURL(tn.ID, fwID, "link-1", soon), "Range", "bytes=10-19")
	assert.Equal(t, http.StatusPartialContent, status)
	assert.Equal(t, img[10:20], body)

	for _, tt := range []struct {
		name   string
		link   string
		header []string
		status int
		field  string
	}{
		{"expired", links.DeviceURL(tn.ID, fwID, "link-1", time.Now().Add(-time.Second)), nil, http.StatusForbidden, "expires"},
		{"several ranges", links.DeviceURL(tn.ID, fwID, "link-1", soon), []string{"Range", "bytes=0-1,4-5,8-9"},
			http.StatusRequestedRangeNotSatisfiable, "Range"},
		{"another device's name put in", withQuery(t, links.DeviceURL(tn.ID, fwID, "link-1", soon), "device", "link-2"), nil,
			http.StatusForbidden, "sig"},
		{"a device that is not registered", links.DeviceURL(tn.ID, fwID, "nobody", soon), nil, http.StatusForbidden, "device"},
		{"no device", withQuery(t, links.DeviceURL(tn.ID, fwID, "link-1", soon), "device", ""), nil, http.StatusBadRequest, "device"},
	} {
		status, body, field := get(tt.link, tt.header...)
		assert.Equalf(t, tt.status, status, "%s: %s", tt.name, body)
		assert.Equal(t, tt.field, field, tt.name)
	}
}

// upload posts an image with extra form fields and returns the answer, whatever it is.
func (tn tenant) upload(version, model string, img []byte, fields map[string]string) response {
	tn.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(tn.t, w.WriteField("version", version))
	require.NoError(tn.t, w.WriteField("hardware_model", model))
	for k, v := range fields {
		require.NoError(tn.t, w.WriteField(k, v))
	}
	part, err := w.CreateFormFile("file", "image.bin")
	require.NoError(tn.t, err)
	_, err = part.Write(img)
	require.NoError(tn.t, err)
	require.NoError(tn.t, w.Close())
	req, err := http.NewRequest(http.MethodPost, apiURL+"/api/v1/firmware", &buf)
	require.NoError(tn.t, err)
	req.Header.Set("Authorization", "Bearer "+tn.key)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return tn.send(req)
}

// startUpdate starts one device's update, waiting out the close of its previous run.
func (tn tenant) startUpdate(deviceID string, body map[string]any) {
	tn.t.Helper()
	require.Eventually(tn.t, func() bool {
		r := tn.do(http.MethodPut, "/api/v1/devices/"+deviceID+"/ota/update", body)
		require.Containsf(tn.t, []int{http.StatusAccepted, http.StatusConflict}, r.Status, "%s", r.Raw)
		return r.Status == http.StatusAccepted
	}, 30*time.Second, 250*time.Millisecond)
}

// updatesTo lists the UPDATE commands a simulated device received.
func updatesTo(sim *devicesim.Fleet, deviceID string) []*devicev1.Command {
	var out []*devicev1.Command
	for _, c := range sim.Commands(deviceID) {
		if c.GetType() == devicev1.CommandType_COMMAND_TYPE_UPDATE {
			out = append(out, c)
		}
	}
	return out
}

func manifestOf(t *testing.T, cmd *devicev1.Command) *devicev1.Manifest {
	t.Helper()
	m := &devicev1.Manifest{}
	require.NoError(t, proto.Unmarshal(cmd.GetManifest().GetManifest(), m))
	return m
}

// workerIdentity connects as the workers do: the one identity that may command devices.
func workerIdentity(t *testing.T) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cfg.MQTT.Broker).
		SetClientID(fmt.Sprintf("it-replay-%d", time.Now().UnixNano())).
		SetUsername(os.Getenv("OTA_MQTT_USERNAME")).SetPassword(os.Getenv("OTA_MQTT_PASSWORD")).SetCleanSession(true))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func withQuery(t *testing.T, link, key, value string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
