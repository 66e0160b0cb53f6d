package postgres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

// newTestTenant inserts a bare tenant row for outbox tests.
func newTestTenant(t *testing.T, st *Store) string {
	t.Helper()
	id := uuid.NewString()
	if err := st.db.Exec(`INSERT INTO tenants (id, name, cadence_domain) VALUES (?, ?, ?)`, id, "t-"+id, "ota-"+id).
		Error; err != nil {
		t.Fatal(err)
	}
	return id
}

func streamEvents(t *testing.T, st *Store, tenant, stream string) []store.WebhookEvent {
	t.Helper()
	got, err := st.WebhookEventsAfter(context.Background(), tenant, stream, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCollectedRunsWriteOfflineDevicesBesideTheBatch(t *testing.T) {
	st := openTestStore(t)
	tenant, campaign := newTestTenant(t, st), uuid.NewString()
	rows := []outcomeRow{
		{Seq: 1, DeviceID: "ok", State: "SUCCEEDED", Attempts: 1},
		{Seq: 2, DeviceID: "gone", Wave: 1, State: "TIMED_OUT", Reason: "no_report_within_step_timeout", Attempts: 2},
		{Seq: 3, DeviceID: "bad", State: "FAILED", Reason: "verification_mismatch", Attempts: 1},
		{Seq: 4, DeviceID: "quiet", State: "ROLLED_BACK", Reason: "silent_during_soak: no heartbeat for more than 2m0s", Attempts: 1},
	}
	if err := st.db.Transaction(func(tx *gorm.DB) error { return appendRunsFinished(tx, tenant, campaign, rows) }); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Transaction(func(tx *gorm.DB) error { return appendRunsFinished(tx, tenant, campaign, rows[:1]) }); err != nil {
		t.Fatal(err)
	}
	got := streamEvents(t, st, tenant, campaign)
	var types []string
	for i, e := range got {
		types = append(types, e.Type)
		if e.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, e.Seq)
		}
	}
	want := []string{"device_runs.finished", "device.offline", "device_runs.finished"}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("events %v, want %v (no device.offline for a batch without one)", types, want)
	}
	var offline struct {
		CampaignID string `json:"campaign_id"`
		Devices    []struct {
			DeviceID string `json:"device_id"`
			Wave     int    `json:"wave"`
			State    string `json:"state"`
			Attempt  int    `json:"attempt"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(got[1].Payload, &offline); err != nil {
		t.Fatal(err)
	}
	if offline.CampaignID != campaign || len(offline.Devices) != 2 || offline.Devices[0].DeviceID != "gone" ||
		offline.Devices[0].Wave != 1 || offline.Devices[0].Attempt != 2 || offline.Devices[1].DeviceID != "quiet" {
		t.Fatalf("device.offline payload %s", got[1].Payload)
	}
}

func TestWaveFinishedIsRecordedOncePerWave(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tenant, campaign := newTestTenant(t, st), uuid.NewString()
	waves := []otaflow.WaveStats{
		{Index: 0, Name: "canary", Size: 2, Dispatched: 2, Finished: 2, Succeeded: 2},
		{Index: 0, Name: "canary", Size: 2, Dispatched: 2, Finished: 2, Succeeded: 2}, // a retried activity
		{Index: 1, Size: 8, Dispatched: 8, Finished: 8, Succeeded: 7, TimedOut: 1},
	}
	for _, w := range waves {
		if err := st.RecordWaveFinished(ctx, tenant, campaign, w); err != nil {
			t.Fatal(err)
		}
	}
	got := streamEvents(t, st, tenant, campaign)
	if len(got) != 2 {
		t.Fatalf("%d events, want one per wave", len(got))
	}
	for i, e := range got {
		var p struct {
			Wave otaflow.WaveStats `json:"wave"`
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		want := waves[2*i]
		if e.Type != "wave.finished" || e.Seq != int64(i+1) || p.Wave != want {
			t.Errorf("event %d: %s seq %d %+v, want wave.finished seq %d %+v", i, e.Type, e.Seq, p.Wave, i+1, want)
		}
	}
}
