package devicesim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/manifest"
	"github.com/otaplane/ota/proto/topic"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

const (
	testModel      = "sim-board-v1"
	waitTimeout    = 5 * time.Second
	pollInterval   = 5 * time.Millisecond
	quietPeriod    = 300 * time.Millisecond // how long "nothing arrives" is watched
	testHeartbeat  = 100 * time.Millisecond
	startupTimeout = 5 * time.Second
)

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// uniqueTenant keeps parallel test runs on one broker apart; it is a tenant id as the
// control plane issues them (a UUID), so topics parse as the protocol says.
func uniqueTenant(t testing.TB) string {
	h := randomHex(t, 16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// firmwareServer serves images by path; unknown paths answer 404.
type firmwareServer struct {
	*httptest.Server
	images map[string][]byte

	mu       sync.Mutex
	flaky    bool // the first request answers 503, the second breaks halfway
	requests int
	ranges   []string
}

func newFirmwareServer(t testing.TB) *firmwareServer {
	fs := &firmwareServer{images: map[string][]byte{}}
	fs.images["/fw/2.0.0.bin"] = []byte("firmware image 2.0.0 " + randomHex(t, 64))
	fs.images["/fw/3.0.0.bin"] = []byte("firmware image 3.0.0 " + randomHex(t, 64))
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The URL is pre-signed; a device sending credentials would be a protocol bug.
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected credentials", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/fw/endless":
			fs.serveEndless(w, r)
			return
		case "/fw/slow":
			fs.serveSlow(w, r)
			return
		}
		img, ok := fs.images[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fs.mu.Lock()
		fs.ranges = append(fs.ranges, r.Header.Get("Range"))
		fs.requests++
		n, flaky := fs.requests, fs.flaky
		fs.mu.Unlock()
		switch {
		case flaky && n == 1: // briefly unavailable
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		case flaky && n == 2: // the transfer breaks halfway
			w.Header().Set("Content-Length", strconv.Itoa(len(img)))
			_, _ = w.Write(img[:len(img)/2])
			rc := http.NewResponseController(w)
			_ = rc.Flush()
			if conn, _, err := rc.Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		http.ServeContent(w, r, "image.bin", time.Time{}, bytes.NewReader(img))
	}))
	t.Cleanup(fs.Close)
	return fs
}

