package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/firmwarelink"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

const (
	testKey   = "ota_test-key"
	someUUID  = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	urnUUID   = "urn:uuid:" + someUUID
	csTenant  = "52f14cd4-c6f1-4fbd-8f87-4025e1d49242"
	csApp     = "0a3c2a44-7b68-4d0c-9d1e-2f5b8d0c1e11"
	csProfile = "7c1f0b1e-3a5d-4c8e-9b0a-1d2e3f4a5b6c"
)

// readStore answers the few reads a request makes before it is refused. It implements
// no write: a write would panic, the recoverer would answer 500, and the test fails —
// so every request these tests pass wrote nothing.
type readStore struct {
	store.Store
	listErr error
}

func (readStore) KeyByHash(context.Context, []byte) (model.Tenant, model.APIKey, error) {
	return model.Tenant{ID: "11111111-1111-1111-1111-111111111111", Name: "t", CadenceDomain: "ota-t"},
		model.APIKey{ID: "22222222-2222-2222-2222-222222222222", Name: "test", Role: access.RoleAdmin}, nil
}

// Audited runs the request; one that would keep its changes panics, as a write does.
func (readStore) Audited(ctx context.Context, fn func(context.Context) (store.AuditEntry, bool)) error {
	if _, keep := fn(ctx); keep {
		panic("an audited request kept changes")
	}
	return nil
}

// AppendAudit takes the row of a refused request: it records that nothing changed.
func (readStore) AppendAudit(context.Context, store.AuditEntry) error { return nil }

func (readStore) ExistingDevices(context.Context, string, []string) ([]string, error) {
	return nil, nil
}

func (readStore) GetChirpStackSettings(context.Context, string) (model.ChirpStackSettings, error) {
	return model.ChirpStackSettings{}, fmt.Errorf("chirpstack settings: %w", store.ErrNotFound)
}

func (s readStore) ListDevices(context.Context, string, store.Page) ([]model.Device, error) {
	return nil, s.listErr
}

// noWorkflows starts nothing: a call would panic, as a write would.
type noWorkflows struct {
	app.Workflows
	app.LoRaWANWorkflows
}

// newTestRouter is the API's router on the real use cases over st.
func newTestRouter(t *testing.T, st readStore) http.Handler {
	t.Helper()
	return newTestServer(t, st).router()
}

// newTestServer is the API on the real use cases over st.
func newTestServer(t *testing.T, st readStore) *Server {
	t.Helper()
	cfg, err := config.Load("")
	require.NoError(t, err)
	var wf noWorkflows
	gin.SetMode(gin.ReleaseMode)
	s := &Server{svc: app.New(st, wf, nil, cfg), fleet: app.NewFleetService(st), lorawan: app.NewLoRaWANService(st, wf, cfg),
		access: app.NewAccessService(st, cfg, nil), cfg: cfg, log: zap.NewNop(), metrics: newMetrics(prometheus.NewRegistry()),
		links:  firmwarelink.New(cfg.Firmware.URLSigningKey, cfg.HTTP.PublicURL),
		writes: newWriteGate(cfg.HTTP.WritesPerTenant, replicaWrites(cfg.Database.MaxOpenConns), cfg.HTTP.WriteWait)}
	return s
}

type badRequest struct {
	name        string
	method      string
	path        string // under /api/v1
	body        string
	contentType string // default application/json
	rangeHeader string
	status      int // default 400
	field       string
}

