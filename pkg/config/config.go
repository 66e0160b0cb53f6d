// Package config loads the settings shared by the api and worker binaries: embedded
// defaults, then an optional YAML file, then environment variables (OTA_SECTION_KEY,
// plus the CADENCE_FRONTEND_HOST/PORT names used by Cadence deployments).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment override: database.dsn ← OTA_DATABASE_DSN.
const EnvPrefix = "OTA"

// Development-only secrets: start-up logs a warning when they are still in use, and
// refuses them when the process listens on anything but loopback.
const (
	DevAdminKey      = "ota-dev-admin-key"
	DevSigningKey    = "ota-dev-url-signing-key"
	DevEncryptionKey = "ota-dev-encryption-key"
)

// Config is the whole configuration; each binary validates the sections it uses.
type Config struct {
	Log      Log      `mapstructure:"log"`
	Database Database `mapstructure:"database"`
	Cadence  Cadence  `mapstructure:"cadence"`
	HTTP     HTTP     `mapstructure:"http"`
	Auth     Auth     `mapstructure:"auth"`
	Firmware Firmware `mapstructure:"firmware"`
	MQTT     MQTT     `mapstructure:"mqtt"`
	OTA      OTA      `mapstructure:"ota"`
	Worker   Worker   `mapstructure:"worker"`
	LoRaWAN  LoRaWAN  `mapstructure:"lorawan"`
	Secrets  Secrets  `mapstructure:"secrets"`
	Webhooks Webhooks `mapstructure:"webhooks"`
}

// Webhooks configures outgoing webhooks.
type Webhooks struct {
	// AllowPrivateTargets lets webhooks reach loopback, link-local and private
	// addresses: for development and tests only, since a tenant could otherwise reach
	// the control plane's own network.
	AllowPrivateTargets bool `mapstructure:"allow_private_targets"`
}

// Secrets holds what the control plane's processes share to protect data at rest and in
// workflow histories.
type Secrets struct {
	// EncryptionKey seals secrets kept in the database or carried by workflows (device
	// broker passwords, tenant signing keys, ChirpStack tokens); api and workers need the
	// same one. At least 32 characters.
	EncryptionKey string `mapstructure:"encryption_key"`
}

type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

type Database struct {
	DSN string `mapstructure:"dsn"`
	// ListenDSN is the api's own session for change notifications (LISTEN), which a
	// transaction-pooling pooler does not give; empty: DSN. See ListenerDSN.
	ListenDSN       string        `mapstructure:"listen_dsn"`
	MaxOpenConns    int           `mapstructure:"max_open_conns"`
	MigrateOnStart  bool          `mapstructure:"migrate_on_start"`
	QueryTimeout    time.Duration `mapstructure:"query_timeout"`
	ConnMaxLifetime time.Duration `mapstructure:"conn_max_lifetime"`
}

type Cadence struct {
	FrontendHost    string        `mapstructure:"frontend_host"`
	FrontendPort    int           `mapstructure:"frontend_port"`
	DomainPrefix    string        `mapstructure:"domain_prefix"`
	DomainRetention time.Duration `mapstructure:"domain_retention"`
	TaskList        string        `mapstructure:"task_list"`
	StartupTimeout  time.Duration `mapstructure:"startup_timeout"`
	RPCTimeout      time.Duration `mapstructure:"rpc_timeout"`
	// WebURL is Cadence Web's address; when set, API answers that name a workflow link
	// to its page there (cadence_web_url).
	WebURL string `mapstructure:"web_url"`
}

// ListenerDSN is where the api listens for key and tenant changes: listen_dsn, else dsn.
func (d Database) ListenerDSN() string {
	if d.ListenDSN == "" {
		return d.DSN
	}
	return d.ListenDSN
}

// Address is host:port of the frontend's gRPC endpoint.
func (c Cadence) Address() string {
	return net.JoinHostPort(c.FrontendHost, fmt.Sprint(c.FrontendPort))
}