// serveEndless streams data until the client hangs up: a server feeding endless data.
func (fs *firmwareServer) serveEndless(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.requests++
	fs.mu.Unlock()
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for r.Context().Err() == nil {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// serveSlow trickles a byte every 50 ms on the first request and refuses the next ones
// (404), so a device that cuts the slow transfer fails at its next try.
func (fs *firmwareServer) serveSlow(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.requests++
	first := fs.requests == 1
	fs.mu.Unlock()
	if !first {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", "1000000")
	rc := http.NewResponseController(w)
	for r.Context().Err() == nil {
		if _, err := w.Write([]byte{'x'}); err != nil || rc.Flush() != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (fs *firmwareServer) requestCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.requests
}

// firmware describes an image served at path with its true hash and size.
func (fs *firmwareServer) firmware(path, version string) *devicev1.Firmware {
	img := fs.images[path]
	sum := sha256.Sum256(img)
	return &devicev1.Firmware{
		Version:       version,
		HardwareModel: testModel,
		Url:           fs.URL + path,
		Sha256:        hex.EncodeToString(sum[:]),
		SizeBytes:     int64(len(img)),
	}
}

// observer plays the control plane: it publishes commands, signing each UPDATE's
// manifest as the control plane does, and collects reports and heartbeats of one tenant.
type observer struct {
	t      testing.TB
	tenant string
	client mqtt.Client
	keys   *tenantKeys

	mu         sync.Mutex
	reports    map[string][]*devicev1.Report
	heartbeats map[string][]*devicev1.Heartbeat
	statuses   map[string][]*devicev1.Status
}

func newObserver(t testing.TB, tenant string) *observer {
	o := &observer{
		t:          t,
		tenant:     tenant,
		keys:       newTenantKeys(t, tenant),
		reports:    map[string][]*devicev1.Report{},
		heartbeats: map[string][]*devicev1.Heartbeat{},
		statuses:   map[string][]*devicev1.Status{},
	}
	user, pass := observerCredentials()
	opts := mqtt.NewClientOptions().
		AddBroker(brokerURL()).
		SetClientID(tenant + "-observer").
		SetUsername(user).
		SetPassword(pass).
		SetCleanSession(true)
	o.client = mqtt.NewClient(opts)
	tok := o.client.Connect()
	require.True(t, tok.WaitTimeout(startupTimeout), "observer connect timed out")
	require.NoError(t, tok.Error())
	t.Cleanup(func() { o.client.Disconnect(100) })

	// The worker's identity reads every tenant's devices; onMessage keeps this tenant's.
	subs := map[string]byte{
		topic.AllDevices(topic.KindReports):   1,
		topic.AllDevices(topic.KindHeartbeat): 0,
		topic.AllDevices(topic.KindStatus):    1,
	}
	tok = o.client.SubscribeMultiple(subs, o.onMessage)
	require.True(t, tok.WaitTimeout(startupTimeout), "observer subscribe timed out")
	require.NoError(t, tok.Error())
	return o
}

func (o *observer) onMessage(_ mqtt.Client, msg mqtt.Message) {
	tenant, deviceID, kind, err := topic.Parse(msg.Topic())
	if err != nil || tenant != o.tenant {
		return // another test's device
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch kind {
	case topic.KindReports:
		r := &devicev1.Report{}
		if err := proto.Unmarshal(msg.Payload(), r); err != nil {
			o.t.Errorf("bad report: %v", err)
			return
		}
		o.reports[deviceID] = append(o.reports[deviceID], r)
	case topic.KindHeartbeat:
		hb := &devicev1.Heartbeat{}
		if err := proto.Unmarshal(msg.Payload(), hb); err != nil {
			o.t.Errorf("bad heartbeat: %v", err)
			return
		}
		o.heartbeats[deviceID] = append(o.heartbeats[deviceID], hb)
	case topic.KindStatus:
		st := &devicev1.Status{}
		if err := proto.Unmarshal(msg.Payload(), st); err != nil {
			o.t.Errorf("bad status: %v", err)
			return
		}
		o.statuses[deviceID] = append(o.statuses[deviceID], st)
	}
}

// waitStatus waits for the device's answer to the status request requestID.
func (o *observer) waitStatus(deviceID, requestID string) *devicev1.Status {
	o.t.Helper()
	var got *devicev1.Status
	require.Eventuallyf(o.t, func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, st := range o.statuses[deviceID] {
			if st.GetRequestId() == requestID {
				got = st
				return true
			}
		}
		return false
	}, waitTimeout, pollInterval, "no status answer from %s to %s", deviceID, requestID)
	return got
}

// send publishes cmd to the device; an UPDATE without a manifest gets the one the
// control plane would sign for this device (sendAsIs publishes it unsigned).
func (o *observer) send(deviceID string, cmd *devicev1.Command) {
	o.t.Helper()
	if cmd.GetType() == devicev1.CommandType_COMMAND_TYPE_UPDATE && cmd.GetManifest() == nil {
		cmd.Manifest = o.keys.sign(o.t, o.keys.manifest(deviceID, cmd))
	}
	o.sendAsIs(deviceID, cmd)
}

func (o *observer) sendAsIs(deviceID string, cmd *devicev1.Command) {
	o.t.Helper()
	payload, err := proto.Marshal(cmd)
	require.NoError(o.t, err)
	tok := o.client.Publish(topic.Commands(o.tenant, deviceID), 1, false, payload)
	require.True(o.t, tok.WaitTimeout(startupTimeout), "publish timed out")
	require.NoError(o.t, tok.Error())
}

func (o *observer) reportsOf(deviceID string) []*devicev1.Report {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*devicev1.Report(nil), o.reports[deviceID]...)
}

func (o *observer) heartbeatsOf(deviceID string) []*devicev1.Heartbeat {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*devicev1.Heartbeat(nil), o.heartbeats[deviceID]...)
}

func (o *observer) heartbeatDevices() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.heartbeats)
}

