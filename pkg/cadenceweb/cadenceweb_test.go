package cadenceweb

import "testing"

func TestLinks(t *testing.T) {
	tests := []struct {
		name                     string
		base                     string
		domain, workflow, run    string
		wantRun, wantDomainLinks string
	}{
		{"disabled", "", "ota-t1", "ota-device:d1", "r1", "", ""},
		{"run page, ids escaped", "http://127.0.0.1:8088/", "ota-t1", "ota-device:sim/1", "0b1c-2",
			"http://127.0.0.1:8088/domains/ota-t1/workflows/ota-device:sim%2F1/0b1c-2/summary",
			"http://127.0.0.1:8088/domains/ota-t1/workflows"},
		{"no run id: the list filtered to the workflow", "https://cadence.example.com/web", "ota-t1", "ota-device:d 1", "",
			"https://cadence.example.com/web/domains/ota-t1/workflows?range=last-30-days&workflowId=ota-device%3Ad+1",
			"https://cadence.example.com/web/domains/ota-t1/workflows"},
		{"no workflow id", "http://w", "ota-t1", "", "r1", "", "http://w/domains/ota-t1/workflows"},
		{"no domain", "http://w", "", "ota-device:d1", "r1", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(tc.base)
			if got := l.Run(tc.domain, tc.workflow, tc.run); got != tc.wantRun {
				t.Errorf("Run = %q, want %q", got, tc.wantRun)
			}
			if got := l.Domain(tc.domain); got != tc.wantDomainLinks {
				t.Errorf("Domain = %q, want %q", got, tc.wantDomainLinks)
			}
		})
	}
}
