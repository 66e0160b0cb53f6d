package report

import (
	"strings"
	"testing"
)

func TestEvaluateFaultSaysWhatWasMissed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		run        FaultRun
		wantMissed []string // substrings, one per missed target; none: all met
	}{
		{name: "all met", run: FaultRun{Fault: "a", Completed: true, Total: 200, Succeeded: 200, StallAfterBackSec: 29.9}},
		{name: "lost devices", run: FaultRun{Fault: "b", Completed: true, Total: 200, Succeeded: 188, Lost: 12},
			wantMissed: []string{"Lost devices (not SUCCEEDED) = 12 devices (target 0)"}},
		{name: "wrong history and a long stall", run: FaultRun{Fault: "c", Completed: true, WrongHistories: 1, StallAfterBackSec: 30},
			wantMissed: []string{"Wrong histories = 1 devices", "Longest stall after the faulty part is back = 30.0 s (target < 30 s)"}},
		{name: "not completed misses everything", run: FaultRun{Fault: "d", Error: "gave up"},
			wantMissed: []string{"Lost devices", "Wrong histories", "Longest stall", "error: gave up"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			EvaluateFault(&tc.run)
			missed := strings.Join(tc.run.Missed(), "\n")
			if len(tc.wantMissed) == 0 && missed != "" {
				t.Errorf("missed %q, want nothing", missed)
			}
			for _, w := range tc.wantMissed {
				if !strings.Contains(missed, w) {
					t.Errorf("missed %q, want it to mention %q", missed, w)
				}
			}
			md := (&ChaosResults{Runs: []FaultRun{tc.run}}).Markdown()
			if got := strings.Contains(md, "❌ **MISSED**"); got != (len(tc.wantMissed) > 0) {
				t.Errorf("Markdown verdict MISSED = %v, want %v:\n%s", got, len(tc.wantMissed) > 0, md)
			}
		})
	}
}
