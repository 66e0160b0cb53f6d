package config

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultsAreValid(t *testing.T) {
	// A worker's broker credential is a secret: it has no default.
	t.Setenv("OTA_MQTT_USERNAME", "ota-worker")
	t.Setenv("OTA_MQTT_PASSWORD", "a-worker-password-of-length")
	cfg, err := Load("")
	require.NoError(t, err)
	require.NoError(t, cfg.ValidateAPI())
	require.NoError(t, cfg.ValidateWorker())
	assert.Equal(t, "127.0.0.1:7114", cfg.Cadence.Address())
	assert.True(t, cfg.UsesDevSecrets())
}

func TestWorkerNeedsBrokerCredentials(t *testing.T) {
	t.Setenv("OTA_MQTT_USERNAME", "") // empty is unset
	t.Setenv("OTA_MQTT_PASSWORD", "")
	cfg, err := Load("")
	require.NoError(t, err)
	err = cfg.ValidateWorker()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mqtt.username")
}

func TestDevSecretsRefusedBeyondLoopback(t *testing.T) {
	t.Setenv("OTA_HTTP_LISTEN", "0.0.0.0:8080")
	cfg, err := Load("")
	require.NoError(t, err)
	err = cfg.ValidateAPI()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "auth.admin_key")

	t.Setenv("OTA_AUTH_ADMIN_KEY", "an-admin-key-of-our-own")
	t.Setenv("OTA_FIRMWARE_URL_SIGNING_KEY", "a-signing-key-of-our-own")
	t.Setenv("OTA_SECRETS_ENCRYPTION_KEY", "an-encryption-key-of-our-own")
	cfg, err = Load("")
	require.NoError(t, err)
	require.NoError(t, cfg.ValidateAPI(), "secrets of its own may listen anywhere")
}

// The worker never reads the admin key: a deployed worker needs only its own secrets.
func TestWorkerBeyondLoopbackNeedsOnlyItsSecrets(t *testing.T) {
	t.Setenv("OTA_MQTT_USERNAME", "ota-worker")
	t.Setenv("OTA_MQTT_PASSWORD", "a-worker-password-of-length")
	t.Setenv("OTA_WORKER_MONITOR_LISTEN", "0.0.0.0:9464")
	cfg, err := Load("")
	require.NoError(t, err)
	err = cfg.ValidateWorker()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "firmware.url_signing_key")

	t.Setenv("OTA_FIRMWARE_URL_SIGNING_KEY", "a-signing-key-of-our-own")
	t.Setenv("OTA_SECRETS_ENCRYPTION_KEY", "an-encryption-key-of-our-own")
	cfg, err = Load("")
	require.NoError(t, err)
	require.NoError(t, cfg.ValidateWorker(), "the admin key is the api's")
	assert.True(t, cfg.UsesDevSecrets(), "start-up still warns about the development admin key")
}

func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("ota:\n  step_timeout: 7s\nhttp:\n  listen: 0.0.0.0:9000\n"), 0o600))
	t.Setenv("CADENCE_FRONTEND_HOST", "cadence")
	t.Setenv("CADENCE_FRONTEND_PORT", "7833")
	t.Setenv("OTA_HTTP_LISTEN", "0.0.0.0:9100")
	cfg, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, 7*time.Second, cfg.OTA.StepTimeout, "file beats defaults")
	assert.Equal(t, "0.0.0.0:9100", cfg.HTTP.Listen, "environment beats file")
	assert.Equal(t, "cadence:7833", cfg.Cadence.Address())
}

