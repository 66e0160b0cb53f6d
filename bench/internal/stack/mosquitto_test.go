package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWriteBrokerConfig(t *testing.T) {
	auth := BrokerAuth{Plugin: "/p/auth.so", DatabaseDSN: "dbname=x", WorkerUsername: "w", WorkerPassword: "secret"}
	for _, tc := range []struct {
		name    string
		cfg     BrokerConfig
		want    []string
		notWant []string
	}{
		{name: "in memory", cfg: BrokerConfig{Port: 1999, Auth: auth},
			want: []string{"listener 1999 127.0.0.1", "persistence false", "log_type error", "allow_anonymous false",
				"plugin /p/auth.so", "plugin_opt_database_dsn dbname=x", "plugin_opt_worker_username w",
				"plugin_opt_worker_password_sha256 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"},
			notWant: []string{"persistence true", "autosave_interval", "connection_messages true", "secret"}},
		{name: "persistent and verbose", cfg: BrokerConfig{Port: 2000, PersistenceDir: "/tmp/x", AutosaveInterval: 2 * time.Second, Verbose: true, Auth: auth},
			want: []string{"listener 2000 127.0.0.1", "persistence true", "persistence_location /tmp/x/", "autosave_interval 2",
				"connection_messages true"},
			notWant: []string{"persistence false"}},
		{name: "autosave at least a second", cfg: BrokerConfig{Port: 2001, PersistenceDir: "/tmp/y/", Auth: auth},
			want: []string{"persistence_location /tmp/y/", "autosave_interval 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mosquitto.conf")
			if err := WriteBrokerConfig(path, tc.cfg); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(raw), "\n")
			for _, l := range tc.want {
				if !slices.Contains(lines, l) {
					t.Errorf("missing %q in:\n%s", l, raw)
				}
			}
			for _, l := range tc.notWant {
				if strings.Contains(string(raw), l) {
					t.Errorf("unexpected %q in:\n%s", l, raw)
				}
			}
		})
	}
}

func TestWriteBrokerConfigRefusesAnonymous(t *testing.T) {
	if err := WriteBrokerConfig(filepath.Join(t.TempDir(), "m.conf"), BrokerConfig{Port: 1}); err == nil {
		t.Fatal("a broker without the authentication plugin was configured")
	}
}