type HTTP struct {
	Listen          string        `mapstructure:"listen"`
	PublicURL       string        `mapstructure:"public_url"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	MaxFirmwareSize int64         `mapstructure:"max_firmware_size"`
	MaxBodySize     int64         `mapstructure:"max_body_size"`
	// WritesPerTenant bounds one tenant's state-changing requests in progress on a
	// replica; WriteWait is how long one beyond the bound waits before a 429.
	WritesPerTenant int           `mapstructure:"writes_per_tenant"`
	WriteWait       time.Duration `mapstructure:"write_wait"`
}

type Auth struct {
	AdminKey string `mapstructure:"admin_key"`
	// KeyRotationGrace is how long a rotated API key keeps working unless the rotation
	// asks for another grace (at most 30 days).
	KeyRotationGrace time.Duration `mapstructure:"key_rotation_grace"`
	// KeyCacheTTL bounds how long an authenticated key is answered from memory; changes
	// notified by the database empty the cache long before. 0: every request asks the
	// database.
	KeyCacheTTL time.Duration `mapstructure:"key_cache_ttl"`
}

type Firmware struct {
	URLSigningKey string        `mapstructure:"url_signing_key"`
	URLTTL        time.Duration `mapstructure:"url_ttl"`
}

type MQTT struct {
	Broker         string        `mapstructure:"broker"`
	ClientID       string        `mapstructure:"client_id"`
	Username       string        `mapstructure:"username"`
	Password       string        `mapstructure:"password"`
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	PublishTimeout time.Duration `mapstructure:"publish_timeout"`
	// SharedGroup names the workers' shared subscription; deployments sharing a broker
	// must differ.
	SharedGroup string `mapstructure:"shared_group"`
	// PersistentSession keeps the worker's session (and its queued QoS 1 reports) on the
	// broker while the worker restarts; it needs a stable client_id.
	PersistentSession bool `mapstructure:"persistent_session"`
	// DeviceBroker is the broker URL devices are told with their credentials.
	DeviceBroker string `mapstructure:"device_broker"`
	// RotationGrace is how long a rotated device's previous credentials keep working.
	RotationGrace time.Duration `mapstructure:"rotation_grace"`
}

// OTA holds the per-device update policy the API puts into every workflow it starts.
type OTA struct {
	HeartbeatMaxAge   time.Duration `mapstructure:"heartbeat_max_age"`
	MinBatteryPercent int           `mapstructure:"min_battery_percent"`
	StepTimeout       time.Duration `mapstructure:"step_timeout"`
	UpdateTimeout     time.Duration `mapstructure:"update_timeout"`
	RollbackTimeout   time.Duration `mapstructure:"rollback_timeout"`
	CommandTTL        time.Duration `mapstructure:"command_ttl"`
	ReadyRetryWindow  time.Duration `mapstructure:"ready_retry_window"`
	// StatusProbeAfter is the silence after which a run asks its device where it stands.
	StatusProbeAfter time.Duration `mapstructure:"status_probe_after"`
	// Soak is the default health soak after an install (0 = none); SoakMaxReboots the
	// reboots a device may take during it.
	Soak             time.Duration `mapstructure:"soak"`
	SoakMaxReboots   int           `mapstructure:"soak_max_reboots"`
	CampaignInFlight int           `mapstructure:"campaign_in_flight"`
	// ContinuousRefresh is how often a continuous campaign looks for new devices.
	ContinuousRefresh time.Duration `mapstructure:"continuous_refresh"`
	// CampaignChildrenPerRun bounds a campaign execution's history: after this many
	// device runs it continues as new.
	CampaignChildrenPerRun int `mapstructure:"campaign_children_per_run"`
	// DevicesPerRun is how many of a campaign's IP devices one workflow run updates
	// (OTA_UPDATE_GROUP); 1 gives each device a run of its own. Cadence's cost is per
	// workflow run, so this is what sets a campaign's pace (docs/scaling.md).
	DevicesPerRun int `mapstructure:"devices_per_run"`
	// LoRaWAN devices uplink rarely: one is offline only after this long a silence.
	LoRaWANMaxSilence time.Duration `mapstructure:"lorawan_max_silence"`
	// FUOTA deployments: how often ChirpStack is asked, how long a deployment and the
	// version confirmation by uplink may take, and the largest image sent.
	FUOTAPollInterval      time.Duration `mapstructure:"fuota_poll_interval"`
	FUOTADeploymentTimeout time.Duration `mapstructure:"fuota_deployment_timeout"`
	FUOTAConfirmTimeout    time.Duration `mapstructure:"fuota_confirm_timeout"`
	FUOTAMaxPayload        int64         `mapstructure:"fuota_max_payload"`
}

type Worker struct {
	TenantRefreshInterval   time.Duration `mapstructure:"tenant_refresh_interval"`
	DecisionPollers         int           `mapstructure:"decision_pollers"`
	ActivityPollers         int           `mapstructure:"activity_pollers"`
	MaxConcurrentActivities int           `mapstructure:"max_concurrent_activities"`
	HeartbeatFlushInterval  time.Duration `mapstructure:"heartbeat_flush_interval"`
	// ReportBatchWindow is how long a group run's reports are gathered into one signal
	// (0: each report is a signal of its own).
	ReportBatchWindow time.Duration `mapstructure:"report_batch_window"`
	// StickyCacheSize bounds the workflow runs kept in memory between decisions; runs
	// beyond it are rebuilt from history when they next move (memory vs. server work).
	StickyCacheSize int           `mapstructure:"sticky_cache_size"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// MonitorListen serves the worker's probes and metrics (package probe's paths).
	MonitorListen string `mapstructure:"monitor_listen"`
	// SessionTouchInterval is how often a worker records that its MQTT session is alive;
	// SessionStaleAfter how long a silent worker's session waits before another drains it.
	SessionTouchInterval time.Duration `mapstructure:"session_touch_interval"`
	SessionStaleAfter    time.Duration `mapstructure:"session_stale_after"`
}

