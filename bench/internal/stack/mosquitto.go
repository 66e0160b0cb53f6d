package stack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// BrokerConfig is everything a private Mosquitto is configured with. WriteBrokerConfig
// is the one place that turns it into mosquitto.conf, so a new broker feature (such as
// per-device authentication) is a new field here and a few lines there.
type BrokerConfig struct {
	Port int
	// PersistenceDir keeps sessions, their subscriptions and queued QoS 1 messages on
	// disk across restarts; empty keeps them in memory only.
	PersistenceDir string
	// AutosaveInterval is how often the broker writes its state to PersistenceDir
	// (whole seconds): a broker killed with SIGKILL loses what changed since.
	AutosaveInterval time.Duration
	// Verbose adds notices, connections and disconnections to the log, for runs whose
	// logs are read to explain a fault.
	Verbose bool
	// Auth is the control plane's authentication plugin: no anonymous client, each
	// device with its own credentials from DatabaseDSN, the workers with theirs.
	Auth BrokerAuth
}

// BrokerAuth configures the authentication plugin (bin/ota-mosquitto-auth.so).
type BrokerAuth struct {
	Plugin         string
	DatabaseDSN    string
	WorkerUsername string
	WorkerPassword string
}

// NewBrokerAuth is the plugin built by `scripts/broker.sh build`, reading devices from
// the app database, with a random worker credential.
func (r Repo) NewBrokerAuth(appDB string) BrokerAuth {
	return BrokerAuth{Plugin: r.path("bin", "ota-mosquitto-auth.so"), DatabaseDSN: DSN(appDB),
		WorkerUsername: "ota-worker", WorkerPassword: randomSecret()}
}

// WorkerEnv is the environment a worker connects to the broker with.
func (a BrokerAuth) WorkerEnv() []string {
	return []string{"OTA_MQTT_USERNAME=" + a.WorkerUsername, "OTA_MQTT_PASSWORD=" + a.WorkerPassword}
}

// WriteBrokerConfig writes c as a mosquitto.conf at path. The listener is on loopback
// only: the broker is the benchmark's, never the machine's.
func WriteBrokerConfig(path string, c BrokerConfig) error {
	if c.Auth.Plugin == "" {
		return fmt.Errorf("mosquitto config: no authentication plugin: the broker admits no anonymous client")
	}
	sum := sha256.Sum256([]byte(c.Auth.WorkerPassword))
	lines := []string{
		"per_listener_settings false",
		fmt.Sprintf("listener %d 127.0.0.1", c.Port),
		"allow_anonymous false",
		"plugin " + c.Auth.Plugin,
		"plugin_opt_database_dsn " + c.Auth.DatabaseDSN,
		"plugin_opt_worker_username " + c.Auth.WorkerUsername,
		"plugin_opt_worker_password_sha256 " + hex.EncodeToString(sum[:]),
		// A worker takes this many unacknowledged reports at once.
		"max_inflight_messages 100",
		"max_queued_messages 10000",
	}
	if c.PersistenceDir != "" {
		secs := max(1, int(c.AutosaveInterval.Round(time.Second)/time.Second))
		lines = append(lines,
			"persistence true",
			// Mosquitto wants the trailing slash on a directory.
			"persistence_location "+strings.TrimSuffix(c.PersistenceDir, "/")+"/",
			fmt.Sprintf("autosave_interval %d", secs))
		// Started as root, Mosquitto switches to the user "mosquitto", which could not
		// write our persistence directory; naming the current user keeps it (the
		// option does nothing for other users).
		if u, err := user.Current(); err == nil {
			lines = append(lines, "user "+u.Username)
		}
	} else {
		lines = append(lines, "persistence false")
	}
	lines = append(lines, "log_dest stdout", "log_timestamp_format %Y-%m-%dT%H:%M:%S", "log_type error", "log_type warning")
	if c.Verbose {
		lines = append(lines, "log_type notice", "log_type information", "connection_messages true")
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// Broker is a private Mosquitto. The workers' shared subscription group is the same on
// every broker, so on the machine's shared Mosquitto any other worker (an integration
// test, `make run`) would receive part of the benchmark's device reports and
// heartbeats, and the benchmark part of theirs.
type Broker struct {
	Config BrokerConfig
	proc   *Proc
}

// StartBroker writes the configuration into dir, starts Mosquitto with its log in dir
// and waits until it accepts connections.
func StartBroker(ctx context.Context, c BrokerConfig, dir string) (*Broker, error) {
	path, err := mosquittoPath()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := WriteBrokerConfig(conf, c); err != nil {
		return nil, fmt.Errorf("mosquitto config: %w", err)
	}
	p, err := StartProc("mosquitto", path, []string{"-c", conf}, nil, filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		return nil, err
	}
	b := &Broker{Config: c, proc: p}
	if err := b.waitListening(ctx); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	return b, nil
}

func mosquittoPath() (string, error) {
	path, err := exec.LookPath("mosquitto")
	if err == nil {
		return path, nil
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, serr := os.Stat(p); serr == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("mosquitto not found (scripts/services.sh installs it): %w", err)
}

func (b *Broker) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.Config.Port) }

// URL is what MQTT clients connect to.
func (b *Broker) URL() string { return "tcp://" + b.addr() }

// Proc is the running broker process.
func (b *Broker) Proc() *Proc { return b.proc }

// Alive fails if the broker process has gone away.
func (b *Broker) Alive() error { return b.proc.Alive() }

// Kill ends the broker with SIGKILL: no last save, connections dropped without a word.
func (b *Broker) Kill() error { return b.proc.Kill() }

// Restart starts the broker again with the same configuration, port and persistence
// directory, and waits until it accepts connections.
func (b *Broker) Restart(ctx context.Context) error {
	p, err := b.proc.Respawn()
	if err != nil {
		return err
	}
	b.proc = p
	return b.waitListening(ctx)
}

// Stop stops the broker (SIGTERM, then SIGKILL after grace).
func (b *Broker) Stop(grace time.Duration) error { return b.proc.Stop(grace) }

func (b *Broker) waitListening(ctx context.Context) error {
	return WaitTCP(ctx, b.addr(), 10*time.Second, b.proc.Alive)
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
