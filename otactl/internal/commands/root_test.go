package commands

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

// run executes otactl in-process with a clean environment and config directory.
func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	for _, k := range []string{"OTA_API_URL", "OTA_API_KEY", "OTA_ADMIN_KEY", "OTA_OUTPUT"} {
		t.Setenv(k, env[k])
	}
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, &out, &errOut, false)
	return code, out.String(), errOut.String()
}

func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "otactl.yaml")
	if err := os.WriteFile(file, []byte("api_url: http://from-file:1\napi_key: file-key-123456\noutput: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"defaults", nil, nil, []string{"http://127.0.0.1:8080", "api_key:", "(none)", "output:", "table"}},
		{"file", nil, []string{"--config", file}, []string{"http://from-file:1", "file-k…", "json", file}},
		{"environment over file", map[string]string{"OTA_API_URL": "http://from-env:2", "OTA_API_KEY": "env-key-abcdef"},
			[]string{"--config", file}, []string{"http://from-env:2", "env-ke…"}},
		{"flags over environment", map[string]string{"OTA_API_URL": "http://from-env:2"},
			[]string{"--config", file, "--api-url", "http://from-flag:3", "-o", "table"}, []string{"http://from-flag:3", "table"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.env, append([]string{"config"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("config output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestUsageErrorsExit64(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		say  string
	}{
		{"no key", nil, []string{"device", "list"}, "OTA_API_KEY"},
		{"no admin key", nil, []string{"tenant", "create", "x"}, "OTA_ADMIN_KEY"},
		{"bad output", nil, []string{"device", "list", "-o", "yaml"}, "--output"},
		{"missing argument", map[string]string{"OTA_API_KEY": "k"}, []string{"campaign", "get"}, "arg"},
		{"unknown command", nil, []string{"fly"}, "unknown command"},
		{"bad API URL", map[string]string{"OTA_API_KEY": "k", "OTA_API_URL": "ftp://x"}, []string{"device", "list"}, "http"},
		{"explicit config file missing", nil, []string{"config", "--config", "/nonexistent/otactl.yaml"}, "config file"},
		{"bad label", map[string]string{"OTA_API_KEY": "k"}, []string{"device", "create", "d1", "--model", "m", "-l", "novalue"}, "key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.env, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d; want %d (stderr %q)", code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, tt.say) {
				t.Errorf("stderr %q does not say %q", errOut, tt.say)
			}
		})
	}
}

// Every command that calls the API names an operation the API describes.
func TestCommandsCallDescribedOperations(t *testing.T) {
	src, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	c, err := newTestClient()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range src {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range opNames(string(b)) {
			found++
			if !c.Describes(op) {
				t.Errorf("%s calls %s, which the API's description does not have", f, op)
			}
		}
	}
	if found < 30 {
		t.Errorf("found %d operation names; the scan is broken", found)
	}
}

var opLiteral = regexp.MustCompile(`(?i)\bop: "(\w+)"`)

func opNames(src string) []string {
	var out []string
	for _, m := range opLiteral.FindAllStringSubmatch(src, -1) {
		out = append(out, m[1])
	}
	return out
}

func newTestClient() (*apiclient.Client, error) { return apiclient.New("http://127.0.0.1:1", "") }
