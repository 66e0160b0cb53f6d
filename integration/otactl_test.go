package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otactlBinary is built once per run, as an operator would install it.
var otactlBinary struct {
	once sync.Once
	path string
	err  error
}

func buildOtactl(t *testing.T) string {
	t.Helper()
	otactlBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "otactl-")
		if err != nil {
			otactlBinary.err = err
			return
		}
		otactlBinary.path = filepath.Join(dir, "otactl")
		out, err := exec.Command("go", "build", "-o", otactlBinary.path, "github.com/otaplane/ota/otactl/cmd/otactl").CombinedOutput()
		if err != nil {
			otactlBinary.err = errors.New("go build otactl: " + err.Error() + "\n" + string(out))
		}
	})
	require.NoError(t, otactlBinary.err)
	return otactlBinary.path
}

// otactl runs the built tool for a tenant, configured through the environment.
type otactl struct {
	t    *testing.T
	bin  string
	env  []string
	home string
}

func newOtactl(t *testing.T, key string) otactl {
	home := t.TempDir()
	return otactl{t: t, bin: buildOtactl(t), home: home, env: []string{
		"OTA_API_URL=" + apiURL, "OTA_API_KEY=" + key, "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PATH=" + os.Getenv("PATH"),
	}}
}

type otactlResult struct {
	code           int
	stdout, stderr string
}

func (o otactl) run(args ...string) otactlResult {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, args...)
	cmd.Env = o.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(o.t, err)
	}
	return otactlResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs args, which must succeed, and returns stdout.
