package report

import (
	"encoding/json"
	"fmt"
	"os"
)

// The targets every fault is held to.
const (
	TargetLost              = 0
	TargetWrongHistories    = 0
	TargetStallAfterBackSec = 30.0
)

// ChaosResults is everything one `make chaos` invocation measured.
type ChaosResults struct {
	Provenance
	Settings ChaosSettings `json:"settings"`
	Runs     []FaultRun    `json:"runs"`
}

// ChaosSettings is how every fault's campaign and stack were set up.
type ChaosSettings struct {
	Args              string   `json:"args"`
	Devices           int      `json:"devices"`
	MaxInFlight       int      `json:"max_in_flight"`
	StepDelay         string   `json:"device_step_delay"`
	ProgressReports   bool     `json:"device_progress_reports"`
	HeartbeatInterval string   `json:"device_heartbeat_interval"`
	FirmwareKiB       int      `json:"firmware_kib"`
	CadencePersisted  string   `json:"cadence_persistence"`
	ProcessEnv        []string `json:"process_env"` // what the benchmark sets beyond addresses and keys
	LogDir            string   `json:"log_dir"`     // relative to the repository root
}

// FaultRun is one campaign on a fresh stack while one fault happens.
type FaultRun struct {
	Fault       string `json:"fault"`
	Description string `json:"description"`
	Workers     int    `json:"workers"`
	// Error says why the run could not be carried out or finished; its numbers are then
	// what was measured until it stopped.
	Error        string  `json:"error,omitempty"`
	SetupSeconds float64 `json:"setup_seconds"`
	CampaignID   string  `json:"campaign_id,omitempty"`

	// Timeline in seconds after execute. Back is when the faulty part was restored (for
	// a part never restored: when it failed, since from then on the rest must cope).
	InjectedAtSec      float64  `json:"injected_at_s"`
	InjectedAtFinished int      `json:"injected_at_finished"`
	BackAtSec          float64  `json:"back_at_s"`
	Back               string   `json:"back"`
	Notes              []string `json:"notes,omitempty"`
	// Devices that had received an update and not finished it when the fault struck.
	MidUpdateAtFault []string `json:"devices_mid_update_at_fault,omitempty"`

	Completed       bool           `json:"campaign_completed"`
	CampaignState   string         `json:"campaign_state,omitempty"`
	CampaignSeconds float64        `json:"campaign_seconds"`
	Total           int            `json:"devices"`
	Succeeded       int            `json:"succeeded"`
	Lost            int            `json:"lost"`
	StatusCounts    map[string]int `json:"status_counts,omitempty"`
	NotSucceeded    []DeviceIssue  `json:"not_succeeded,omitempty"`
	// NotSucceededBy counts those devices by final state and reason.
	NotSucceededBy map[string]int `json:"not_succeeded_by_outcome,omitempty"`

	WrongHistories   int           `json:"wrong_histories"`
	WrongHistoryList []DeviceIssue `json:"wrong_history_devices,omitempty"`

	// Devices that were sent more than one distinct UPDATE command for one attempt, and
	// repeated deliveries of the same UPDATE command (harmless: devices drop them).
	ExtraUpdateDevices  int           `json:"devices_with_extra_update_commands"`
	ExtraUpdateList     []DeviceIssue `json:"extra_update_devices,omitempty"`
	DuplicateDeliveries int           `json:"duplicate_update_deliveries"`
	DuplicateDevices    int           `json:"devices_with_duplicate_deliveries"`
	DuplicateList       []DeviceIssue `json:"duplicate_delivery_devices,omitempty"`
	StatusRequests      int           `json:"status_requests_received"`
	StallAfterBackSec   float64       `json:"longest_stall_after_back_s"`
	StallAfterBackFrom  float64       `json:"longest_stall_after_back_from_s"`
	StallOverallSec     float64       `json:"longest_stall_overall_s"`
	StallOverallFrom    float64       `json:"longest_stall_overall_from_s"`
	StatusPollFailures  int           `json:"status_poll_failures"`
	Checks              []Check       `json:"checks"`
}

// DeviceIssue names a device and what is wrong with it.
type DeviceIssue struct {
	DeviceID string `json:"device_id"`
	Detail   string `json:"detail"`
}

// EvaluateFault checks one run against the targets. A run that did not complete misses
// every target: its devices were not all accounted for.
func EvaluateFault(r *FaultRun) {
	done := r.Error == "" && r.Completed
	unfinished := ""
	if !done {
		unfinished = "run did not complete"
	}
	r.Checks = []Check{
		{Measure: "Lost devices (not SUCCEEDED)", Run: r.Fault, Target: fmt.Sprint(TargetLost), Value: float64(r.Lost),
			Unit: "devices", Detail: unfinished, Met: met(done && r.Lost == TargetLost)},
		{Measure: "Wrong histories", Run: r.Fault, Target: fmt.Sprint(TargetWrongHistories), Value: float64(r.WrongHistories),
			Unit: "devices", Detail: unfinished, Met: met(done && r.WrongHistories == TargetWrongHistories)},
		{Measure: "Longest stall after the faulty part is back", Run: r.Fault,
			Target: fmt.Sprintf("< %.0f s", TargetStallAfterBackSec), Value: r.StallAfterBackSec, Unit: "s", Detail: unfinished,
			Met: met(done && r.StallAfterBackSec < TargetStallAfterBackSec)},
	}
}

// Missed lists the targets a run missed, in words.
func (r *FaultRun) Missed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Met != nil && !*c.Met {
			s := fmt.Sprintf("%s = %s (target %s)", c.Measure, formatChaosValue(c.Value, c.Unit), c.Target)
			if c.Detail != "" {
				s += ", " + c.Detail
			}
			out = append(out, s)
		}
	}
	if r.Error != "" {
		out = append(out, "error: "+r.Error)
	}
	return out
}

func formatChaosValue(v float64, unit string) string {
	if unit == "s" {
		return fmt.Sprintf("%.1f s", v)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// WriteJSON writes the results, indented.
func (r *ChaosResults) WriteJSON(path string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}