func serve(t *testing.T, h http.Handler, r badRequest) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(r.method, "/api/v1"+r.path, strings.NewReader(r.body))
	ct := r.contentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	if r.rangeHeader != "" {
		req.Header.Set("Range", r.rangeHeader)
	}
	key := testKey
	if r.path == "/tenants" {
		key = config.DevAdminKey
	}
	req.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestBadInputIsA4xxNamingTheField sends every endpoint input that once answered 500 (or
// could), and their siblings: each must be a 4xx naming the field, and write nothing.
func TestBadInputIsA4xxNamingTheField(t *testing.T) {
	window := func(cron, zone string) string {
		return `{"name":"c","firmware_id":"` + someUUID + `","device_ids":["d1"],"rollout":{"maintenance_window":` +
			`{"cron":"` + cron + `","duration":"1h","time_zone":"` + zone + `"}}}`
	}
	settings := func(address, token string) string {
		return `{"api_address":"` + address + `","api_token":"` + token + `","chirpstack_tenant_id":"` + csTenant +
			`","application_id":"` + csApp + `"}`
	}
	csvHeader := "id,hardware_model,firmware_version,labels\n"
	tests := []badRequest{
		// Paging: cursors and limits of every list.
		{name: "firmware cursor", method: "GET", path: "/firmware?after=x", field: "after"},
		{name: "firmware cursor urn", method: "GET", path: "/firmware?after=" + urnUUID, field: "after"},
		{name: "firmware limit", method: "GET", path: "/firmware?limit=x", field: "limit"},
		{name: "device cursor NUL", method: "GET", path: "/devices?after=%00", field: "after"},
		{name: "device cursor invalid UTF-8", method: "GET", path: "/devices?after=%ff", field: "after"},
		{name: "device cursor not an id", method: "GET", path: "/devices?after=a%20b", field: "after"},
		{name: "device limit zero", method: "GET", path: "/devices?limit=0", field: "limit"},
		{name: "device limit too big", method: "GET", path: "/devices?limit=1001", field: "limit"},
		{name: "group cursor", method: "GET", path: "/groups?after=x", field: "after"},
		{name: "group cursor urn", method: "GET", path: "/groups?after=" + urnUUID, field: "after"},
		{name: "group member cursor", method: "GET", path: "/groups/" + someUUID + "/members?after=a%2Fb", field: "after"},
		{name: "campaign cursor", method: "GET", path: "/ota/campaigns?after=x", field: "after"},
		{name: "campaign limit", method: "GET", path: "/ota/campaigns?limit=-1", field: "limit"},
		{name: "campaign devices cursor", method: "GET", path: "/ota/campaigns/" + someUUID + "/devices?after_seq=x", field: "after_seq"},
		{name: "campaign devices limit", method: "GET", path: "/ota/campaigns/" + someUUID + "/devices?limit=1e3", field: "limit"},
		{name: "lorawan device cursor", method: "GET", path: "/lorawan/devices?after=%00", field: "after"},
		{name: "lorawan device limit", method: "GET", path: "/lorawan/devices?limit=many", field: "limit"},
		{name: "reconcile flag", method: "POST", path: "/lorawan/reconcile?report_only=%00", field: "report_only"},

		// Path ids.
		{name: "device id NUL", method: "GET", path: "/devices/%00", field: "id"},
		{name: "device id invalid UTF-8", method: "GET", path: "/devices/%ff/ota", field: "id"},
		{name: "device history id", method: "GET", path: "/devices/a%01/firmware-history", field: "id"},
		{name: "campaign urn id", method: "GET", path: "/ota/campaigns/" + urnUUID, status: http.StatusNotFound},
		{name: "group urn id", method: "GET", path: "/groups/" + urnUUID, status: http.StatusNotFound},
		{name: "firmware urn id", method: "GET", path: "/firmware/" + urnUUID, status: http.StatusNotFound},
		{name: "lorawan device id NUL", method: "DELETE", path: "/lorawan/devices/%00", field: "id"},

		// Free text in bodies.
		{name: "tenant name NUL", method: "POST", path: "/tenants", body: `{"name":"t\u0000"}`, field: "name"},
		{name: "device label NUL", method: "POST", path: "/devices",
			body: `{"id":"d1","hardware_model":"m","firmware_version":"1.0.0","labels":{"a":"x\u0000y"}}`, field: "labels.a"},
		{name: "device label newline", method: "POST", path: "/devices",
			body: `{"id":"d1","hardware_model":"m","firmware_version":"1.0.0","labels":{"a":"x\ny"}}`, field: "labels.a"},
		{name: "device id NUL in body", method: "POST", path: "/devices",
			body: `{"id":"d\u0000","hardware_model":"m","firmware_version":"1.0.0"}`, field: "id"},
		{name: "update firmware urn", method: "PUT", path: "/devices/d1/ota/update", body: `{"firmware_id":"` + urnUUID + `"}`,
			field: "firmware_id"},
		{name: "group name NUL", method: "POST", path: "/groups", body: `{"name":"g\u0000","kind":"static"}`, field: "name"},
		{name: "group selector NUL", method: "POST", path: "/groups", body: `{"name":"g","kind":"dynamic","selector":"a=\u0000"}`,
			field: "selector"},
		{name: "group member NUL", method: "POST", path: "/groups/" + someUUID + "/members", body: `{"add":["d\u0000"]}`,
			field: "add[0]"},
		{name: "bulk label NUL", method: "POST", path: "/devices/bulk/labels", body: `{"device_ids":["d1"],"set":{"a":"\u0000"}}`,
			field: "set.a"},
		{name: "bulk label key NUL", method: "POST", path: "/devices/bulk/labels", body: `{"device_ids":["d1"],"remove":["a\u0000"]}`,
			field: "remove[0]"},
		{name: "campaign name NUL", method: "POST", path: "/ota/campaigns",
			body: `{"name":"c\u0000","firmware_id":"` + someUUID + `","device_ids":["d1"]}`, field: "name"},
		{name: "campaign firmware urn", method: "POST", path: "/ota/campaigns",
			body: `{"name":"c","firmware_id":"` + urnUUID + `","device_ids":["d1"]}`, field: "firmware_id"},
		{name: "campaign group urn", method: "POST", path: "/ota/campaigns",
			body: `{"name":"c","firmware_id":"` + someUUID + `","group_id":"` + urnUUID + `"}`, field: "group_id"},
		{name: "campaign selector NUL", method: "POST", path: "/ota/campaigns",
			body: `{"name":"c","firmware_id":"` + someUUID + `","selector":"a=\u0000"}`, field: "selector"},
		{name: "campaign device id NUL", method: "POST", path: "/ota/campaigns",
			body: `{"name":"c","firmware_id":"` + someUUID + `","device_ids":["d\u0000"]}`, field: "device_ids[0]"},
		{name: "campaign wave name NUL", method: "POST", path: "/ota/campaigns",
			body:  `{"name":"c","firmware_id":"` + someUUID + `","device_ids":["d1"],"rollout":{"waves":[{"name":"w\u0000","percent":100}]}}`,
			field: "rollout.waves[0].name"},
		{name: "window TZ prefix", method: "POST", path: "/ota/campaigns", body: window("TZ=UTC", "UTC"),
			field: "rollout.maintenance_window.cron"},
		{name: "window CRON_TZ prefix", method: "POST", path: "/ota/campaigns", body: window("CRON_TZ=UTC 0 2 * * *", "UTC"),
			field: "rollout.maintenance_window.cron"},
		{name: "window @every", method: "POST", path: "/ota/campaigns", body: window("@every 1h", "UTC"),
			field: "rollout.maintenance_window.cron"},
		{name: "window never fires", method: "POST", path: "/ota/campaigns", body: window("0 0 30 2 *", "UTC"),
			field: "rollout.maintenance_window.cron"},
		{name: "window host zone", method: "POST", path: "/ota/campaigns", body: window("0 2 * * *", "Local"),
			field: "rollout.maintenance_window.time_zone"},
		{name: "campaign reason NUL", method: "POST", path: "/ota/campaigns/" + someUUID + "/pause", body: `{"reason":"r\u0000"}`,
			field: "reason"},
		{name: "import CSV label NUL", method: "POST", path: "/devices/import", contentType: "text/csv",
			body: csvHeader + "d1,m,1.0.0,a=x\x00y\n", field: "rows"},
		{name: "import CSV invalid UTF-8", method: "POST", path: "/devices/import", contentType: "text/csv",
			body: csvHeader + "d1,m,1.0.0,a=\xff\n", field: "rows"},
		{name: "import CSV id NUL", method: "POST", path: "/devices/import", contentType: "text/csv",
			body: csvHeader + "d\x00,m,1.0.0,\n", field: "rows"},
		{name: "import JSON label NUL", method: "POST", path: "/devices/import",
			body: `[{"id":"d1","hardware_model":"m","firmware_version":"1.0.0","labels":{"a":"\u0000"}}]`, field: "rows"},
		{name: "settings loopback", method: "PUT", path: "/lorawan/settings", body: settings("127.0.0.1:8080", "tok"),
			field: "api_address"},
		{name: "settings localhost", method: "PUT", path: "/lorawan/settings", body: settings("localhost:8080", "tok"),
			field: "api_address"},
		{name: "settings metadata address", method: "PUT", path: "/lorawan/settings", body: settings("169.254.169.254:80", "tok"),
			field: "api_address"},
		{name: "settings address NUL", method: "PUT", path: "/lorawan/settings", body: settings(`cs\u0000:8080`, "tok"),
			field: "api_address"},
		{name: "settings token not ASCII", method: "PUT", path: "/lorawan/settings", body: settings("cs:8080", `t\u00ffk`),
			field: "api_token"},
		{name: "lorawan device name NUL", method: "POST", path: "/lorawan/devices",
			body: `{"id":"l1","dev_eui":"0102030405060708","app_key":"` + strings.Repeat("ab", 16) + `","device_profile_id":"` +
				csProfile + `","hardware_model":"m","firmware_version":"1.0.0","name":"n\u0000"}`, field: "name"},
		{name: "lorawan device label NUL", method: "POST", path: "/lorawan/devices",
			body: `{"id":"l1","dev_eui":"0102030405060708","app_key":"` + strings.Repeat("ab", 16) + `","device_profile_id":"` +
				csProfile + `","hardware_model":"m","firmware_version":"1.0.0","labels":{"a":"\u0000"}}`, field: "labels.a"},
		{name: "lorawan update name NUL", method: "PATCH", path: "/lorawan/devices/l1", body: `{"name":"n\u0000"}`, field: "name"},

		// Signing keys.
		{name: "key purpose", method: "POST", path: "/signing-keys", body: `{"purpose":"firmware"}`, field: "purpose"},
		{name: "key not base64", method: "POST", path: "/signing-keys", body: `{"purpose":"release","public_key":"!!"}`,
			field: "public_key"},
		{name: "key too short", method: "POST", path: "/signing-keys", body: `{"purpose":"release","public_key":"AAAA"}`,
			field: "public_key"},
		{name: "offline command key", method: "POST", path: "/signing-keys",
			body: `{"purpose":"command","public_key":"` + strings.Repeat("A", 43) + `="}`, field: "public_key"},
		{name: "private key offered", method: "POST", path: "/signing-keys", body: `{"purpose":"release","private_key":"x"}`,
			field: "private_key"},

		// Device download links: refused before any read.
		{name: "link without device", method: "GET", path: "/firmware/" + someUUID + "/image?tenant=" + csTenant +
			"&expires=1700000000&sig=00", field: "device"},
		{name: "link with two devices", method: "GET", path: "/firmware/" + someUUID + "/image?tenant=" + csTenant +
			"&device=d1&device=d2&expires=1700000000&sig=00", field: "device"},
		{name: "link expiry not a number", method: "GET", path: "/firmware/" + someUUID + "/image?tenant=" + csTenant +
			"&device=d1&expires=soon&sig=00", field: "expires"},
		{name: "link forged", method: "GET", path: "/firmware/" + someUUID + "/image?tenant=" + csTenant +
			"&device=d1&expires=9999999999&sig=00", status: http.StatusForbidden, field: "sig"},
		{name: "several ranges", method: "GET", path: "/firmware/" + someUUID + "/image?tenant=" + csTenant +
			"&device=d1&expires=9999999999&sig=00", rangeHeader: "bytes=0-1,3-4,6-7",
			status: http.StatusRequestedRangeNotSatisfiable, field: "Range"},
		{name: "several ranges with a key", method: "GET", path: "/firmware/" + someUUID + "/download",
			rangeHeader: "bytes=0-0,0-0", status: http.StatusRequestedRangeNotSatisfiable, field: "Range"},
	}
	h := newTestRouter(t, readStore{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, h, tt)
			want := tt.status
			if want == 0 {
				want = http.StatusBadRequest
			}
			require.Equal(t, want, w.Code, "%s", w.Body)
			var body struct {
				Error errorBody `json:"error"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "%s", w.Body)
			assert.NotEmpty(t, body.Error.Code)
			assert.NotEmpty(t, body.Error.Message)
			if want == http.StatusBadRequest {
				assert.Equal(t, "invalid_argument", body.Error.Code)
			}
			if want == http.StatusBadRequest || tt.field != "" {
				assert.Equal(t, tt.field, body.Error.Field, "%s", w.Body)
			}
		})
	}
}

// TestValueTheDatabaseRefusesIsA400 covers the backstop: a value validation let through
// and PostgreSQL refused answers 400, not 500.
func TestValueTheDatabaseRefusesIsA400(t *testing.T) {
	h := newTestRouter(t, readStore{listErr: fmt.Errorf("list devices: %w: invalid byte sequence", store.ErrInvalidInput)})
	w := serve(t, h, badRequest{method: "GET", path: "/devices?after=d1"})
	require.Equal(t, http.StatusBadRequest, w.Code, "%s", w.Body)
	assert.Contains(t, w.Body.String(), `"invalid_argument"`)
}
