package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/api/httpapi"
	"github.com/otaplane/ota/pkg/probe"
)

// newKey creates a key of role in tn's tenant (tn's key is its first, an admin).
func (tn tenant) newKey(name, role string) client {
	tn.t.Helper()
	body := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/keys", map[string]any{"name": name, "role": role})
	return client{t: tn.t, key: body["secret"].(string)}
}

func (c client) keyID() string {
	c.t.Helper()
	return c.mustDo(http.StatusOK, http.MethodGet, "/api/v1/tenant", nil)["key"].(map[string]any)["id"].(string)
}

// TestViewerIsRefusedEveryWriteRoute walks the role table: a viewer key gets 403 on
// every route that changes state, and the refusal is audited.
func TestViewerIsRefusedEveryWriteRoute(t *testing.T) {
	tn := newTenant(t)
	viewer := tn.newKey("viewer", "viewer")
	writes := 0
	for _, r := range httpapi.RoleTable() {
		if r.Role == "" || r.Action == "" {
			continue
		}
		writes++
		path := strings.ReplaceAll(r.Path, ":id", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")
		got := viewer.do(r.Method, path, map[string]any{})
		assert.Equalf(t, http.StatusForbidden, got.Status, "%s %s: %s", r.Method, r.Path, got.Raw)
		assert.Equalf(t, "role", got.Body["rule"], "%s %s", r.Method, r.Path)
	}
	require.Greater(t, writes, 25, "the role table lists the write routes")
	audit := viewer.mustDo(http.StatusOK, http.MethodGet, "/api/v1/audit?limit=1000&actor="+viewer.keyID(), nil)
	assert.Len(t, audit["entries"], writes, "every refusal is in the audit log")
}

func TestRotatedKeyWorksUntilItsGraceEnds(t *testing.T) {
	tn := newTenant(t)
	old := tn.newKey("ci", "operator")
	rotated := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/keys/"+old.keyID()+"/rotate", map[string]any{"grace": "2s"})
	next := client{t: t, key: rotated["key"].(map[string]any)["secret"].(string)}
	old.mustDo(http.StatusOK, http.MethodGet, "/api/v1/tenant", nil)
	next.mustDo(http.StatusOK, http.MethodGet, "/api/v1/tenant", nil)
	require.Eventually(t, func() bool {
		return old.do(http.MethodGet, "/api/v1/tenant", nil).Status == http.StatusUnauthorized
	}, 10*time.Second, 200*time.Millisecond, "the rotated key stops working when its grace ends")
	next.mustDo(http.StatusOK, http.MethodGet, "/api/v1/tenant", nil)
}

// TestRevokedKeyFailsOnEveryReplica revokes a key through one API process and finds it
// refused at once by that one (it empties its own key cache) and, as soon as the
// database's notification arrives, by another.
func TestRevokedKeyFailsOnEveryReplica(t *testing.T) {
	second := startAPIProcess(t)
	tn := newTenant(t)
	victim := tn.newKey("soon revoked", "viewer")
	id := victim.keyID()
	for _, base := range []string{apiURL, second} {
		// The revocation must reach replicas that answer the key from their caches, or
		// this would test only the database lookup.
		require.Eventually(t, func() bool { serving, _ := keyCacheState(t, base); return serving },
			10*time.Second, 50*time.Millisecond, "%s: key cache serving", base)
		assert.Equal(t, http.StatusOK, getTenantAt(t, base, victim.key))
		_, before := keyCacheState(t, base)
		assert.Equal(t, http.StatusOK, getTenantAt(t, base, victim.key))
		_, after := keyCacheState(t, base)
		assert.Greater(t, after, before, "%s answered the key from its cache", base)
	}
	tn.mustDo(http.StatusOK, http.MethodDelete, "/api/v1/keys/"+id, nil)
	assert.Equal(t, http.StatusUnauthorized, getTenantAt(t, apiURL, victim.key), "the revoking replica")
	// A correctness wait for the notification, not a measure of its speed.
	assert.Eventually(t, func() bool {
		return getTenantAt(t, second, victim.key) == http.StatusUnauthorized
	}, 5*time.Second, 10*time.Millisecond, "the other replica")
}

// keyCacheState reads an API process's key cache from its metrics: whether it serves,
// and how many keys it has answered.
func keyCacheState(t *testing.T, base string) (serving bool, hits float64) {
	t.Helper()
	resp, err := http.Get(base + probe.MetricsPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.Lines(string(body)) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "ota_key_cache_serving":
			serving = v == 1
		case "ota_key_cache_hits_total":
			hits = v
		}
	}
	return serving, hits
}

