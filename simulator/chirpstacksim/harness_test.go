package chirpstacksim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const (
	testToken    = "test-api-token"
	waitTimeout  = 10 * time.Second
	pollInterval = 5 * time.Millisecond
)

// Event tests run against a real broker; OTA_TEST_BROKER overrides the local
// Mosquitto.
// Tests publish through the project's broker (scripts/broker.sh, started by make test)
// with ChirpStack's own credentials, and read with the worker fleet's, as in production.
func brokerURL() string { return os.Getenv("OTA_MQTT_BROKER") }

// bearer is how ChirpStack's Go examples pass an API key on every call.
type bearer string

var _ credentials.PerRPCCredentials = bearer("")

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// clients are the official generated clients over one loopback connection.
type clients struct {
	tenant  api.TenantServiceClient
	app     api.ApplicationServiceClient
	profile api.DeviceProfileServiceClient
	device  api.DeviceServiceClient
	fuota   api.FuotaServiceClient
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.APIToken == "" {
		opts.APIToken = testToken
	}
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t)
	}
	if opts.BrokerURL != "" {
		opts.MQTTUsername, opts.MQTTPassword = os.Getenv("OTA_CHIRPSTACK_MQTT_USERNAME"), os.Getenv("OTA_CHIRPSTACK_MQTT_PASSWORD")
		require.NotEmpty(t, opts.MQTTPassword, "OTA_CHIRPSTACK_MQTT_PASSWORD names ChirpStack's broker credential: run make test")
	}
	srv := New(opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(srv.Stop)
	return srv
}

// dial connects with token; an empty token sends no credentials at all.
func dial(t *testing.T, srv *Server, token string) clients {
	t.Helper()
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	conn, err := grpc.NewClient(srv.Addr(), dialOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return clients{
		tenant:  api.NewTenantServiceClient(conn),
		app:     api.NewApplicationServiceClient(conn),
		profile: api.NewDeviceProfileServiceClient(conn),
		device:  api.NewDeviceServiceClient(conn),
		fuota:   api.NewFuotaServiceClient(conn),
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// fixture is an application and a FUOTA-capable Class-C device profile created
// through the API.
type fixture struct {
	appID, profileID string
}

func newFixture(t *testing.T, ctx context.Context, c clients, tenantID string) fixture {
	t.Helper()
	app, err := c.app.Create(ctx, &api.CreateApplicationRequest{Application: &api.Application{
		Name:     "app-" + randomEUI(t)[:6],
		TenantId: tenantID,
	}})
	require.NoError(t, err)
	return fixture{appID: app.GetId(), profileID: createProfile(t, ctx, c, tenantID, "class-c")}
}

func createProfile(t *testing.T, ctx context.Context, c clients, tenantID, name string) string {
	t.Helper()
	dp, err := c.profile.Create(ctx, &api.CreateDeviceProfileRequest{DeviceProfile: FUOTADeviceProfile(tenantID, name)})
	require.NoError(t, err)
	return dp.GetId()
}

func createDevice(t *testing.T, ctx context.Context, c clients, appID, profileID string) string {
	t.Helper()
	eui := randomEUI(t)
	_, err := c.device.Create(ctx, &api.CreateDeviceRequest{Device: &api.Device{
		DevEui:          eui,
		Name:            "dev-" + eui,
		ApplicationId:   appID,
		DeviceProfileId: profileID,
		Tags:            map[string]string{"fleet": "test"},
	}})
	require.NoError(t, err)
	return eui
}

func randomEUI(t testing.TB) string {
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func requireCode(t *testing.T, want codes.Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, status.Code(err), "error: %v", err)
}