// waitFinal waits for the report that ends command id (any status other than the
// intermediate ones) and returns every report of the device's for that command.
func (o *observer) waitFinal(deviceID, commandID string) []*devicev1.Report {
	o.t.Helper()
	return o.waitFinalWithin(deviceID, commandID, waitTimeout)
}

func (o *observer) waitFinalWithin(deviceID, commandID string, within time.Duration) []*devicev1.Report {
	o.t.Helper()
	var got []*devicev1.Report
	require.Eventuallyf(o.t, func() bool {
		got = got[:0]
		done := false
		for _, r := range o.reportsOf(deviceID) {
			if r.GetCommandId() != commandID {
				continue
			}
			got = append(got, r)
			if isFinal(r.GetStatus()) {
				done = true
			}
		}
		return done
	}, within, pollInterval, "no final report for %s/%s", deviceID, commandID)
	return got
}

// waitHeartbeats waits until the device sent at least n heartbeats.
func (o *observer) waitHeartbeats(deviceID string, n int) []*devicev1.Heartbeat {
	o.t.Helper()
	require.Eventuallyf(o.t, func() bool { return len(o.heartbeatsOf(deviceID)) >= n },
		waitTimeout, pollInterval, "fewer than %d heartbeats from %s", n, deviceID)
	return o.heartbeatsOf(deviceID)
}

func isFinal(s devicev1.ReportStatus) bool {
	switch s {
	case devicev1.ReportStatus_REPORT_STATUS_INSTALLED,
		devicev1.ReportStatus_REPORT_STATUS_FAILED,
		devicev1.ReportStatus_REPORT_STATUS_REJECTED,
		devicev1.ReportStatus_REPORT_STATUS_ROLLED_BACK,
		devicev1.ReportStatus_REPORT_STATUS_CANCELED:
		return true
	}
	return false
}

func statuses(reports []*devicev1.Report) []devicev1.ReportStatus {
	out := make([]devicev1.ReportStatus, len(reports))
	for i, r := range reports {
		out[i] = r.GetStatus()
	}
	return out
}

// env is one tenant's fleet plus the observer and firmware server around it.
type env struct {
	fleet *Fleet
	obs   *observer
	fw    *firmwareServer
}

// newEnv starts a fleet for a fresh tenant; the observer subscribes first so the
// immediate heartbeats are not missed.
func newEnv(t testing.TB, cfg Config, devices ...DeviceSpec) *env {
	t.Helper()
	cfg.BrokerURL = brokerURL()
	cfg.TenantID = uniqueTenant(t)
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = testHeartbeat
	}
	e := &env{obs: newObserver(t, cfg.TenantID), fw: newFirmwareServer(t)}
	cfg.Trust = e.obs.keys.trust
	fleet, err := NewFleet(cfg, withCredentials(t, cfg.TenantID, devices))
	require.NoError(t, err)
	// Every device dials its own connection: a large fleet takes a while.
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout+time.Duration(len(devices))*5*time.Millisecond)
	defer cancel()
	require.NoError(t, fleet.Start(ctx))
	t.Cleanup(fleet.Stop)
	e.fleet = fleet
	return e
}

func spec(id string, b Behavior) DeviceSpec {
	return DeviceSpec{ID: id, HardwareModel: testModel, FirmwareVersion: "1.0.0", BatteryPercent: 80, Behavior: b}
}

func updateCmd(t testing.TB, fw *devicev1.Firmware) *devicev1.Command {
	return &devicev1.Command{
		CommandId:   "cmd-" + randomHex(t, 6),
		Type:        devicev1.CommandType_COMMAND_TYPE_UPDATE,
		IssuedAtMs:  time.Now().UnixMilli(),
		ExpiresAtMs: time.Now().Add(time.Minute).UnixMilli(),
		Firmware:    fw,
	}
}

