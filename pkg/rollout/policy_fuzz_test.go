package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// FuzzCampaignPolicy reads a rollout policy as the API does (strict JSON, then Validate).
// Whatever is accepted must keep the promises the campaign workflow relies on: the
// maintenance window evaluates without error at any time, waves cover the fleet in
// order, and the policy survives its trip through the database (JSON) unchanged.
func FuzzCampaignPolicy(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"waves":[{"name":"canary","count":5},{"percent":50},{"percent":100}],"max_in_flight":20}`,
		`{"rate":{"exponential":{"base_per_minute":10,"increment_factor":2,"after_succeeded":5,"max_per_minute":100}}}`,
		`{"gate":{"mode":"auto","success_threshold_percent":95},"abort":{"rules":[{"failure_type":"ALL","threshold_percent":10,"min_finished":20}]}}`,
		`{"retry":{"failed":1,"timed_out":2},"soak":"10m","soak_max_reboots":1,"step_timeout":"5m","in_progress_timeout":"1h"}`,
		`{"maintenance_window":{"cron":"0 2 * * *","duration":"4h","time_zone":"Europe/Berlin"}}`,
		`{"maintenance_window":{"cron":"TZ=UTC","duration":"1h","time_zone":"UTC"}}`,
		`{"maintenance_window":{"cron":"CRON_TZ=Europe/Berlin 0 2 * * *","duration":"1h","time_zone":"UTC"}}`,
		`{"maintenance_window":{"cron":"@every 1h","duration":"1h","time_zone":"UTC"}}`,
		`{"maintenance_window":{"cron":"0 0 30 2 *","duration":"1h","time_zone":"UTC"}}`,
		`{"maintenance_window":{"cron":"0 0 29 2 *","duration":"1h","time_zone":"Local"}}`,
		`{"maintenance_window":{"cron":"*/15 8-17 * jan-mar mon-fri","duration":"30m","time_zone":"America/New_York"}}`,
		`{"waves":[{"name":"a\u0000","percent":50}]}`,
		`{"fuota":{"multicast_class":"B","ping_slot_period":7,"fragment_size":242,"deployment_timeout":"6h"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var p otaflow.CampaignPolicy
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.DisallowUnknownFields()
		if dec.Decode(&p) != nil {
			return
		}
		if err := Validate(p, "rollout."); err != nil {
			var fe *model.FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "rollout.") {
				t.Fatalf("error %v does not name a rollout field", err)
			}
			return
		}
		if p.Window != nil {
			checkWindow(t, *p.Window)
		}
		for _, total := range []int{0, 1, 2, 7, 100, 100_000} {
			checkWaveBounds(t, p.Waves, total)
		}
		stored, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("an accepted policy does not encode: %v", err)
		}
		var back otaflow.CampaignPolicy
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("stored policy %s does not decode: %v", stored, err)
		}
		if !reflect.DeepEqual(normalized(p), normalized(back)) {
			t.Fatalf("policy changed on its way through the database:\n%+v\n%+v", p, back)
		}
		if err := Validate(back, "rollout."); err != nil {
			t.Fatalf("stored policy no longer validates: %v", err)
		}
	})
}

// normalized: an empty list and no list are the same policy (omitempty drops both).
func normalized(p otaflow.CampaignPolicy) otaflow.CampaignPolicy {
	if len(p.Waves) == 0 {
		p.Waves = nil
	}
	if len(p.Abort.Rules) == 0 {
		p.Abort.Rules = nil
	}
	return p
}

// checkWindow: an accepted window opens at some point and says when it next changes.
func checkWindow(t *testing.T, w otaflow.MaintenanceWindow) {
	t.Helper()
	for _, now := range []time.Time{
		time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), // a DST change in Europe
		time.Date(2027, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2030, 2, 28, 12, 0, 0, 0, time.UTC),
	} {
		st, err := WindowAt(w, now)
		if err != nil {
			t.Fatalf("accepted window %+v cannot be evaluated at %s: %v", w, now, err)
		}
		if !st.Next.After(now) {
			t.Fatalf("window %+v at %s: next change %s is not ahead", w, now, st.Next)
		}
	}
}

// checkWaveBounds: waves end in dispatch order at the fleet's size, each of them with a
// device while devices remain.
func checkWaveBounds(t *testing.T, waves []otaflow.Wave, total int) {
	t.Helper()
	bounds := CutWaves(waves, total)
	if len(bounds) != max(1, len(waves)) {
		t.Fatalf("%d waves give %d bounds", len(waves), len(bounds))
	}
	prev := 0
	for i, b := range bounds {
		if b < prev || b > total {
			t.Fatalf("waves %+v over %d devices: bounds %v", waves, total, bounds)
		}
		if prev < total && b == prev {
			t.Fatalf("waves %+v over %d devices: wave %d is empty (bounds %v)", waves, total, i, bounds)
		}
		prev = b
	}
	if bounds[len(bounds)-1] != total {
		t.Fatalf("waves %+v over %d devices end at %d", waves, total, bounds[len(bounds)-1])
	}
}
