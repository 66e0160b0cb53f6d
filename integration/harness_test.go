package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/gateway"
	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/proto/manifest"
	"github.com/otaplane/ota/simulator/chirpstacksim"
	"github.com/otaplane/ota/simulator/devicesim"
)

const adminKey = "integration-admin-key-0123456789"

var (
	apiURL string
	cfg    *config.Config
	worker *workerProcess
	// chirp is the ChirpStack v4 stand-in every LoRaWAN test talks to.
	chirp *chirpstacksim.Server
	// cadenceConn lets tests read workflows directly (histories, descriptions).
	cadenceConn *cadenceclient.Conn
)

const chirpToken = "it-chirpstack-api-token"

// versionFPort carries the firmware version in uplinks (docs/lorawan.md).
const versionFPort = 10

// fuotaVersions maps a DevEUI to the version it reports after a FUOTA deployment.
var fuotaVersions sync.Map

// versionPayload is the binary version report: format 0x01, major, minor, patch.
func versionPayload(v string) []byte {
	var major, minor, patch byte
	fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch)
	return []byte{0x01, major, minor, patch}
}

// TestMain starts one API and one worker against a fresh database; each test makes its
// own tenant, so tests never see each other's data.
func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// scripts/test.sh makes the database and starts the project's broker, whose
	// authentication plugin reads device credentials from that same database.
	dbName := os.Getenv("OTA_IT_DATABASE")
	if dbName == "" || os.Getenv("OTA_MQTT_PASSWORD") == "" || os.Getenv("OTA_CHIRPSTACK_MQTT_PASSWORD") == "" {
		return 0, fmt.Errorf("OTA_IT_DATABASE, OTA_MQTT_* and OTA_CHIRPSTACK_MQTT_* name the test database and the project's " +
			"broker: run `make test` (scripts/test.sh)")
	}

	port, err := freePort()
	if err != nil {
		return 0, err
	}
	cfg, err = config.Load("../configs/test.yaml")
	if err != nil {
		return 0, err
	}
	cfg.Database.DSN = fmt.Sprintf("host=127.0.0.1 port=5432 user=postgres dbname=%s sslmode=disable", dbName)
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.HTTP.PublicURL = "http://" + cfg.HTTP.Listen
	cfg.Auth.AdminKey = adminKey
	cfg.MQTT.ClientID = fmt.Sprintf("ota-it-worker-%d", os.Getpid())
	// Another deployment on this broker (make run, a benchmark) must not take our messages.
	cfg.MQTT.SharedGroup = fmt.Sprintf("ota-it-%d", os.Getpid())
	cfg.Worker.MonitorListen = "127.0.0.1:0"
	// Links are built whether or not Cadence Web runs; scripts/test.sh starts one and
	// says where (the browser test needs it).
	cfg.Cadence.WebURL = os.Getenv("OTA_IT_CADENCE_WEB")
	if cfg.Cadence.WebURL == "" {
		cfg.Cadence.WebURL = "http://127.0.0.1:8088"
	}
	if err := cfg.ValidateAPI(); err != nil {
		return 0, err
	}
	if err := cfg.ValidateWorker(); err != nil {
		return 0, err
	}
	log := zap.NewNop()
	if os.Getenv("OTA_IT_LOG") != "" {
		log, _ = zap.NewDevelopment()
	}

	ready := make(chan string, 1)
	apiErr := make(chan error, 1)
	go func() { apiErr <- gateway.Run(ctx, cfg, log.Named("api"), ready) }()
	select {
	case addr := <-ready:
		apiURL = "http://" + addr
	case err := <-apiErr:
		return 0, fmt.Errorf("api: %w", err)
	case <-time.After(90 * time.Second):
		return 0, fmt.Errorf("api did not start")
	}
	chirp = chirpstacksim.New(chirpstacksim.Options{APIToken: chirpToken, BrokerURL: cfg.MQTT.Broker,
		MQTTUsername: os.Getenv("OTA_CHIRPSTACK_MQTT_USERNAME"), MQTTPassword: os.Getenv("OTA_CHIRPSTACK_MQTT_PASSWORD"),
		StepInterval: 100 * time.Millisecond, TimeoutScale: 0.05})
	if err := chirp.Start("127.0.0.1:0"); err != nil {
		return 0, fmt.Errorf("chirpstack: %w", err)
	}
	defer chirp.Stop()
	// A device that received its image reboots and reports its new version in an uplink,
	// as a real one would; tests say which version each device reports.
	chirp.OnFUOTAComplete(func(devEUI string) {
		if v, ok := fuotaVersions.Load(devEUI); ok {
			// It keeps reporting on its next uplinks too (ChirpStack events are QoS 0, so one
			// may be lost, e.g. while a worker restarts).
			go func() {
				for _, wait := range []time.Duration{200 * time.Millisecond, 3 * time.Second, 5 * time.Second} {
					time.Sleep(wait)
					_, _ = chirp.PublishUplink(context.Background(), devEUI, versionFPort, versionPayload(v.(string)))
				}
			}()
		}
	})

	// The worker runs as its own process, as in production, so tests can kill it.
	tmp, err := os.MkdirTemp("", "ota-it-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	if worker, err = startWorker(tmp, dbName); err != nil {
		return 0, err
	}
	if cadenceConn, err = cadenceclient.Dial(cfg.Cadence, "integration-tests"); err != nil {
		return 0, err
	}
	defer cadenceConn.Close()

	code := m.Run()
	worker.stop()
	cancel()
	select {
	case err := <-apiErr:
		if err != nil {
			fmt.Fprintln(os.Stderr, "shutdown:", err)
		}
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "shutdown timed out")
	}
	if code != 0 {
		printNotable("worker log", worker.logPath, `"level":"warn"`, `"level":"error"`)
		printNotable("cadence dev server log", "../.run/cadence-devserver.log", "\twarn\t", "\terror\t")
	}
	return code, nil
}

