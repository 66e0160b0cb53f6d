package integration

import (
	"context"
	"fmt"

	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/simulator/devicesim"
)

// TestThroughputProbe is a quick look at campaign throughput during development
// (make bench is the real benchmark). OTA_PROBE_DEVICES=500 go test -run TestThroughputProbe
func TestThroughputProbe(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OTA_PROBE_DEVICES"))
	if n == 0 {
		t.Skip("set OTA_PROBE_DEVICES to run")
	}
	// The test configuration continues campaigns as new every few devices; measure with
	// the production value.
	prev := cfg.OTA.CampaignChildrenPerRun
	cfg.OTA.CampaignChildrenPerRun = 1000
	defer func() { cfg.OTA.CampaignChildrenPerRun = prev }()
	tn := newTenant(t)
	fleet := specs("probe", n, "board-probe", "1.0.0")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	bodies := make([]map[string]any, len(fleet))
	for i, s := range fleet {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			bodies[i] = tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices", map[string]any{
				"id": s.ID, "hardware_model": s.HardwareModel, "firmware_version": s.FirmwareVersion})
		}()
	}
	wg.Wait()
	for _, b := range bodies {
		tn.keepCredentials(b)
	}
	f, err := devicesim.NewFleet(devicesim.Config{BrokerURL: cfg.MQTT.Broker, TenantID: tn.ID, Trust: tn.trust(),
		HeartbeatInterval: 20 * time.Second}, tn.withCredentials(fleet))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, f.Start(ctx))
	defer f.Stop()
	time.Sleep(3 * time.Second)
	fw := tn.uploadFirmware("1.1.0", "board-probe", image(1000))
	id := tn.createCampaign(map[string]any{"name": "probe", "firmware_id": fw["id"], "device_ids": ids(fleet)})
	start := time.Now()
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	t.Logf("execute took %s", time.Since(start))
	for {
		st := tn.status(id)
		if st["state"] == "COMPLETED" {
			el := time.Since(start)
			t.Logf("%d devices in %s = %.0f devices/min; counts %v", n, el, float64(n)/el.Minutes(), statusCounts(st))
			reasons := map[string]int{}
			for _, d := range tn.campaignDevices(id) {
				reasons[fmt.Sprint(d["reason"])]++
			}
			t.Logf("reasons: %v", reasons)
			return
		}
		require.Less(t, time.Since(start), 15*time.Minute)
		time.Sleep(500 * time.Millisecond)
	}
}
