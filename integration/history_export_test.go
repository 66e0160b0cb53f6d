package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/.gen/go/shared"
	cadence "go.uber.org/cadence/client"

	"github.com/otaplane/ota/pkg/cadenceclient"
	"github.com/otaplane/ota/pkg/otaflow"
)

// TestExportReplayHistories refreshes the histories the workflow packages' replay tests
// replay. It runs only when asked: OTA_EXPORT_HISTORIES=1 go test -run TestExportReplayHistories
func TestExportReplayHistories(t *testing.T) {
	if os.Getenv("OTA_EXPORT_HISTORIES") == "" {
		t.Skip("set OTA_EXPORT_HISTORIES=1 to re-export replay histories")
	}
	tn := newTenant(t)
	fleet := specs("replay", 2, "board-r", "1.0.0")
	tn.createDevices(fleet)
	tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.0.1", "board-r", image(100))
	camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns",
		map[string]any{"name": "replay", "firmware_id": fw["id"], "device_ids": ids(fleet)})
	id := camp["id"].(string)
	exec := tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	waitCampaign(t, tn, id, time.Minute)

	conn, err := cadenceclient.Dial(cfg.Cadence, "history-export")
	require.NoError(t, err)
	defer conn.Close()
	c := cadence.NewClient(conn.Service, cadenceclient.DomainName(cfg.Cadence.DomainPrefix, tn.ID), &cadence.Options{})
	dev := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+id+"/devices", nil)["devices"].([]any)[0].(map[string]any)

	export(t, c, otaflow.CampaignWorkflowID(id), exec["run_id"].(string), "../worker/campaign/testdata/campaign_history.json")
	export(t, c, dev["workflow_id"].(string), dev["run_id"].(string), "../worker/otaupdate/testdata/update_device_history.json")
}

func export(t *testing.T, c cadence.Client, wfID, runID, path string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, wfID, runID, false, shared.HistoryEventFilterTypeAllEvent)
	var events []*shared.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	raw, err := json.MarshalIndent(events, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	t.Logf("wrote %d events of %s to %s", len(events), wfID, path)
}