func (o otactl) ok(args ...string) string {
	o.t.Helper()
	r := o.run(args...)
	require.Equalf(o.t, 0, r.code, "otactl %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.stdout, r.stderr)
	return r.stdout
}

// json runs args with -o json and decodes the answer.
func (o otactl) json(out any, args ...string) {
	o.t.Helper()
	raw := o.ok(append(args, "-o", "json")...)
	require.NoErrorf(o.t, json.Unmarshal([]byte(raw), out), "otactl %s: %s", strings.Join(args, " "), raw)
}

func TestOtactlTenantAndErrors(t *testing.T) {
	o := newOtactl(t, "")
	o.env = append(o.env, "OTA_ADMIN_KEY="+adminKey)
	var created struct {
		Tenant struct {
			ID string `json:"id"`
		} `json:"tenant"`
		APIKey string `json:"api_key"`
	}
	o.json(&created, "tenant", "create", "otactl-"+time.Now().Format("150405.000000"))
	require.NotEmpty(t, created.APIKey)

	// The same settings from a config file instead of the environment.
	cfgDir := filepath.Join(o.home, ".config", "otactl")
	require.NoError(t, os.MkdirAll(cfgDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.yaml"),
		[]byte("api_url: "+apiURL+"\napi_key: "+created.APIKey+"\n"), 0o600))
	fromFile := otactl{t: t, bin: o.bin, home: o.home, env: []string{"HOME=" + o.home,
		"XDG_CONFIG_HOME=" + filepath.Join(o.home, ".config"), "PATH=" + os.Getenv("PATH")}}
	assert.Contains(t, fromFile.ok("tenant", "show"), created.Tenant.ID)

	// The API's refusal is shown with its field, and the exit code says the call failed.
	bad := fromFile.run("campaign", "create", "--name", "x", "--firmware", "not-a-uuid", "--device", "a")
	assert.Equal(t, 2, bad.code, "stderr: %s", bad.stderr)
	assert.Contains(t, bad.stderr, "firmware_id")
	// Usage errors are told apart.
	assert.Equal(t, 64, fromFile.run("campaign", "get").code)
	assert.Equal(t, 64, fromFile.run("device", "list", "-o", "yaml").code)
	noKey := newOtactl(t, "").run("device", "list")
	assert.Equal(t, 64, noKey.code)
	assert.Contains(t, noKey.stderr, "OTA_API_KEY")
}

func TestOtactlFleetAndCampaign(t *testing.T) {
	tn := newTenant(t)
	o := newOtactl(t, tn.key)

	// Devices: two from the simulated fleet (registered with credentials by the harness),
	// more imported from CSV, labels changed in bulk.
	fleet := specs("cli", 2, "board-cli", "1.0.0")
	tn.createDevices(fleet)
	sim := tn.startFleet(fleet)
	csv := filepath.Join(t.TempDir(), "devices.csv")
	require.NoError(t, os.WriteFile(csv, []byte("id,hardware_model,firmware_version,labels\n"+
		"cli-imp-1,board-cli,1.0.0,site=lab\ncli-imp-2,board-cli,1.0.0,site=lab\n"), 0o600))
	assert.Contains(t, o.ok("device", "import", csv), "imported 2 devices")
	assert.Contains(t, o.ok("device", "label", "cli-001", "cli-002", "--set", "ring=canary"), "updated 2 devices")
	var listed struct {
		Devices []struct {
			ID     string            `json:"id"`
			Labels map[string]string `json:"labels"`
		} `json:"devices"`
	}
	o.json(&listed, "device", "list")
	require.Len(t, listed.Devices, 4)
	assert.Equal(t, "canary", listed.Devices[0].Labels["ring"])
	table := o.ok("device", "list")
	assert.Contains(t, table, "cli-imp-2")
	assert.Contains(t, table, "ring=canary")

	// A dynamic group over the canary ring.
	var g struct {
		ID          string `json:"id"`
		MemberCount int    `json:"member_count"`
	}
	o.json(&g, "group", "create", "canaries", "--selector", "ring=canary")
	assert.Equal(t, 2, g.MemberCount)

	// Firmware: the sha256 shown is the file's.
	img := image(3000)
	sum := sha256.Sum256(img)
	path := filepath.Join(t.TempDir(), "fw.bin")
	require.NoError(t, os.WriteFile(path, img, 0o600))
	refused := o.run("firmware", "upload", path, "--version", "1.1.0", "--model", "board-cli", "--sha256", strings.Repeat("0", 64))
	assert.Equal(t, 2, refused.code, "a file that is not the expected one is not uploaded: %s", refused.stderr)
	up := o.ok("firmware", "upload", path, "--version", "1.1.0", "--model", "board-cli", "--sha256", hex.EncodeToString(sum[:]))
	assert.Contains(t, up, hex.EncodeToString(sum[:]))
	var fws struct {
		Firmware []struct {
			ID string `json:"id"`
		} `json:"firmware"`
	}
	o.json(&fws, "firmware", "list")
	require.Len(t, fws.Firmware, 1)
	fwID := fws.Firmware[0].ID

	// A campaign from a YAML file over the group, dry-run as a table, executed and watched
	// to the end in plain (non-terminal) output.
	spec := filepath.Join(t.TempDir(), "campaign.yaml")
	require.NoError(t, os.WriteFile(spec, []byte("name: canary 1.1.0\nfirmware_id: "+fwID+"\ngroup_id: "+g.ID+
		"\nrollout:\n  waves: [{count: 1}, {percent: 100}]\n  max_in_flight: 2\n"), 0o600))
	campID := strings.TrimSpace(o.ok("campaign", "create", "-f", spec, "-q"))
	require.Len(t, campID, 36, "-q prints the id alone")
	dry := o.ok("campaign", "dry-run", campID)
	assert.Contains(t, dry, "WAVE")
	assert.Contains(t, dry, "2 eligible")
	watched := o.run("campaign", "execute", campID, "--watch", "--interval", "200ms", "--timeout", "2m")
	require.Equalf(t, 0, watched.code, "stdout: %s\nstderr: %s", watched.stdout, watched.stderr)
	assert.Contains(t, watched.stdout, "completed: COMPLETED")
	assert.Contains(t, watched.stdout, "SUCCEEDED 2")
	assert.NotContains(t, watched.stdout, "\x1b[", "no terminal: no redraws")

	// Device state and history.
	state := o.ok("device", "state", "cli-001")
	assert.Contains(t, state, "SUCCEEDED")
	assert.Contains(t, state, "INSTALLING")
	assert.Contains(t, o.ok("device", "history", "cli-002"), "1.0.0")
	devs := o.ok("campaign", "devices", campID)
	assert.Contains(t, devs, "cli-001")

	for _, id := range ids(fleet) {
		d, ok := sim.Device(id)
		require.True(t, ok)
		assert.Equal(t, "1.1.0", d.FirmwareVersion, "device %s runs the new image", id)
	}

	// A single-device update, followed to its end.
	next := filepath.Join(t.TempDir(), "fw2.bin")
	require.NoError(t, os.WriteFile(next, image(2500), 0o600))
	var fw2 struct {
		ID string `json:"id"`
	}
	o.json(&fw2, "firmware", "upload", next, "--version", "1.2.0", "--model", "board-cli")
	updated := o.run("update", "cli-001", "--firmware", fw2.ID, "--watch", "--interval", "200ms", "--timeout", "2m")
	require.Equalf(t, 0, updated.code, "stdout: %s\nstderr: %s", updated.stdout, updated.stderr)
	assert.Contains(t, updated.stdout, "DOWNLOADING")
	assert.Contains(t, updated.stdout, "device cli-001: SUCCEEDED")
}

// TestOtactlWatchInATerminal watches a campaign in a pseudo-terminal: the view is
// redrawn in place with a bar per wave, and a campaign that does not complete (canceled
// here) ends the watch with exit code 1.
func TestOtactlWatchInATerminal(t *testing.T) {
	tn := newTenant(t)
	fleet := specs("tty", 4, "board-tty", "1.0.0")
	tn.createDevices(fleet)
	tn.startFleetWith(fleet, 700*time.Millisecond)
	fw := tn.uploadFirmware("1.1.0", "board-tty", image(2000))
	camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns", map[string]any{
		"name": "tty", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"waves": []map[string]any{{"count": 1}, {"percent": 100}}, "gate": map[string]any{"mode": "manual"}}})
	id := camp["id"].(string)
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)

	o := newOtactl(t, tn.key)
	cmd := exec.Command(o.bin, "campaign", "watch", id, "--interval", "200ms", "--timeout", "2m")
	cmd.Env = append(o.env, "TERM=xterm")
	tty, err := pty.Start(cmd)
	require.NoError(t, err)
	defer tty.Close()
	var screen syncBuffer
	go func() { _, _ = io.Copy(&screen, tty) }()

	// The first wave (numbered 0, as the API numbers them) finishes and the campaign
	// waits at the manual gate: the view says so.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		s := screen.String()
		if strings.Contains(s, "WAITING_APPROVAL") && strings.Contains(s, "wave 1 [") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the view never showed the gate and the second wave: %q", s)
		}
	}
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/cancel", map[string]any{"reason": "seen enough"})

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("watch did not end; view: %q", screen.String())
	}
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode(), "a canceled campaign fails the watch")
	s := screen.String()
	assert.Contains(t, s, "\x1b[", "the view is redrawn in place")
	assert.Contains(t, s, "wave 0 [####")
	assert.Contains(t, s, "did not complete: CANCELED")
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOtactlLoRaWANAndSigningKeys(t *testing.T) {
	tn := newTenant(t)
	app := tn.setupLoRaWAN()
	o := newOtactl(t, tn.key)

	settings := o.ok("lorawan", "settings")
	assert.Contains(t, settings, app.ApplicationID)
	assert.Contains(t, settings, "api token set:      true")
	eui := newEUI()
	created := o.ok("lorawan", "create", "cli-lora-1", "--dev-eui", eui, "--join-eui", "0000000000000000",
		"--app-key", testAppKey, "--profile", app.ProfileID, "--model", "lora-board", "--version", "1.0.0", "-l", "site=north")
	assert.Contains(t, created, eui)
	assert.Contains(t, o.ok("lorawan", "list"), "cli-lora-1")
	report := o.ok("lorawan", "reconcile", "--report-only")
	assert.Contains(t, report, "missing in ChirpStack:  0")
	assert.Contains(t, o.ok("lorawan", "delete", "cli-lora-1"), "deleted cli-lora-1")

	// The tenant's keys, and the trust set devices pin, printed as the API gives it.
	keys := o.ok("signing-key", "list")
	assert.Contains(t, keys, "release")
	assert.Contains(t, keys, "command")
	var trust struct {
		TenantID string `json:"tenant_id"`
		Keys     []any  `json:"keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(o.ok("signing-key", "trust")), &trust))
	assert.Equal(t, tn.ID, trust.TenantID)
	assert.Len(t, trust.Keys, 2)
	o.ok("signing-key", "add", "command")
	assert.Equal(t, 2, strings.Count(o.ok("signing-key", "list"), " command "), "the rotated command key stays listed, retired")
}

// TestOtactlAccessAuditAndWebhooks: keys by role, the audit trail with its actor, four
// eyes, and a webhook endpoint with its deliveries, all through otactl.
func TestOtactlAccessAuditAndWebhooks(t *testing.T) {
	tn := newTenant(t)
	admin := newOtactl(t, tn.key)
	var op struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	admin.json(&op, "key", "create", "ci-pipeline", "--role", "operator")
	require.NotEmpty(t, op.Secret)
	operator := newOtactl(t, op.Secret)
	assert.Contains(t, operator.ok("tenant", "show"), "operator")
	refused := operator.run("key", "list")
	assert.Equal(t, 2, refused.code, "an operator key cannot manage keys: %s", refused.stderr)
	assert.Contains(t, refused.stderr, "403")

	keys := admin.ok("key", "list")
	assert.Contains(t, keys, "ci-pipeline")
	assert.Contains(t, keys, "active")
	var rotated struct {
		Key struct {
			Secret string `json:"secret"`
		} `json:"key"`
		Previous struct {
			State string `json:"state"`
		} `json:"previous"`
	}
	admin.json(&rotated, "key", "rotate", op.ID, "--grace", "0s")
	assert.Equal(t, 2, operator.run("tenant", "show").code, "the old secret ends with no grace")
	assert.Contains(t, newOtactl(t, rotated.Key.Secret).ok("tenant", "show"), "ci-pipeline")

	assert.Contains(t, admin.ok("settings", "set", "--four-eyes=true"), "true")
	assert.Contains(t, admin.ok("settings"), "four eyes:  true")

	audit := admin.ok("audit", "--action", "key.create")
	assert.Contains(t, audit, "key.create")
	assert.Contains(t, audit, op.ID, "the new key is the entry's target")
	var trail struct {
		Entries []struct {
			Action    string `json:"action"`
			ActorName string `json:"actor_name"`
		} `json:"entries"`
	}
	admin.json(&trail, "audit", "--since", "1h")
	var actions []string
	for _, e := range trail.Entries {
		actions = append(actions, e.Action)
	}
	assert.Subset(t, actions, []string{"key.create", "key.rotate", "settings.update"})

	receiver := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = receiver.Serve(l) }()
	t.Cleanup(func() { _ = receiver.Close() })
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	admin.json(&hook, "webhook", "create", "http://"+l.Addr().String()+"/hooks", "--event", "campaign.state_changed,campaign.aborted")
	assert.True(t, strings.HasPrefix(hook.Secret, "whsec_"), "secret %q", hook.Secret)
	assert.Contains(t, admin.ok("webhook", "list"), "campaign.aborted")
	assert.Contains(t, admin.ok("webhook", "update", hook.ID, "--enabled=false"), "false")
	admin.ok("webhook", "deliveries", hook.ID)
	assert.Contains(t, admin.ok("webhook", "delete", hook.ID), "deleted webhook")
}
