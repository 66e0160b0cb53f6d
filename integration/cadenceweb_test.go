package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/simulator/devicesim"
)

// runPage is the Cadence Web page of one workflow run, as the API must link it.
func runPage(domain, workflowID, runID, tab string) string {
	return fmt.Sprintf("%s/domains/%s/workflows/%s/%s/%s", strings.TrimRight(cfg.Cadence.WebURL, "/"),
		domain, url.PathEscape(workflowID), runID, tab)
}

// Every answer naming a workflow links to it in Cadence Web; then, when Cadence Web runs
// beside the dev server (scripts/test.sh starts it), a headless Chromium finds the
// device run's history there.
func TestAnswersLinkToCadenceWeb(t *testing.T) {
	require.NotEmpty(t, cfg.Cadence.WebURL, "the harness configures cadence.web_url")
	tn := newTenant(t)
	domain := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/tenant", nil)["cadence_domain"].(string)
	fleet := specs("web", 2, "board-w", "1.0.0")
	fleet[1].Behavior = devicesim.BehaviorSilent // keeps its single update running
	tn.createDevices(fleet)
	tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-w", image(2000))

	single := tn.mustDo(http.StatusAccepted, http.MethodPut, "/api/v1/devices/"+fleet[1].ID+"/ota/update",
		map[string]any{"firmware_id": fw["id"]})
	assert.Equal(t, runPage(domain, single["workflow_id"].(string), single["run_id"].(string), "summary"),
		single["cadence_web_url"])
	busy := tn.do(http.MethodPut, "/api/v1/devices/"+fleet[1].ID+"/ota/update", map[string]any{"firmware_id": fw["id"]})
	require.Equal(t, http.StatusConflict, busy.Status, "%s", busy.Raw)
	assert.Equal(t, single["cadence_web_url"], busy.Body["cadence_web_url"], "the 409 links the running update")

	camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns",
		map[string]any{"name": "web", "firmware_id": fw["id"], "device_ids": []string{fleet[0].ID}})
	campaignID := camp["id"].(string)
	exec := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+campaignID+"/execute", nil)
	assert.Equal(t, otaflow.CampaignWorkflowID(campaignID), exec["workflow_id"])
	assert.Equal(t, runPage(domain, exec["workflow_id"].(string), exec["run_id"].(string), "summary"), exec["cadence_web_url"])
	waitCampaign(t, tn, campaignID, time.Minute)

	devs := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+campaignID+"/devices", nil)["devices"].([]any)
	require.Len(t, devs, 1)
	dev := devs[0].(map[string]any)
	workflowID, runID := dev["workflow_id"].(string), dev["run_id"].(string)
	assert.Equal(t, runPage(domain, workflowID, runID, "summary"), dev["cadence_web_url"])

	live := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[0].ID+"/ota", nil)
	assert.Equal(t, runPage(domain, workflowID, runID, "summary"), live["cadence_web_url"],
		"a campaign's device: the group run it is a member of")
	live = tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/devices/"+fleet[1].ID+"/ota", nil)
	wantList := strings.TrimRight(cfg.Cadence.WebURL, "/") + "/domains/" + domain + "/workflows?" +
		url.Values{"workflowId": {otaflow.DeviceWorkflowID(fleet[1].ID)}, "range": {"last-30-days"}}.Encode()
	assert.Equal(t, wantList, live["cadence_web_url"], "a single update's device: the list filtered to its workflow id")

	t.Run("history in Cadence Web", func(t *testing.T) {
		browser := chromium(t)
		want := []string{otaflow.UpdateGroupWorkflow, otaflow.SignalMemberReports, otaflow.ActivityCheckDeviceReady,
			otaflow.ActivitySendMQTTCommand}
		// The JSON view renders the whole history as text: the workflow type, each local
		// activity's marker with its activity type, and each signal's name.
		text := pageText(t, browser, runPage(domain, workflowID, runID, "history")+"?format=json", want...)
		for _, want := range want {
			assert.Containsf(t, text, want, "Cadence Web's history page of %s/%s", workflowID, runID)
		}
	})
}

// chromium is Debian's Chromium, or the test skips when it or Cadence Web is missing.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("OTA_IT_CADENCE_WEB") == "" {
		t.Skip("Cadence Web is not running beside this dev server: scripts/test.sh starts it (npm package cadence-web)")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: apt-get install chromium (scripts/test.sh does)")
	return ""
}

// pageText loads page in headless Chromium and returns the page's text once it holds
// every one of want (or after a minute, whatever it holds then).
func pageText(t *testing.T, browser, page string, want ...string) string {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.NoSandbox, chromedp.WindowSize(1600, 1200))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()
	_, err := chromedp.Run(ctx, chromedp.Navigate(page))
	require.NoError(t, err)
	var text string
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		// A history page loaded directly lays its event list out 0 px high until the
		// window resizes (cadence-web 3.35); a resize event makes it measure again.
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.dispatchEvent(new Event('resize'))`))
		require.NoError(t, err)
		text, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		require.NoError(t, err)
		if containsAll(text, want) {
			return text
		}
		time.Sleep(time.Second)
	}
	return text
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