// LoRaWAN holds how devices are kept in step with each tenant's ChirpStack.
type LoRaWAN struct {
	// ReconcileCron is the 5-field cron schedule (UTC) of every tenant's reconcile run.
	ReconcileCron string `mapstructure:"reconcile_cron"`
	// SyncRetryWindow bounds how long one step of a device operation retries an
	// unreachable ChirpStack or database before the operation compensates and fails.
	SyncRetryWindow time.Duration `mapstructure:"sync_retry_window"`
	// SyncWait is how long the API waits for a device operation or an on-demand
	// reconcile before it answers 202 with the workflow to follow.
	SyncWait time.Duration `mapstructure:"sync_wait"`
	// CallTimeout bounds each ChirpStack call a worker makes.
	CallTimeout time.Duration `mapstructure:"call_timeout"`
	// AllowLocalAddresses lets a tenant's api_address be loopback, link-local or
	// unspecified (127.0.0.1, localhost, 169.254.x.x, ::1, 0.0.0.0). Off, a tenant cannot
	// aim the workers at services on their own host or at cloud metadata endpoints; on,
	// for a ChirpStack on the same machine (development, tests).
	AllowLocalAddresses bool `mapstructure:"allow_local_addresses"`
}

func setDefaults(v *viper.Viper) {
	defaults := map[string]any{
		"log.level":  "info",
		"log.format": "json",

		"database.dsn":               "host=127.0.0.1 port=5432 user=postgres dbname=ota sslmode=disable",
		"database.listen_dsn":        "",
		"database.max_open_conns":    20,
		"database.migrate_on_start":  true,
		"database.query_timeout":     "10s",
		"database.conn_max_lifetime": "30m",

		"cadence.frontend_host":    "127.0.0.1",
		"cadence.frontend_port":    7114,
		"cadence.domain_prefix":    "ota-",
		"cadence.domain_retention": "72h",
		"cadence.task_list":        "ota-device-updates",
		"cadence.startup_timeout":  "60s",
		"cadence.rpc_timeout":      "10s",
		"cadence.web_url":          "",

		"http.listen":            "127.0.0.1:8080",
		"http.public_url":        "http://127.0.0.1:8080",
		"http.shutdown_timeout":  "15s",
		"http.max_firmware_size": 256 << 20,
		"http.max_body_size":     8 << 20,
		"http.writes_per_tenant": 8,
		"http.write_wait":        "5s",

		"auth.admin_key":          DevAdminKey,
		"auth.key_rotation_grace": "24h",
		"auth.key_cache_ttl":      "30s",

		"firmware.url_signing_key": DevSigningKey,
		"firmware.url_ttl":         "15m",

		"mqtt.broker":             "tcp://127.0.0.1:1883",
		"mqtt.client_id":          "",
		"mqtt.username":           "",
		"mqtt.password":           "",
		"mqtt.connect_timeout":    "10s",
		"mqtt.publish_timeout":    "10s",
		"mqtt.shared_group":       "ota-workers",
		"mqtt.persistent_session": true,
		"mqtt.device_broker":      "",
		"mqtt.rotation_grace":     "0s",

		"secrets.encryption_key": DevEncryptionKey,

		"webhooks.allow_private_targets": false,

		"ota.heartbeat_max_age":         "2m",
		"ota.min_battery_percent":       20,
		"ota.step_timeout":              "10m",
		"ota.update_timeout":            "2h",
		"ota.rollback_timeout":          "10m",
		"ota.command_ttl":               "24h",
		"ota.ready_retry_window":        "2m",
		"ota.status_probe_after":        "15s",
		"ota.soak":                      "0s",
		"ota.soak_max_reboots":          1,
		"ota.campaign_in_flight":        200,
		"ota.continuous_refresh":        "1m",
		"ota.campaign_children_per_run": 1000,
		"ota.devices_per_run":           50,
		"ota.lorawan_max_silence":       "25h",
		"ota.fuota_poll_interval":       "30s",
		"ota.fuota_deployment_timeout":  "6h",
		"ota.fuota_confirm_timeout":     "6h",
		"ota.fuota_max_payload":         1 << 20,

		"worker.tenant_refresh_interval":   "5s",
		"worker.decision_pollers":          8,
		"worker.activity_pollers":          8,
		"worker.max_concurrent_activities": 1000,
		"worker.heartbeat_flush_interval":  "1s",
		"worker.report_batch_window":       "50ms",
		"worker.sticky_cache_size":         1000,
		"worker.shutdown_timeout":          "30s",
		"worker.monitor_listen":            "127.0.0.1:9464",
		"worker.session_touch_interval":    "5s",
		"worker.session_stale_after":       "20s",

		"lorawan.reconcile_cron":        "0 * * * *",
		"lorawan.sync_retry_window":     "1m",
		"lorawan.sync_wait":             "20s",
		"lorawan.call_timeout":          "10s",
		"lorawan.allow_local_addresses": false,
	}
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
}