// printNotable prints a log's last warnings and errors: on a failed run they say more
// than its tail, which is the shutdown.
func printNotable(name, path string, markers ...string) {
	logs, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var notable []string
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(line, "prometheus reporter") {
			continue // the dev server's metrics noise
		}
		for _, m := range markers {
			if strings.Contains(line, m) {
				notable = append(notable, line[:min(len(line), 600)])
				break
			}
		}
	}
	fmt.Fprintf(os.Stderr, "--- %s: last warnings and errors ---\n%s\n", name,
		strings.Join(notable[max(0, len(notable)-60):], "\n"))
}

func adminSQL(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable")
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// client is a fleet tool speaking to the API with one key.
type client struct {
	t   *testing.T
	key string
}

type response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

func (c client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, apiURL+path, rd)
	require.NoError(c.t, err)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.send(req)
}

func (c client) send(req *http.Request) response {
	c.t.Helper()
	var sent []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		require.NoError(c.t, err)
		sent = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	if err := checkContract(req, sent, resp, raw); err != nil {
		c.t.Errorf("OpenAPI: %v", err)
	}
	out := response{Status: resp.StatusCode, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

func (c client) mustDo(status int, method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body)
	require.Equalf(c.t, status, r.Status, "%s %s: %s", method, path, r.Raw)
	return r.Body
}

// tenant is one freshly created tenant with its key.
type tenant struct {
	client
	ID string
	// creds holds each device's broker credentials, shown once when it was registered.
	creds map[string]deviceCredentials
}

type deviceCredentials struct {
	Username, Password, ClientID string
}

func newTenant(t *testing.T) tenant {
	t.Helper()
	admin := client{t: t, key: adminKey}
	body := admin.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/tenants",
		map[string]any{"name": fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())})
	tn := body["tenant"].(map[string]any)
	return tenant{client: client{t: t, key: body["api_key"].(string)}, ID: tn["id"].(string),
		creds: map[string]deviceCredentials{}}
}

func (tn tenant) uploadFirmware(version, model string, image []byte) map[string]any {
	tn.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(tn.t, w.WriteField("version", version))
	require.NoError(tn.t, w.WriteField("hardware_model", model))
	part, err := w.CreateFormFile("file", "image.bin")
	require.NoError(tn.t, err)
	_, err = part.Write(image)
	require.NoError(tn.t, err)
	require.NoError(tn.t, w.Close())
	req, err := http.NewRequest(http.MethodPost, apiURL+"/api/v1/firmware", &buf)
	require.NoError(tn.t, err)
	req.Header.Set("Authorization", "Bearer "+tn.key)
	req.Header.Set("Content-Type", w.FormDataContentType())
	r := tn.send(req)
	require.Equalf(tn.t, http.StatusCreated, r.Status, "upload: %s", r.Raw)
	return r.Body
}

func (tn tenant) createDevices(specs []devicesim.DeviceSpec) {
	tn.t.Helper()
	for _, s := range specs {
		body := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
			"id": s.ID, "hardware_model": s.HardwareModel, "firmware_version": s.FirmwareVersion,
			"labels": map[string]string{"simulated": "true"},
		})
		tn.keepCredentials(body)
	}
}

