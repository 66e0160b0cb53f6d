// Package report holds the benchmark's results, checks them against the targets and
// writes them as JSON and Markdown.
package report

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"time"

	"github.com/otaplane/ota/bench/internal/procstat"
)

// Provenance is when, where and on which commit a benchmark invocation ran; every
// result file starts with it.
type Provenance struct {
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Machine  procstat.Machine `json:"machine"`
	Commit   string           `json:"commit,omitempty"`
}

// NewProvenance is the provenance of an invocation starting now on this machine.
func NewProvenance(started time.Time, commit string) Provenance {
	return Provenance{Started: started, Machine: procstat.ReadMachine(), Commit: commit}
}

// Results is everything one benchmark invocation measured.
type Results struct {
	Provenance
	Settings map[string]any `json:"settings"`
	Runs     []Run          `json:"runs"`
	Checks   []Check        `json:"checks"`
}

// Run is one scenario at one fleet size on a freshly started stack.
type Run struct {
	Name        string `json:"name"`
	Scenario    string `json:"scenario"`
	Persistence string `json:"persistence"`
	Workers     int    `json:"workers"`
	Devices     int    `json:"devices"`
	InFlight    int    `json:"campaign_in_flight"`
	Error       string `json:"error,omitempty"`

	SetupSeconds float64 `json:"setup_seconds"`
	// DispatchTimeouts counts the dev server's "Async task dispatch timed out" warnings,
	// which come with the pauses.
	DispatchTimeouts int     `json:"cadence_dispatch_timeouts"`
	DeviceCreation   string  `json:"device_creation,omitempty"`
	CreateSeconds    float64 `json:"device_create_seconds,omitempty"`

	Small    *SmallCampaigns `json:"small_campaigns,omitempty"`
	Campaign *Campaign       `json:"campaign,omitempty"`
	Status   *StatusLoad     `json:"status_load,omitempty"`
	Raw      *RawFanout      `json:"raw_fanout,omitempty"`
	Memory   *InFlightMemory `json:"in_flight_memory,omitempty"`
	Scale    *Scale          `json:"scale,omitempty"`
}

// SmallCampaigns are campaigns of a few devices each, run one after another on an idle
// system, to measure execute latency where the fleet size cannot matter.
type SmallCampaigns struct {
	Size            int       `json:"devices_each"`
	WarmupExecuteMs float64   `json:"warmup_execute_ms"`
	ExecuteMs       []float64 `json:"execute_ms"`
	ExecuteP50Ms    float64   `json:"execute_p50_ms"`
	CompleteSeconds []float64 `json:"complete_seconds"`
}

// Campaign is the measured campaign over all the run's devices.
type Campaign struct {
	ID              string             `json:"id"`
	ExecuteMs       float64            `json:"execute_ms"`
	Seconds         float64            `json:"seconds"`
	DevicesPerMin   float64            `json:"devices_per_min"`
	State           string             `json:"state"`
	Succeeded       int                `json:"succeeded"`
	Failed          int                `json:"failed"`
	Counts          map[string]int     `json:"status_counts"`
	CPUMsPerDevice  map[string]float64 `json:"cpu_ms_per_device"`
	WorkerPeakMiB   []float64          `json:"worker_peak_rss_mib"`
	StatusPollFails int                `json:"status_poll_failures"`
	// Pauses are stretches of 10 s or more in which no device run finished.
	Pauses        int     `json:"pauses"`
	PausedSeconds float64 `json:"paused_seconds"`
	// WorkerCounters are the workers' ota_* metrics at completion, summed.
	WorkerCounters map[string]float64 `json:"worker_counters,omitempty"`
	// Progress is the pace over time, runs in flight and the machine's CPU use.
	Progress *Progress `json:"progress,omitempty"`
	// History is what the campaign cost in Cadence histories.
	History *HistoryCost `json:"history,omitempty"`
	// Postgres is what PostgreSQL did meanwhile.
	Postgres *Postgres `json:"postgres,omitempty"`
}

// StatusLoad is the latency of GET …/status under many concurrent clients.
type StatusLoad struct {
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	PerSecond  float64 `json:"requests_per_second"`
	Latency
	// Device runs finished while the load ran, and their pace; with no time limit the
	// load lasts the whole campaign.
	RunsFinished int     `json:"device_runs_finished_during_load"`
	RunsPerMin   float64 `json:"devices_per_min_during_load"`
	// The campaign the load ran against (a second one over the same devices).
	CampaignSeconds       float64 `json:"campaign_seconds"`
	CampaignDevicesPerMin float64 `json:"campaign_devices_per_min"`
}

// RawFanout is the same per-device work without orchestration.
type RawFanout struct {
	Devices        int                `json:"devices"`
	Parallel       int                `json:"parallel"`
	Seconds        float64            `json:"seconds"`
	DevicesPerMin  float64            `json:"devices_per_min"`
	Ratio          float64            `json:"orchestrated_to_raw"`
	CPUMsPerDevice map[string]float64 `json:"cpu_ms_per_device"`
}

// InFlightMemory is the worker's memory with every run of a campaign in flight at once.
type InFlightMemory struct {
	Campaigns       int       `json:"campaigns"`
	ExecuteMs       []float64 `json:"execute_ms"`
	InFlight        int       `json:"in_flight"`
	Commanded       int       `json:"commanded"`
	AllCommanded    bool      `json:"all_commanded"`
	Seconds         float64   `json:"seconds_waited"`
	WorkerPeakMiB   float64   `json:"worker_peak_rss_mib"`
	WorkerRSSMiB    float64   `json:"worker_rss_mib"`
	CadencePeakMiB  float64   `json:"cadence_peak_rss_mib"`
	StoppedBecause  string    `json:"stopped_because"`
	CPUMsPerCommand float64   `json:"cadence_cpu_ms_per_commanded_run"`
}

// Latency summarises samples in milliseconds.
type Latency struct {
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// Ms converts a duration to milliseconds with microsecond precision.
func Ms(d time.Duration) float64 { return Round(float64(d.Microseconds())/1000, 3) }

// Round rounds to the given number of decimals.
func Round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// Percentile is the nearest-rank percentile of sorted samples.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Summarize sorts samples (milliseconds) and summarises them.
func Summarize(samples []float64) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return Latency{P50Ms: Round(Percentile(s, 50), 3), P95Ms: Round(Percentile(s, 95), 3),
		P99Ms: Round(Percentile(s, 99), 3), MaxMs: Round(s[len(s)-1], 3), MeanMs: Round(sum/float64(len(s)), 3)}
}

// WriteJSON writes the results, indented.
func (r *Results) WriteJSON(path string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// Scale is the API with one very large campaign in the database and no device runs: the
// queries that grow with a campaign (status aggregate, dry run, device pages).
type Scale struct {
	Devices int `json:"devices"`
	// States is the mix of device states the campaign's rows were given.
	States map[string]int `json:"states"`
	// CreateSeconds is POST /ota/campaigns with every device id in the body.
	CreateSeconds float64 `json:"create_seconds"`
	// Aggregate is the store's status aggregate (the query behind GET …/status), called
	// directly, one after another: what one cache miss costs.
	Aggregate Latency `json:"status_aggregate"`
	// Status is GET …/status under many clients (answered from the shared cache).
	Status *StatusLoad `json:"status_load,omitempty"`
	// DryRun is POST …/dry-run, one after another.
	DryRun        Latency `json:"dry_run"`
	DryRunSamples int     `json:"dry_run_samples"`
	// DevicesPage is GET …/devices?after_seq=… for pages spread over the campaign.
	DevicesPage Latency `json:"devices_page"`
}