func getTenantAt(t *testing.T, base, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/tenant", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// startAPIProcess runs another ota-api, a second replica on the same database and
// Cadence, until the test ends.
func startAPIProcess(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ota-api")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/otaplane/ota/api/cmd/ota-api").CombinedOutput(); err != nil {
		t.Fatalf("build api: %v\n%s", err, out)
	}
	port, err := freePort()
	require.NoError(t, err)
	cfgPath, err := filepath.Abs("../configs/test.yaml")
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "OTA_CONFIG="+cfgPath, "OTA_DATABASE_DSN="+cfg.Database.DSN,
		"OTA_HTTP_LISTEN="+addr, "OTA_HTTP_PUBLIC_URL=http://"+addr, "OTA_AUTH_ADMIN_KEY="+cfg.Auth.AdminKey,
		"OTA_FIRMWARE_URL_SIGNING_KEY="+cfg.Firmware.URLSigningKey)
	logFile, err := os.Create(filepath.Join(dir, "api.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logFile.Close()
	})
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "second api did not start")
	return base
}

// TestFourEyesAndTheAuditTrail: with four eyes on, the campaign's creator can neither
// execute nor approve it; a second operator can. Every write is in the audit log under
// the key that made it, and the workflow's own state changes under its run.
func TestFourEyesAndTheAuditTrail(t *testing.T) {
	tn := newTenant(t)
	author, reviewer := tn.newKey("author", "operator"), tn.newKey("reviewer", "operator")
	authorID, reviewerID := author.keyID(), reviewer.keyID()
	tn.mustDo(http.StatusOK, http.MethodPut, "/api/v1/settings", map[string]any{"four_eyes": true})

	author.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices",
		map[string]any{"id": "fe-1", "hardware_model": "board-fe", "firmware_version": "1.0.0"})
	fw := tenant{client: author, ID: tn.ID}.uploadFirmware("1.1.0", "board-fe", image(1))
	camp := author.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns", map[string]any{
		"name": "four eyes", "firmware_id": fw["id"], "device_ids": []string{"fe-1"}})
	id := camp["id"].(string)

	for _, action := range []string{"execute", "approve"} {
		got := author.do(http.MethodPost, "/api/v1/ota/campaigns/"+id+"/"+action, nil)
		require.Equalf(t, http.StatusForbidden, got.Status, "%s: %s", action, got.Raw)
		assert.Equal(t, "four_eyes", got.Body["rule"])
	}
	reviewer.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	reviewer.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/cancel", map[string]any{"reason": "test over"})

	entries := func(query string) []map[string]any {
		body := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/audit?limit=1000&"+query, nil)
		var out []map[string]any
		for _, e := range body["entries"].([]any) {
			out = append(out, e.(map[string]any))
		}
		return out
	}
	type row struct{ actor, action, result string }
	var trail []row
	for _, e := range entries("target=" + id) {
		actor, _ := e["actor_key_id"].(string)
		if actor == "" {
			actor = "workflow"
			assert.NotEmpty(t, e["workflow_id"])
			assert.NotEmpty(t, e["run_id"])
		}
		trail = append(trail, row{actor, e["action"].(string), e["result"].(string)})
	}
	assert.Contains(t, trail, row{authorID, "campaign.create", "succeeded"})
	assert.Contains(t, trail, row{authorID, "campaign.execute", "refused"})
	assert.Contains(t, trail, row{authorID, "campaign.approve", "refused"})
	assert.Contains(t, trail, row{reviewerID, "campaign.execute", "succeeded"})
	assert.Contains(t, trail, row{reviewerID, "campaign.cancel", "succeeded"})
	require.Eventually(t, func() bool {
		for _, e := range entries("action=campaign.state_changed&target=" + id) {
			if e["workflow_id"] != "" && strings.Contains(string(mustJSON(t, e["summary"])), `"to":"CANCELED"`) {
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "the workflow's cancel is audited under its run")
	assert.NotEmpty(t, entries("action=device.create&actor="+authorID))
	assert.NotEmpty(t, entries("action=firmware.upload&actor="+authorID))
	assert.NotEmpty(t, entries("action=settings.update&actor="+tn.keyID()))
	assert.Len(t, entries("action=key.create"), 2)
}