// cadenceEnv are the environment names Cadence deployments use, by key.
var cadenceEnv = map[string]string{
	"cadence.frontend_host": "CADENCE_FRONTEND_HOST",
	"cadence.frontend_port": "CADENCE_FRONTEND_PORT",
}

// Keys lists every configuration key, sorted.
func Keys() []string {
	v := viper.New()
	setDefaults(v)
	keys := v.AllKeys()
	sort.Strings(keys)
	return keys
}

// EnvName is the environment variable that sets key: database.dsn → OTA_DATABASE_DSN.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// EnvNames maps every environment variable Load reads (besides OTA_CONFIG) to its key.
func EnvNames() map[string]string {
	names := map[string]string{}
	for _, key := range Keys() {
		names[EnvName(key)] = key
	}
	for key, env := range cadenceEnv {
		names[env] = key
	}
	return names
}

// Load reads the configuration. path may be empty (defaults and environment only); when
// empty, OTA_CONFIG names the file.
func Load(path string) (*Config, error) {
	v := viper.New()
	setDefaults(v)
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// The names Cadence's own images and docs use win over the OTA_ ones.
	for key, env := range cadenceEnv {
		if err := v.BindEnv(key, env, EnvName(key)); err != nil {
			return nil, fmt.Errorf("config: bind %s: %w", key, err)
		}
	}
	if path == "" {
		path = os.Getenv("OTA_CONFIG")
	}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		}
	}
	var cfg Config
	if err := v.Unmarshal(&cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &cfg, nil
}

