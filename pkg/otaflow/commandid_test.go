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

// FuzzRunIDFromCommandID: whatever a device sends, a run id comes out only when the
// command id is exactly what CommandID makes of it.
func FuzzRunIDFromCommandID(f *testing.F) {
	for _, s := range []string{"0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:1", "x:1", "", ":", "a:b:c", "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01:10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		run, ok := otaflow.RunIDFromCommandID(s)
		if !ok {
			return
		}
		if len(run) != 36 || !strings.HasPrefix(s, run+":") {
			t.Fatalf("RunIDFromCommandID(%q) = %q", s, run)
		}
	})
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
