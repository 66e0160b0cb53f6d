package progress

import (
	"strings"
	"testing"
)

func TestFinished(t *testing.T) {
	tests := []struct {
		state            string
		ended, completed bool
	}{
		{"COMPLETED", true, true},
		{"ABORTED", true, false},
		{"CANCELED", true, false},
		{"FAILED", true, false},
		{"RUNNING", false, false},
		{"PAUSED", false, false},
		{"WAITING_APPROVAL", false, false},
		{"CREATED", false, false},
		{"SOMETHING_NEW", false, false},
	}
	for _, tt := range tests {
		ended, completed := Finished(tt.state)
		if ended != tt.ended || completed != tt.completed {
			t.Errorf("Finished(%s) = %v, %v; want %v, %v", tt.state, ended, completed, tt.ended, tt.completed)
		}
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		done, total, width int
		want               string
	}{
		{0, 10, 10, "[----------]"},
		{5, 10, 10, "[#####-----]"},
		{10, 10, 10, "[##########]"},
		{3, 0, 4, "[----]"},
		{12, 10, 4, "[####]"},
		{-1, 10, 4, "[----]"},
		{1, 3, 0, "[-]"},
	}
	for _, tt := range tests {
		if got := Bar(tt.done, tt.total, tt.width); got != tt.want {
			t.Errorf("Bar(%d, %d, %d) = %q; want %q", tt.done, tt.total, tt.width, got, tt.want)
		}
	}
}

func TestCountsInRunOrder(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]int
		want   string
	}{
		{"none", nil, ""},
		{"run order", map[string]int{"SUCCEEDED": 4, "DOWNLOADING": 2, "PENDING": 1, "FAILED": 0},
			"PENDING 1  DOWNLOADING 2  SUCCEEDED 4"},
		{"unknown states last by name", map[string]int{"ZED": 1, "ALPHA": 2, "SUCCEEDED": 1},
			"SUCCEEDED 1  ALPHA 2  ZED 1"},
	}
	for _, tt := range tests {
		if got := Counts(tt.counts); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestViewHasALinePerWave(t *testing.T) {
	s := Status{CampaignID: "c1", State: "WAITING_APPROVAL", StateReason: "wave 1 done; approve to go on",
		Total: 10, Finished: 2, ProgressPercent: 20,
		Waves: []Wave{
			{Wave: 1, Total: 2, Finished: 2, StatusCounts: map[string]int{"SUCCEEDED": 2}},
			{Wave: 2, Total: 8, Finished: 0, StatusCounts: map[string]int{"PENDING": 8}},
		}}
	got := View(s, 4)
	want := []string{
		"campaign c1  WAITING_APPROVAL  2/10 finished (20%)  — wave 1 done; approve to go on",
		"wave 1 [####] 2/2  SUCCEEDED 2",
		"wave 2 [----] 0/8  PENDING 8",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("view:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	noWaves := View(Status{CampaignID: "c2", State: "RUNNING", Total: 4, Finished: 1,
		StatusCounts: map[string]int{"SUCCEEDED": 1, "INSTALLING": 3}}, 4)
	if len(noWaves) != 2 || noWaves[1] != "all    [#---] 1/4  INSTALLING 3  SUCCEEDED 1" {
		t.Errorf("view without waves: %q", noWaves)
	}
}

func TestLineAndSummary(t *testing.T) {
	s := Status{CampaignID: "c1", State: "ABORTED", StateReason: "FAILED over 20%", Total: 10, Finished: 10,
		Succeeded: 7, Failed: 3, ProgressPercent: 100, StatusCounts: map[string]int{"SUCCEEDED": 7, "FAILED": 3}}
	if got, want := Line(s), "ABORTED 10/10 finished (100%)  SUCCEEDED 7  FAILED 3  — FAILED over 20%"; got != want {
		t.Errorf("line %q; want %q", got, want)
	}
	if got, want := Summary(s), "campaign c1 did not complete: ABORTED; 10 devices, 7 succeeded, 3 failed; reason: FAILED over 20%"; got != want {
		t.Errorf("summary %q; want %q", got, want)
	}
	s.State, s.StateReason = "COMPLETED", ""
	if got := Summary(s); !strings.Contains(got, "completed: COMPLETED") {
		t.Errorf("summary %q", got)
	}
}