// KeyError names the configuration key that is wrong.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("config key %q (env %s): %s", e.Key, EnvName(e.Key), e.Reason)
}

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// ValidateCommon checks the sections every binary uses.
func (c *Config) ValidateCommon() error {
	if len(c.Secrets.EncryptionKey) < 16 {
		return keyErr("secrets.encryption_key", "must be at least 16 characters")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return keyErr("log.level", "must be one of debug, info, warn, error; got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		return keyErr("log.format", "must be json or console; got %q", c.Log.Format)
	}
	if strings.TrimSpace(c.Database.DSN) == "" {
		return keyErr("database.dsn", "must not be empty")
	}
	if c.Database.MaxOpenConns < 1 {
		return keyErr("database.max_open_conns", "must be at least 1")
	}
	if c.Database.QueryTimeout <= 0 {
		return keyErr("database.query_timeout", "must be a positive duration")
	}
	if c.Cadence.FrontendHost == "" {
		return keyErr("cadence.frontend_host", "must not be empty")
	}
	if c.Cadence.FrontendPort < 1 || c.Cadence.FrontendPort > 65535 {
		return keyErr("cadence.frontend_port", "must be between 1 and 65535; got %d", c.Cadence.FrontendPort)
	}
	if c.Cadence.DomainPrefix == "" {
		return keyErr("cadence.domain_prefix", "must not be empty")
	}
	if c.Cadence.DomainRetention < 24*time.Hour {
		return keyErr("cadence.domain_retention", "must be at least 24h (Cadence keeps whole days)")
	}
	if c.Cadence.TaskList == "" {
		return keyErr("cadence.task_list", "must not be empty")
	}
	if c.Cadence.StartupTimeout <= 0 {
		return keyErr("cadence.startup_timeout", "must be a positive duration")
	}
	if c.Cadence.RPCTimeout <= 0 {
		return keyErr("cadence.rpc_timeout", "must be a positive duration")
	}
	if len(c.Firmware.URLSigningKey) < 16 {
		return keyErr("firmware.url_signing_key", "must be at least 16 characters")
	}
	if c.Firmware.URLTTL < time.Minute {
		return keyErr("firmware.url_ttl", "must be at least 1m")
	}
	if err := c.validateOTA(); err != nil {
		return err
	}
	return c.validateLoRaWAN()
}

func (c *Config) validateLoRaWAN() error {
	l := c.LoRaWAN
	if _, err := cron.ParseStandard(l.ReconcileCron); err != nil {
		return keyErr("lorawan.reconcile_cron", "must be a 5-field cron schedule such as \"0 * * * *\": %v", err)
	}
	if l.SyncRetryWindow < time.Second || l.SyncRetryWindow > time.Hour {
		return keyErr("lorawan.sync_retry_window", "must be between 1s and 1h")
	}
	if l.SyncWait <= 0 {
		return keyErr("lorawan.sync_wait", "must be a positive duration")
	}
	if l.CallTimeout <= 0 {
		return keyErr("lorawan.call_timeout", "must be a positive duration")
	}
	return nil
}

func (c *Config) validateOTA() error {
	o := c.OTA
	// A slice, not a map: with several bad keys the same one is reported every time.
	for _, kd := range []struct {
		key string
		d   time.Duration
	}{
		{"ota.heartbeat_max_age", o.HeartbeatMaxAge},
		{"ota.step_timeout", o.StepTimeout},
		{"ota.update_timeout", o.UpdateTimeout},
		{"ota.rollback_timeout", o.RollbackTimeout},
		{"ota.command_ttl", o.CommandTTL},
		{"ota.ready_retry_window", o.ReadyRetryWindow},
		{"ota.continuous_refresh", o.ContinuousRefresh},
		{"ota.lorawan_max_silence", o.LoRaWANMaxSilence},
		{"ota.fuota_poll_interval", o.FUOTAPollInterval},
		{"ota.fuota_deployment_timeout", o.FUOTADeploymentTimeout},
		{"ota.fuota_confirm_timeout", o.FUOTAConfirmTimeout},
	} {
		if kd.d <= 0 {
			return keyErr(kd.key, "must be a positive duration")
		}
	}
	if o.StepTimeout > o.UpdateTimeout {
		return keyErr("ota.step_timeout", "must not exceed ota.update_timeout")
	}
	if o.StatusProbeAfter < time.Second || o.StatusProbeAfter > o.StepTimeout {
		return keyErr("ota.status_probe_after", "must be at least 1s and at most ota.step_timeout")
	}
	if o.Soak < 0 || o.Soak > 7*24*time.Hour {
		return keyErr("ota.soak", "must be between 0 (no soak) and 168h")
	}
	if o.SoakMaxReboots < 0 || o.SoakMaxReboots > 100 {
		return keyErr("ota.soak_max_reboots", "must be between 0 and 100")
	}
	if o.MinBatteryPercent < 0 || o.MinBatteryPercent > 100 {
		return keyErr("ota.min_battery_percent", "must be between 0 and 100")
	}
	if o.CampaignInFlight < 1 {
		return keyErr("ota.campaign_in_flight", "must be at least 1")
	}
	if o.FUOTAMaxPayload < 1 {
		return keyErr("ota.fuota_max_payload", "must be at least 1 byte")
	}
	if o.CampaignChildrenPerRun < 1 || o.CampaignChildrenPerRun > 5000 {
		return keyErr("ota.campaign_children_per_run", "must be between 1 and 5000 (Cadence history limits)")
	}
	if o.DevicesPerRun < 1 || o.DevicesPerRun > 200 {
		return keyErr("ota.devices_per_run", "must be between 1 and 200 (one run's history holds every device's steps)")
	}
	return nil
}

// ValidateAPI checks everything the api binary needs.
func (c *Config) ValidateAPI() error {
	if err := c.ValidateCommon(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		return keyErr("http.listen", "must be host:port: %v", err)
	}
	u, err := url.Parse(c.HTTP.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return keyErr("http.public_url", "must be an absolute http(s) URL; got %q", c.HTTP.PublicURL)
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		return keyErr("http.shutdown_timeout", "must be a positive duration")
	}
	if c.Cadence.WebURL != "" {
		w, err := url.Parse(c.Cadence.WebURL)
		if err != nil || (w.Scheme != "http" && w.Scheme != "https") || w.Host == "" {
			return keyErr("cadence.web_url", "must be empty or an absolute http(s) URL; got %q", c.Cadence.WebURL)
		}
	}
	if c.HTTP.MaxFirmwareSize < 1 {
		return keyErr("http.max_firmware_size", "must be at least 1 byte")
	}
	if c.HTTP.MaxBodySize < 1024 {
		return keyErr("http.max_body_size", "must be at least 1024 bytes")
	}
	if c.HTTP.WritesPerTenant < 1 {
		return keyErr("http.writes_per_tenant", "must be at least 1")
	}
	if c.HTTP.WriteWait <= 0 {
		return keyErr("http.write_wait", "must be a positive duration")
	}
	if len(c.Auth.AdminKey) < 16 {
		return keyErr("auth.admin_key", "must be at least 16 characters")
	}
	if c.Auth.KeyRotationGrace < 0 || c.Auth.KeyRotationGrace > 30*24*time.Hour {
		return keyErr("auth.key_rotation_grace", "must be from 0s to 720h")
	}
	if c.Auth.KeyCacheTTL < 0 || c.Auth.KeyCacheTTL > 5*time.Minute {
		return keyErr("auth.key_cache_ttl", "must be from 0s (no cache) to 5m")
	}
	if c.Database.ListenDSN != "" && strings.TrimSpace(c.Database.ListenDSN) == "" {
		return keyErr("database.listen_dsn", "must be empty (database.dsn is used) or a connection string")
	}
	return c.refuseDevSecrets("http.listen", c.HTTP.Listen, "auth.admin_key", "firmware.url_signing_key", "secrets.encryption_key")
}

// ValidateWorker checks everything the worker binary needs.
func (c *Config) ValidateWorker() error {
	if err := c.ValidateCommon(); err != nil {
		return err
	}
	u, err := url.Parse(c.MQTT.Broker)
	if err != nil || u.Host == "" {
		return keyErr("mqtt.broker", "must be a URL such as tcp://127.0.0.1:1883; got %q", c.MQTT.Broker)
	}
	switch u.Scheme {
	case "tcp", "ssl", "tls", "mqtt", "mqtts", "ws", "wss":
	default:
		return keyErr("mqtt.broker", "unsupported scheme %q", u.Scheme)
	}
	if c.MQTT.ConnectTimeout <= 0 {
		return keyErr("mqtt.connect_timeout", "must be a positive duration")
	}
	if c.MQTT.PublishTimeout <= 0 {
		return keyErr("mqtt.publish_timeout", "must be a positive duration")
	}
	if c.MQTT.SharedGroup == "" || strings.ContainsAny(c.MQTT.SharedGroup, "/+#") {
		return keyErr("mqtt.shared_group", "must be a non-empty name without '/', '+' or '#'")
	}
	if _, err := url.Parse(c.HTTP.PublicURL); err != nil || c.HTTP.PublicURL == "" {
		return keyErr("http.public_url", "must be the API's public URL (firmware links point there)")
	}
	w := c.Worker
	if w.TenantRefreshInterval <= 0 {
		return keyErr("worker.tenant_refresh_interval", "must be a positive duration")
	}
	if w.DecisionPollers < 1 {
		return keyErr("worker.decision_pollers", "must be at least 1")
	}
	if w.ActivityPollers < 1 {
		return keyErr("worker.activity_pollers", "must be at least 1")
	}
	if w.MaxConcurrentActivities < 1 {
		return keyErr("worker.max_concurrent_activities", "must be at least 1")
	}
	if w.StickyCacheSize < 1 {
		return keyErr("worker.sticky_cache_size", "must be at least 1")
	}
	if w.HeartbeatFlushInterval <= 0 {
		return keyErr("worker.heartbeat_flush_interval", "must be a positive duration")
	}
	if w.ReportBatchWindow < 0 || w.ReportBatchWindow > time.Second {
		return keyErr("worker.report_batch_window", "must be between 0 and 1s (it delays every report of a group)")
	}
	if w.ShutdownTimeout <= 0 {
		return keyErr("worker.shutdown_timeout", "must be a positive duration")
	}
	if w.SessionTouchInterval <= 0 {
		return keyErr("worker.session_touch_interval", "must be a positive duration")
	}
	if w.SessionStaleAfter < 2*w.SessionTouchInterval {
		return keyErr("worker.session_stale_after", "must be at least twice worker.session_touch_interval")
	}
	if c.MQTT.PersistentSession && c.MQTT.ClientID != "" && strings.ContainsAny(c.MQTT.ClientID, "/+#") {
		return keyErr("mqtt.client_id", "must not contain '/', '+' or '#'")
	}
	if err := c.MQTT.validateIdentity(); err != nil {
		return err
	}
	return c.refuseDevSecrets("worker.monitor_listen", w.MonitorListen, "firmware.url_signing_key", "secrets.encryption_key")
}

// validateIdentity: the broker authenticates every client, workers included.
func (m MQTT) validateIdentity() error {
	switch {
	case m.Username == "":
		return keyErr("mqtt.username", "must be set: the broker admits no anonymous client")
	case strings.ContainsAny(m.Username, "/+#:"):
		return keyErr("mqtt.username", "must not contain '/', '+', '#' or ':'")
	case len(m.Password) < 16:
		return keyErr("mqtt.password", "must be at least 16 characters")
	}
	return nil
}

// UsesDevSecrets reports whether built-in development secrets are in force.
func (c *Config) UsesDevSecrets() bool { return len(c.devSecretKeys()) > 0 }

// devSecretKeys lists the keys that still hold their built-in development value.
func (c *Config) devSecretKeys() []string {
	var keys []string
	for _, s := range []struct{ key, value, dev string }{
		{"auth.admin_key", c.Auth.AdminKey, DevAdminKey},
		{"firmware.url_signing_key", c.Firmware.URLSigningKey, DevSigningKey},
		{"secrets.encryption_key", c.Secrets.EncryptionKey, DevEncryptionKey},
	} {
		if s.value == s.dev {
			keys = append(keys, s.key)
		}
	}
	return keys
}

// refuseDevSecrets fails when one of the secrets a binary uses still has its development
// value on a process that listens beyond loopback: that is a deployment, and a
// deployment has its own secrets. (The worker never reads the admin key, so it need
// not be given one.)
func (c *Config) refuseDevSecrets(listenKey, listen string, used ...string) error {
	if isLoopbackListen(listen) {
		return nil
	}
	for _, key := range c.devSecretKeys() {
		if slices.Contains(used, key) {
			return keyErr(key, "the built-in development value is refused when %s (%s) is not a loopback address; "+
				"set a secret of your own", listenKey, listen)
		}
	}
	return nil
}

// isLoopbackListen reports whether a host:port only accepts local connections.
func isLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsKeyError reports whether err names a configuration key.
func IsKeyError(err error) bool {
	var ke *KeyError
	return errors.As(err, &ke)
}
