package devicesim

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// The tests run against the project's broker (scripts/broker.sh, started by make test):
// every device connects with its own credentials, checked by the broker's plugin against
// the control plane's database, as in production. The environment names both.
func brokerURL() string { return os.Getenv("OTA_MQTT_BROKER") }

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

func credentialsDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	if brokerURL() == "" || os.Getenv("OTA_DATABASE_DSN") == "" || os.Getenv("OTA_MQTT_PASSWORD") == "" {
		t.Fatal("OTA_MQTT_BROKER, OTA_DATABASE_DSN and OTA_MQTT_USERNAME/PASSWORD must name the project's broker " +
			"and its database: run `make test` (scripts/test.sh)")
	}
	poolOnce.Do(func() { pool, poolErr = pgxpool.New(context.Background(), os.Getenv("OTA_DATABASE_DSN")) })
	require.NoError(t, poolErr)
	return pool
}

// withCredentials gives each device its own broker identity, as the control plane does
// when it registers a device, and waits until the broker knows them.
func withCredentials(t testing.TB, tenant string, specs []DeviceSpec) []DeviceSpec {
	t.Helper()
	db := credentialsDB(t)
	out := make([]DeviceSpec, len(specs))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, s := range specs {
		s.Username = fmt.Sprintf("%s:%s:1", tenant, s.ID)
		s.Password = "pw-" + randomHex(t, 12)
		sum := sha256.Sum256([]byte(s.Password))
		_, err := db.Exec(ctx, `INSERT INTO device_credentials (tenant_id, device_id, generation, username, password_sha256, state)
			VALUES ($1, $2, 1, $3, $4, 'ACTIVE')`, tenant, s.ID, s.Username, sum[:])
		require.NoError(t, err)
		out[i] = s
	}
	if len(out) > 0 {
		last := out[len(out)-1]
		require.Eventually(t, func() bool { return canConnect(last.Username, last.Password, ClientID(tenant, last.ID)) },
			15*time.Second, 100*time.Millisecond, "the broker never learned the new credentials")
	}
	return out
}

func canConnect(username, password, clientID string) bool {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL()).SetClientID(clientID).
		SetUsername(username).SetPassword(password).SetConnectTimeout(2 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		return false
	}
	c.Disconnect(0)
	return true
}

// observerCredentials is the worker fleet's identity: it sees every device's reports,
// heartbeats and status and may command them, like the control plane.
func observerCredentials() (username, password string) {
	return os.Getenv("OTA_MQTT_USERNAME"), os.Getenv("OTA_MQTT_PASSWORD")
}