func rollbackCmd(t testing.TB, version string) *devicev1.Command {
	return &devicev1.Command{
		CommandId:       "cmd-" + randomHex(t, 6),
		Type:            devicev1.CommandType_COMMAND_TYPE_ROLLBACK,
		IssuedAtMs:      time.Now().UnixMilli(),
		RollbackVersion: version,
	}
}

func statusRequestCmd(t testing.TB) *devicev1.Command {
	return &devicev1.Command{
		CommandId:  "req-" + randomHex(t, 6),
		Type:       devicev1.CommandType_COMMAND_TYPE_STATUS_REQUEST,
		IssuedAtMs: time.Now().UnixMilli(),
	}
}

func cancelCmd(t testing.TB, target string) *devicev1.Command {
	return &devicev1.Command{
		CommandId:        "cmd-" + randomHex(t, 6),
		Type:             devicev1.CommandType_COMMAND_TYPE_CANCEL,
		IssuedAtMs:       time.Now().UnixMilli(),
		CancelsCommandId: target,
	}
}

// tenantKeys are a test tenant's command and release keys, and the trust set its devices
// pin.
type tenantKeys struct {
	tenant           string
	command, release ed25519.PrivateKey
	trust            *manifest.TrustSet
}

func newTenantKeys(t testing.TB, tenant string) *tenantKeys {
	k := &tenantKeys{tenant: tenant, trust: &manifest.TrustSet{TenantID: tenant}}
	for _, p := range []manifest.Purpose{manifest.PurposeCommand, manifest.PurposeRelease} {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		k.trust.Keys = append(k.trust.Keys, manifest.TrustedKey{ID: manifest.KeyID(pub), Purpose: p, PublicKey: pub})
		if p == manifest.PurposeCommand {
			k.command = priv
		} else {
			k.release = priv
		}
	}
	return k
}

// releaseCounter is the release counter each test image was released with: its major
// version ("2.0.0" is release 2).
func releaseCounter(version string) uint64 {
	major, _, _ := strings.Cut(version, ".")
	n, _ := strconv.ParseUint(major, 10, 64)
	return n
}

// manifest is what the control plane signs for cmd to deviceID: the image the command
// describes, released under releaseCounter(version), until the command expires.
func (k *tenantKeys) manifest(deviceID string, cmd *devicev1.Command) *devicev1.Manifest {
	fw := cmd.GetFirmware()
	m := &devicev1.Manifest{CommandId: cmd.GetCommandId(), TenantId: k.tenant, DeviceId: deviceID, FirmwareId: "fw-" + fw.GetVersion(),
		Version: fw.GetVersion(), HardwareModel: fw.GetHardwareModel(), Sha256: fw.GetSha256(), SizeBytes: fw.GetSizeBytes(),
		ReleaseCounter: releaseCounter(fw.GetVersion()), ExpiresAtMs: cmd.GetExpiresAtMs()}
	k.releaseWith(m, k.release)
	return m
}

// releaseWith signs m's release statement with the tenant's release key.
func (k *tenantKeys) releaseWith(m *devicev1.Manifest, priv ed25519.PrivateKey) {
	sig, err := manifest.SignRelease(priv, manifest.Release{TenantID: m.TenantId, HardwareModel: m.HardwareModel,
		Version: m.Version, Counter: m.ReleaseCounter, SizeBytes: m.SizeBytes, SHA256: m.Sha256})
	if err != nil {
		panic(err) // the test built a manifest that cannot be released
	}
	m.ReleaseKeyId, m.ReleaseSignature = manifest.KeyID(priv.Public().(ed25519.PublicKey)), sig
}

func (k *tenantKeys) sign(t testing.TB, m *devicev1.Manifest) *devicev1.SignedManifest {
	sm, err := manifest.Sign(k.command, manifest.KeyID(k.command.Public().(ed25519.PublicKey)), m)
	require.NoError(t, err)
	return sm
}
