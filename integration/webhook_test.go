package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/webhook"
	"github.com/otaplane/ota/simulator/devicesim"
)

// receiver is a tenant's webhook endpoint: down (503) until up is called, then it
// verifies and keeps every request.
type receiver struct {
	*httptest.Server
	secret atomic.Value
	isUp   atomic.Bool
	mu     sync.Mutex
	got    []receivedEvent
	bad    []string
}

type receivedEvent struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Seq  int64           `json:"seq"`
	Data json.RawMessage `json:"data"`
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if !r.isUp.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		secret, _ := r.secret.Load().(string)
		if err := webhook.Verify(secret, req.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
			r.bad = append(r.bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev receivedEvent
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(webhook.HeaderID) {
			r.bad = append(r.bad, "body does not match its webhook-id: "+string(body))
		}
		r.got = append(r.got, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// distinct is what was received, duplicates (same event id) dropped.
func (r *receiver) distinct() []receivedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []receivedEvent
	for _, e := range r.got {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// TestWebhookReceiverDownThenUpGetsEveryEventInOrder: while the receiver is down the
// campaign's events pile up, a worker is killed mid-delivery, and once the receiver is
// back it gets every event, in order, each signed.
func TestWebhookReceiverDownThenUpGetsEveryEventInOrder(t *testing.T) {
	tn := newTenant(t)
	rcv := newReceiver(t)
	// Every type, so every event of the campaign's stream arrives (seq without gaps).
	hook := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": rcv.URL,
		"event_types": webhook.EventTypes})
	rcv.secret.Store(hook["secret"].(string))
	hookID := hook["id"].(string)

	tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/devices",
		map[string]any{"id": "wh-1", "hardware_model": "board-wh", "firmware_version": "1.0.0"})
	fw := tn.uploadFirmware("1.1.0", "board-wh", image(2))
	camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns", map[string]any{
		"name": "webhooks", "firmware_id": fw["id"], "device_ids": []string{"wh-1"}})
	id := camp["id"].(string)
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	tn.do(http.MethodPost, "/api/v1/ota/campaigns/"+id+"/pause", map[string]any{"reason": "hold"})

	require.Eventually(t, func() bool {
		body := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/webhooks/"+hookID+"/deliveries", nil)
		attempts, _ := body["deliveries"].([]any)
		for _, a := range attempts {
			if a.(map[string]any)["status_code"] == float64(http.StatusServiceUnavailable) {
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "a failed attempt is recorded while the receiver is down")

	worker.killForTest(t)
	require.NoError(t, worker.start())
	tn.do(http.MethodPost, "/api/v1/ota/campaigns/"+id+"/resume", nil)
	tn.do(http.MethodPost, "/api/v1/ota/campaigns/"+id+"/cancel", map[string]any{"reason": "done"})
	rcv.isUp.Store(true)

	// What should arrive: the events of each recorded state change, in the order of the
	// changes.
	expected := func() []webhook.EventType {
		body := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/audit?limit=1000&action=campaign.state_changed&target="+id, nil)
		entries, _ := body["entries"].([]any)
		var out []webhook.EventType
		for i := len(entries) - 1; i >= 0; i-- { // oldest first
			var change struct{ To string }
			require.NoError(t, json.Unmarshal(mustJSON(t, entries[i].(map[string]any)["summary"]), &change))
			out = append(out, webhook.EventsOfStateChange(change.To)...)
		}
		return out
	}
	terminal := func() bool {
		st := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/ota/campaigns/"+id, nil)["state"]
		return st == "CANCELED" || st == "COMPLETED" || st == "FAILED" || st == "ABORTED"
	}
	// The state-change events among what arrived (device run batches and the wave's end
	// come in between).
	stateEvents := func(got []receivedEvent) []string {
		var out []string
		for _, e := range got {
			switch webhook.EventType(e.Type) {
			case webhook.CampaignStateChanged, webhook.CampaignGateWaiting, webhook.CampaignAborted:
				out = append(out, e.Type)
			}
		}
		return out
	}
	wantTypes := func() []string {
		var out []string
		for _, e := range expected() {
			out = append(out, string(e))
		}
		return out
	}
	require.Eventually(t, func() bool {
		return terminal() && len(stateEvents(rcv.distinct())) == len(wantTypes())
	}, 90*time.Second, 500*time.Millisecond, "every event arrives once the receiver is back")

	got := rcv.distinct()
	require.GreaterOrEqual(t, len(wantTypes()), 2, "at least RUNNING and the end")
	assert.Equal(t, wantTypes(), stateEvents(got), "state changes arrive in the order they were made")
	for i, e := range got {
		assert.Equal(t, int64(i+1), e.Seq, "event %d arrives in order, none missing", i)
	}
	rcv.mu.Lock()
	assert.Empty(t, rcv.bad, "every request verifies")
	for i := 1; i < len(rcv.got); i++ {
		assert.GreaterOrEqual(t, rcv.got[i].Seq, rcv.got[i-1].Seq, "a redelivery never goes back past a later event")
	}
	rcv.mu.Unlock()
}

// TestWebhookWaveFinishedAndDeviceOffline: a two-wave campaign whose second wave holds a
// device that falls silent mid-update sends each wave's end with its counts, and the
// silent device as offline before the wave that holds it ends.
func TestWebhookWaveFinishedAndDeviceOffline(t *testing.T) {
	tn := newTenant(t)
	rcv := newReceiver(t)
	rcv.isUp.Store(true)
	hook := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": rcv.URL,
		"event_types": []string{"campaign.state_changed", "wave.finished", "device.offline"}})
	rcv.secret.Store(hook["secret"].(string))

	fleet := specs("whw", 3, "board-whw", "1.0.0")
	fleet[1].Behavior = devicesim.BehaviorSilent
	tn.createDevices(fleet)
	tn.startFleet(fleet)
	fw := tn.uploadFirmware("1.1.0", "board-whw", image(3))
	camp := tn.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/ota/campaigns", map[string]any{
		"name": "waves", "firmware_id": fw["id"], "device_ids": ids(fleet),
		"rollout": map[string]any{"waves": []map[string]any{{"name": "canary", "count": 1}, {"percent": 100}}}})
	id := camp["id"].(string)
	tn.mustDo(http.StatusOK, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil)
	waitCampaign(t, tn, id, 3*time.Minute)

	var got []receivedEvent
	require.Eventually(t, func() bool {
		got = rcv.distinct()
		return len(got) > 0 && got[len(got)-1].Type == string(webhook.CampaignStateChanged) &&
			bytes.Contains(got[len(got)-1].Data, []byte(`"COMPLETED"`))
	}, 30*time.Second, 200*time.Millisecond, "the campaign's events arrive: %v", got)

	type wave struct {
		Wave struct {
			Index, Size, Finished, Succeeded int
			TimedOut                         int `json:"timed_out"`
		} `json:"wave"`
	}
	var order []string
	var waves []wave
	var offline []string
	for _, e := range got {
		switch webhook.EventType(e.Type) {
		case webhook.WaveFinished:
			var w wave
			require.NoError(t, json.Unmarshal(e.Data, &w))
			waves = append(waves, w)
			order = append(order, fmt.Sprintf("wave:%d", w.Wave.Index))
		case webhook.DeviceOffline:
			var d struct {
				Devices []struct {
					DeviceID string `json:"device_id"`
					State    string `json:"state"`
				} `json:"devices"`
			}
			require.NoError(t, json.Unmarshal(e.Data, &d))
			for _, dev := range d.Devices {
				offline = append(offline, dev.DeviceID+":"+dev.State)
			}
			order = append(order, "offline")
		default:
			order = append(order, e.Type)
		}
	}
	assert.Equal(t, []string{fleet[1].ID + ":TIMED_OUT"}, offline, "only the silent device went offline")
	require.Len(t, waves, 2, "events: %v", order)
	assert.Equal(t, []int{0, 1, 1, 1, 0}, []int{waves[0].Wave.Index, waves[0].Wave.Size, waves[0].Wave.Finished,
		waves[0].Wave.Succeeded, waves[0].Wave.TimedOut}, "the canary wave's counts")
	assert.Equal(t, []int{1, 2, 2, 1, 1}, []int{waves[1].Wave.Index, waves[1].Wave.Size, waves[1].Wave.Finished,
		waves[1].Wave.Succeeded, waves[1].Wave.TimedOut}, "the second wave's counts")
	assert.Equal(t, []string{"campaign.state_changed", "wave:0", "offline", "wave:1", "campaign.state_changed"}, order)
	for i := 1; i < len(got); i++ {
		assert.Greater(t, got[i].Seq, got[i-1].Seq, "in order")
	}
	rcv.mu.Lock()
	assert.Empty(t, rcv.bad, "every request verifies")
	rcv.mu.Unlock()
}

// TestWebhookRequestsNameTheBadField: a bad registration is a 400 naming the field and
// registers nothing. (Internal targets are allowed in the test configuration; the
// egress rules are unit-tested in pkg/webhook.)
func TestWebhookRequestsNameTheBadField(t *testing.T) {
	tn := newTenant(t)
	for _, tt := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "ftp://example.com/", "event_types": []string{"campaign.aborted"}}, "url"},
		{map[string]any{"url": "https://u:p@example.com/", "event_types": []string{"campaign.aborted"}}, "url"},
		{map[string]any{"url": "https://example.com/", "event_types": []string{"campaign.deleted"}}, "event_types"},
		{map[string]any{"url": "https://example.com/", "event_types": []string{}}, "event_types"},
	} {
		got := tn.do(http.MethodPost, "/api/v1/webhooks", tt.body)
		require.Equalf(t, http.StatusBadRequest, got.Status, "%v: %s", tt.body, got.Raw)
		assert.Equal(t, tt.field, got.Body["error"].(map[string]any)["field"])
	}
	listed := tn.mustDo(http.StatusOK, http.MethodGet, "/api/v1/webhooks", nil)
	assert.Empty(t, listed["webhooks"])
}