// keepCredentials records the credentials a registration answer shows once.
func (tn tenant) keepCredentials(body map[string]any) {
	tn.t.Helper()
	c, ok := body["credentials"].(map[string]any)
	require.Truef(tn.t, ok, "no credentials in %v", body)
	tn.creds[c["device_id"].(string)] = deviceCredentials{Username: c["username"].(string),
		Password: c["password"].(string), ClientID: c["client_id"].(string)}
}

// withCredentials fills in each device's own broker credentials.
func (tn tenant) withCredentials(specs []devicesim.DeviceSpec) []devicesim.DeviceSpec {
	tn.t.Helper()
	out := make([]devicesim.DeviceSpec, len(specs))
	for i, s := range specs {
		c, ok := tn.creds[s.ID]
		require.Truef(tn.t, ok, "device %s was not registered by this test", s.ID)
		s.Username, s.Password = c.Username, c.Password
		out[i] = s
	}
	return out
}

// trust is what the tenant's devices pin, as the API gives it to a provisioning step.
func (tn tenant) trust() *manifest.TrustSet {
	tn.t.Helper()
	t, err := devicesim.FetchTrust(context.Background(), http.DefaultClient, apiURL, tn.key)
	require.NoError(tn.t, err)
	return t
}

// startFleet runs simulated devices for the tenant and waits until the control plane
// has seen a heartbeat from each one.
func (tn tenant) startFleet(specs []devicesim.DeviceSpec) *devicesim.Fleet {
	tn.t.Helper()
	return tn.startFleetWith(specs, 200*time.Millisecond)
}

func (tn tenant) startFleetWith(specs []devicesim.DeviceSpec, stepDelay time.Duration) *devicesim.Fleet {
	tn.t.Helper()
	f, err := devicesim.NewFleet(devicesim.Config{
		BrokerURL: cfg.MQTT.Broker, TenantID: tn.ID, Trust: tn.trust(), HeartbeatInterval: 2 * time.Second,
		StepDelay: stepDelay, ProgressReports: true,
	}, tn.withCredentials(specs))
	require.NoError(tn.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(tn.t, f.Start(ctx))
	tn.t.Cleanup(f.Stop)
	for _, s := range specs {
		if s.Behavior == devicesim.BehaviorOffline {
			continue
		}
		require.Eventuallyf(tn.t, func() bool {
			d := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+s.ID, nil)
			return d["last_seen_at"] != nil
		}, 20*time.Second, 200*time.Millisecond, "no heartbeat recorded for %s", s.ID)
	}
	return f
}

func specs(prefix string, n int, model, version string) []devicesim.DeviceSpec {
	out := make([]devicesim.DeviceSpec, n)
	for i := range out {
		out[i] = devicesim.DeviceSpec{ID: fmt.Sprintf("%s-%03d", prefix, i+1), HardwareModel: model,
			FirmwareVersion: version, BatteryPercent: 90, Behavior: devicesim.BehaviorNormal}
	}
	return out
}

func ids(specs []devicesim.DeviceSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.ID
	}
	return out
}

func image(n int) []byte {
	return bytes.Repeat([]byte("firmware-image-"), n)
}

// chirpStackApp is one ChirpStack application and FUOTA-capable device profile made for
// a test tenant, with the tenant's settings pointing at them.
type chirpStackApp struct {
	ApplicationID string
	ProfileID     string
}

func (tn tenant) setupLoRaWAN() chirpStackApp {
	tn.t.Helper()
	appID, err := chirp.AddApplication(&api.Application{TenantId: chirp.TenantID(), Name: tn.t.Name()})
	require.NoError(tn.t, err)
	profileID, err := chirp.AddDeviceProfile(chirpstacksim.FUOTADeviceProfile(chirp.TenantID(), tn.t.Name()))
	require.NoError(tn.t, err)
	tn.mustDo(http.StatusOK, http.MethodPut, "/api/v1/lorawan/settings", map[string]any{
		"api_address": chirp.Addr(), "api_token": chirpToken, "chirpstack_tenant_id": chirp.TenantID(),
		"application_id": appID, "event_encoding": "json", "version_fport": versionFPort})
	return chirpStackApp{ApplicationID: appID, ProfileID: profileID}
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// dbNameOf extracts dbname=… from a key/value DSN.
func dbNameOf(dsn string) string {
	for _, kv := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(kv, "dbname="); ok {
			return v
		}
	}
	return ""
}
