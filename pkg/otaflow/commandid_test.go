package otaflow_test

import (
	"strings"
	"testing"

	"github.com/otaplane/ota/pkg/otaflow"
)

func TestRunIDFromCommandID(t *testing.T) {
	const run = "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01"
	tests := []struct {
		id   string
		want string
		ok   bool
	}{
		{otaflow.CommandID(run, otaflow.CommandSeqUpdate), run, true},
		{otaflow.CommandID(run, otaflow.CommandSeqStatusRequest+7), run, true},
		{run + ":9999", run, true},
		{run + ":10000", "", false},
		{run + ":0", "", false},
		{run + ":01", "", false},
		{run + ":", "", false},
		{run + ":x", "", false},
		{run + ":-1", "", false},
		{"not-a-uuid:1", "", false},
		{"default-test-run-id:1", "", false},
		{strings.ToUpper(run) + ":1", strings.ToUpper(run), true},
		{"", "", false},
		{":1", "", false},
		{run, "", false},
	}
	for _, tt := range tests {
		got, ok := otaflow.RunIDFromCommandID(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RunIDFromCommandID(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzRouteFromCommandID: whatever a device sends, a route comes out only when the
// command id is exactly what CommandID makes of a run id or of a GroupRoute.
func FuzzRouteFromCommandID(f *testing.F) {
	for _, s := range []string{"0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:1", "x:1", "", ":", "a:b:c", "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:10",
		"5d7e0c4a-1b2f-4e3d-9a8b-7c6d5e4f3a21/0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:4", "/:1", "a/b/c:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := otaflow.RouteFromCommandID(s)
		if !ok {
			return
		}
		prefix := r.RunID
		if r.Group != "" {
			prefix = otaflow.GroupRoute(r.Group, r.RunID)
		}
		i := strings.LastIndexByte(s, ':')
		if len(r.RunID) != 36 || (r.Group != "" && len(r.Group) != 36) || s[:i] != prefix {
			t.Fatalf("RouteFromCommandID(%q) = %+v", s, r)
		}
	})
}

func TestRouteFromCommandID(t *testing.T) {
	const (
		run   = "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01"
		group = "5d7e0c4a-1b2f-4e3d-9a8b-7c6d5e4f3a21"
	)
	tests := []struct {
		id   string
		want otaflow.Route
		ok   bool
	}{
		{otaflow.CommandID(run, otaflow.CommandSeqUpdate), otaflow.Route{RunID: run}, true},
		{otaflow.CommandID(otaflow.GroupRoute(group, run), otaflow.CommandSeqQuietUpdate), otaflow.Route{Group: group, RunID: run}, true},
		{group + "/" + run + "/" + run + ":1", otaflow.Route{}, false},
		{"/" + run + ":1", otaflow.Route{}, false},
		{group + "/:1", otaflow.Route{}, false},
		{group + "/x:1", otaflow.Route{}, false},
		{group + "/" + run + ":0", otaflow.Route{}, false},
	}
	for _, tt := range tests {
		got, ok := otaflow.RouteFromCommandID(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RouteFromCommandID(%q) = %+v, %v; want %+v, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
	if got := (otaflow.Route{Group: group, RunID: run}).WorkflowID("dev-1"); got != otaflow.GroupWorkflowID(group) {
		t.Errorf("a member's report goes to %q", got)
	}
	if got := (otaflow.Route{RunID: run}).WorkflowID("dev-1"); got != otaflow.DeviceWorkflowID("dev-1") {
		t.Errorf("a device run's report goes to %q", got)
	}
}

// FuzzQuietProgress: a command id a device sends is quiet exactly when it is what
// CommandID makes of some run id with CommandSeqQuietUpdate.
func FuzzQuietProgress(f *testing.F) {
	for _, s := range []string{"0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:4", "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:1", ":4", "4", "", "a:04"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i := strings.LastIndexByte(s, ':')
		want := i > 0 && otaflow.CommandID(s[:i], otaflow.CommandSeqQuietUpdate) == s
		if got := otaflow.QuietProgress(s); got != want {
			t.Fatalf("QuietProgress(%q) = %v, want %v", s, got, want)
		}
	})
}
