package config

import (
	"os"
	"strings"
	"testing"
)

// TestMain runs the tests without the caller's configuration environment (make test
// exports OTA_* for the integration stack), so the defaults are what they assert.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") || strings.HasPrefix(name, "CADENCE_") {
			_ = os.Unsetenv(name)
		}
	}
	os.Exit(m.Run())
}