func TestInvalidValueNamesTheKey(t *testing.T) {
	tests := []struct {
		env, value, key string
		validate        func(*Config) error
	}{
		{"CADENCE_FRONTEND_PORT", "70000", "cadence.frontend_port", (*Config).ValidateAPI},
		{"OTA_LOG_LEVEL", "loud", "log.level", (*Config).ValidateAPI},
		{"OTA_HTTP_PUBLIC_URL", "not a url", "http.public_url", (*Config).ValidateAPI},
		{"OTA_AUTH_ADMIN_KEY", "short", "auth.admin_key", (*Config).ValidateAPI},
		{"OTA_MQTT_BROKER", "127.0.0.1", "mqtt.broker", (*Config).ValidateWorker},
		{"OTA_OTA_STEP_TIMEOUT", "48h", "ota.step_timeout", (*Config).ValidateWorker},
		{"OTA_WORKER_DECISION_POLLERS", "0", "worker.decision_pollers", (*Config).ValidateWorker},
		{"OTA_OTA_DEVICES_PER_RUN", "0", "ota.devices_per_run", (*Config).ValidateWorker},
		{"OTA_OTA_DEVICES_PER_RUN", "201", "ota.devices_per_run", (*Config).ValidateWorker},
		{"OTA_WORKER_REPORT_BATCH_WINDOW", "2s", "worker.report_batch_window", (*Config).ValidateWorker},
		{"OTA_WORKER_REPORT_BATCH_WINDOW", "-1ms", "worker.report_batch_window", (*Config).ValidateWorker},
		{"OTA_LORAWAN_RECONCILE_CRON", "every hour", "lorawan.reconcile_cron", (*Config).ValidateAPI},
		{"OTA_LORAWAN_RECONCILE_CRON", "0 * * *", "lorawan.reconcile_cron", (*Config).ValidateWorker},
		{"OTA_LORAWAN_SYNC_RETRY_WINDOW", "0s", "lorawan.sync_retry_window", (*Config).ValidateAPI},
		{"OTA_CADENCE_WEB_URL", "127.0.0.1:8088", "cadence.web_url", (*Config).ValidateAPI},
		{"OTA_AUTH_KEY_CACHE_TTL", "-1s", "auth.key_cache_ttl", (*Config).ValidateAPI},
		{"OTA_AUTH_KEY_CACHE_TTL", "1h", "auth.key_cache_ttl", (*Config).ValidateAPI},
		{"OTA_DATABASE_LISTEN_DSN", "  ", "database.listen_dsn", (*Config).ValidateAPI},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			cfg, err := Load("")
			require.NoError(t, err)
			err = tt.validate(cfg)
			require.Error(t, err)
			assert.True(t, IsKeyError(err))
			assert.Contains(t, err.Error(), `"`+tt.key+`"`)
		})
	}
}

func TestUnparseableDurationFailsLoad(t *testing.T) {
	t.Setenv("OTA_OTA_STEP_TIMEOUT", "soon")
	_, err := Load("")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "step_timeout")
}

func TestLocalChirpStackAddressesAreOptIn(t *testing.T) {
	cfg, err := Load("")
	require.NoError(t, err)
	assert.False(t, cfg.LoRaWAN.AllowLocalAddresses, "off unless the operator turns it on")
	test, err := Load("../../configs/test.yaml")
	require.NoError(t, err)
	assert.True(t, test.LoRaWAN.AllowLocalAddresses, "the integration tests' ChirpStack listens on loopback")
	t.Setenv("OTA_LORAWAN_ALLOW_LOCAL_ADDRESSES", "true")
	cfg, err = Load("")
	require.NoError(t, err)
	assert.True(t, cfg.LoRaWAN.AllowLocalAddresses)
}

// Keys must be every field of Config: viper only fills from the environment the keys it
// knows, so a field without a default could not be set by OTA_… at all.
func TestKeysAreEveryField(t *testing.T) {
	var fields []string
	root := reflect.TypeOf(Config{})
	for i := range root.NumField() {
		section := root.Field(i)
		for j := range section.Type.NumField() {
			fields = append(fields, section.Tag.Get("mapstructure")+"."+section.Type.Field(j).Tag.Get("mapstructure"))
		}
	}
	sort.Strings(fields)
	assert.Equal(t, fields, Keys())
}

func TestEnvNamesSetTheirKeys(t *testing.T) {
	names := EnvNames()
	assert.Equal(t, "database.dsn", names["OTA_DATABASE_DSN"])
	assert.Equal(t, "cadence.frontend_port", names["CADENCE_FRONTEND_PORT"])
	assert.Equal(t, "cadence.frontend_port", names["OTA_CADENCE_FRONTEND_PORT"])
	t.Setenv("OTA_WORKER_MONITOR_LISTEN", "0.0.0.0:9464")
	cfg, err := Load("")
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:9464", cfg.Worker.MonitorListen)
}

func TestListenerDSNDefaultsToTheMainDSN(t *testing.T) {
	cfg, err := Load("")
	require.NoError(t, err)
	assert.Equal(t, cfg.Database.DSN, cfg.Database.ListenerDSN())
	assert.Equal(t, 30*time.Second, cfg.Auth.KeyCacheTTL)
	t.Setenv("OTA_DATABASE_LISTEN_DSN", "host=db-direct port=5432 user=ota dbname=ota")
	t.Setenv("OTA_AUTH_KEY_CACHE_TTL", "0s")
	cfg, err = Load("")
	require.NoError(t, err)
	require.NoError(t, cfg.ValidateAPI(), "0s turns the cache off")
	assert.Equal(t, "host=db-direct port=5432 user=ota dbname=ota", cfg.Database.ListenerDSN())
}
