package topic

import (
	"errors"
	"testing"
)

const tenant = "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01"

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		topic  string
		device string
		kind   Kind
		ok     bool
	}{
		{"report", tenant + "/devices/dev-1/reports", "dev-1", KindReports, true},
		{"heartbeat", tenant + "/devices/a.b:c_d/heartbeat", "a.b:c_d", KindHeartbeat, true},
		{"status", tenant + "/devices/x/status", "x", KindStatus, true},
		{"commands", tenant + "/devices/x/commands", "x", KindCommands, true},
		{"tenant not a uuid", "acme/devices/x/reports", "", "", false},
		{"tenant upper case", "0B6C3F4E-8F43-4C55-9D8E-2F1A6B7C9D01/devices/x/reports", "", "", false},
		{"tenant without dashes", "0b6c3f4e8f434c559d8e2f1a6b7c9d01/devices/x/reports", "", "", false},
		{"device empty", tenant + "/devices//reports", "", "", false},
		{"device with NUL", tenant + "/devices/a\x00b/reports", "", "", false},
		{"device with space", tenant + "/devices/a b/reports", "", "", false},
		{"device starting with dot", tenant + "/devices/.x/reports", "", "", false},
		{"device too long", tenant + "/devices/" + string(make([]byte, 129)) + "/reports", "", "", false},
		{"unknown kind", tenant + "/devices/x/telemetry", "", "", false},
		{"too few levels", tenant + "/devices/x", "", "", false},
		{"too many levels", tenant + "/devices/x/reports/extra", "", "", false},
		{"wrong second level", tenant + "/things/x/reports", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotTenant, device, kind, err := Parse(tt.topic)
			if !tt.ok {
				if !errors.Is(err, ErrBadTopic) {
					t.Fatalf("Parse(%q) = %v, want ErrBadTopic", tt.topic, err)
				}
				return
			}
			if err != nil || gotTenant != tenant || device != tt.device || kind != tt.kind {
				t.Fatalf("Parse(%q) = %q %q %q %v", tt.topic, gotTenant, device, kind, err)
			}
		})
	}
}

func TestBuildersRoundTrip(t *testing.T) {
	for _, top := range []string{Commands(tenant, "d"), Reports(tenant, "d"), Heartbeat(tenant, "d"), Status(tenant, "d")} {
		if _, dev, _, err := Parse(top); err != nil || dev != "d" {
			t.Errorf("Parse(%q) = %q, %v", top, dev, err)
		}
	}
	if got := Shared("g", AllDevices(KindReports)); got != "$share/g/+/devices/+/reports" {
		t.Errorf("Shared = %q", got)
	}
}

// FuzzParse: any topic either fails with ErrBadTopic or parses into segments that
// rebuild the same topic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{tenant + "/devices/dev-1/reports", "a/devices/b/heartbeat", "", "/", "////",
		tenant + "/devices/\xff/status", "$share/g/+/devices/+/reports"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ten, dev, kind, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrBadTopic) {
				t.Fatalf("error %v does not wrap ErrBadTopic", err)
			}
			return
		}
		if Device(ten, dev, kind) != s {
			t.Fatalf("Parse(%q) does not round-trip", s)
		}
	})
}
