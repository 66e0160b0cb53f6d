// Package progress draws a campaign's live progress: a bar per wave with its devices
// by state, the campaign's state and reason, and the closing summary. Pure: it turns a
// status into text and decides when a campaign has finished.
package progress

import (
	"fmt"
	"sort"
	"strings"
)

// Status is what GET /ota/campaigns/{id}/status answers.
type Status struct {
	CampaignID      string         `json:"campaign_id"`
	State           string         `json:"state"`
	StateReason     string         `json:"state_reason"`
	ProgressPercent float64        `json:"progress_percent"`
	StatusCounts    map[string]int `json:"status_counts"`
	Total           int            `json:"total"`
	Finished        int            `json:"finished"`
	Succeeded       int            `json:"succeeded"`
	Failed          int            `json:"failed"`
	Waves           []Wave         `json:"waves"`
}

// Wave is one wave's share of the status.
type Wave struct {
	Wave         int            `json:"wave"`
	Total        int            `json:"total"`
	Finished     int            `json:"finished"`
	StatusCounts map[string]int `json:"status_counts"`
}

// Finished says whether a campaign in state has ended, and whether it ended well.
func Finished(state string) (ended, completed bool) {
	switch state {
	case "COMPLETED":
		return true, true
	case "ABORTED", "CANCELED", "FAILED":
		return true, false
	}
	return false, false
}

// stateOrder lists device states in the order a run goes through them, finished ones last.
var stateOrder = []string{"PENDING", "CHECKING", "COMMANDED", "DOWNLOADING", "INSTALLING", "VERIFYING", "SOAKING",
	"ROLLING_BACK", "SUCCEEDED", "FAILED", "ROLLED_BACK", "TIMED_OUT", "CANCELED", "REJECTED"}

// Counts writes devices by state in run order ("SUCCEEDED 40  DOWNLOADING 3"), leaving
// out states with none; states this tool does not know come last, by name.
func Counts(counts map[string]int) string {
	var parts []string
	known := map[string]bool{}
	for _, st := range stateOrder {
		known[st] = true
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	var rest []string
	for st, n := range counts {
		if !known[st] && n > 0 {
			rest = append(rest, fmt.Sprintf("%s %d", st, n))
		}
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), "  ")
}

// Bar is a progress bar of width cells for done of total.
func Bar(done, total, width int) string {
	if width < 1 {
		width = 1
	}
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	filled = min(max(filled, 0), width)
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]"
}

// View is the live view: the campaign line, then one line per wave.
func View(s Status, barWidth int) []string {
	head := fmt.Sprintf("campaign %s  %s  %d/%d finished (%.0f%%)", s.CampaignID, s.State, s.Finished, s.Total,
		s.ProgressPercent)
	if s.StateReason != "" {
		head += "  — " + s.StateReason
	}
	lines := []string{head}
	for _, w := range s.Waves {
		lines = append(lines, strings.TrimRight(fmt.Sprintf("wave %d %s %d/%d  %s", w.Wave, Bar(w.Finished, w.Total, barWidth),
			w.Finished, w.Total, Counts(w.StatusCounts)), " "))
	}
	if len(s.Waves) == 0 {
		lines = append(lines, strings.TrimRight(fmt.Sprintf("all    %s %d/%d  %s", Bar(s.Finished, s.Total, barWidth),
			s.Finished, s.Total, Counts(s.StatusCounts)), " "))
	}
	return lines
}

// Line is the one-line form for logs and pipes (no terminal).
func Line(s Status) string {
	l := fmt.Sprintf("%s %d/%d finished (%.0f%%)", s.State, s.Finished, s.Total, s.ProgressPercent)
	if c := Counts(s.StatusCounts); c != "" {
		l += "  " + c
	}
	if s.StateReason != "" {
		l += "  — " + s.StateReason
	}
	return l
}

// Summary closes a watch.
func Summary(s Status) string {
	_, completed := Finished(s.State)
	verdict := "did not complete"
	if completed {
		verdict = "completed"
	}
	out := fmt.Sprintf("campaign %s %s: %s; %d devices, %d succeeded, %d failed", s.CampaignID, verdict, s.State,
		s.Total, s.Succeeded, s.Failed)
	if s.StateReason != "" {
		out += "; reason: " + s.StateReason
	}
	return out
}
