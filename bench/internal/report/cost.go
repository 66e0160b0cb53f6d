package report

// HistoryCost is what a campaign left in Cadence's histories: the main lever of its
// cost, since every event is persisted and every decision task is a round trip through
// matching, the worker and the history service.
type HistoryCost struct {
	// A sample of the campaign's workflow runs (evenly spread over it), and the device
	// runs they held: a group run holds many. Per-device figures divide the sample's
	// events by the device runs it held.
	WorkflowRunsSampled int     `json:"workflow_runs_sampled"`
	DeviceRunsSampled   int     `json:"device_runs_sampled"`
	EventsPerRun        float64 `json:"events_per_device_run"`
	DecisionsPerRun     float64 `json:"decision_tasks_per_device_run"`
	SignalsPerRun       float64 `json:"signals_per_device_run"`
	TimersPerRun        float64 `json:"timers_per_device_run"`
	// EventTypesPerRun is the mean count of each event type in a device run.
	EventTypesPerRun map[string]float64 `json:"event_types_per_device_run,omitempty"`
	// The campaign's own history, over every execution of its continue-as-new chain.
	CampaignRuns               int     `json:"campaign_executions"`
	CampaignEvents             int     `json:"campaign_events"`
	CampaignDecisions          int     `json:"campaign_decision_tasks"`
	CampaignEventsPerDevice    float64 `json:"campaign_events_per_device"`
	CampaignDecisionsPerDevice float64 `json:"campaign_decision_tasks_per_device"`
	// CampaignMaxRunEvents is the longest single execution's history.
	CampaignMaxRunEvents int    `json:"campaign_max_execution_events"`
	Error                string `json:"error,omitempty"`
}

// Postgres is what PostgreSQL did during a campaign: per-database writes, per-table
// activity, and which statements were running when sampled (a profile without
// pg_stat_statements, which would need a server restart).
type Postgres struct {
	Databases []DBActivity `json:"databases"`
	// Samples of pg_stat_activity taken, per tenth of the campaign's progress.
	SamplesPerDecile []int `json:"samples_per_decile"`
	// Statements running in the samples, most frequent first.
	Statements []SampledStatement `json:"statements"`
	// Waits are the wait events of the active backends, most frequent first.
	Waits []SampledStatement `json:"waits"`
	Error string             `json:"error,omitempty"`
}

// DBActivity is one database's work over the campaign, per device.
type DBActivity struct {
	Role             string  `json:"role"` // app, cadence, cadence_visibility
	Name             string  `json:"name"`
	CommitsPerDevice float64 `json:"commits_per_device"`
	// StatementsPerDevice is from pg_stat_statements; nil when the server does not load it.
	StatementsPerDevice *float64        `json:"statements_per_device,omitempty"`
	InsertedPerDevice   float64         `json:"rows_inserted_per_device"`
	UpdatedPerDevice    float64         `json:"rows_updated_per_device"`
	DeletedPerDevice    float64         `json:"rows_deleted_per_device"`
	FetchedPerDevice    float64         `json:"rows_fetched_per_device"`
	ReturnedPerDevice   float64         `json:"rows_returned_per_device"`
	BlocksReadPerDev    float64         `json:"blocks_read_per_device"`
	Tables              []TableActivity `json:"tables"`
	DeadRowsAtEnd       int64           `json:"dead_rows_at_end"`
	LiveRowsAtEnd       int64           `json:"live_rows_at_end"`
	AutovacuumsDuring   int64           `json:"autovacuums_during"`
	AutoanalyzesDuring  int64           `json:"autoanalyzes_during"`
}

// TableActivity is one table's counters over the campaign, and its size at the end.
type TableActivity struct {
	Table       string `json:"table"`
	Inserted    int64  `json:"inserted"`
	Updated     int64  `json:"updated"`
	HotUpdated  int64  `json:"hot_updated"`
	Deleted     int64  `json:"deleted"`
	SeqScans    int64  `json:"seq_scans"`
	SeqRowsRead int64  `json:"seq_rows_read"`
	IdxScans    int64  `json:"idx_scans"`
	IdxFetched  int64  `json:"idx_rows_fetched"`
	LiveRows    int64  `json:"live_rows_at_end"`
	DeadRows    int64  `json:"dead_rows_at_end"`
	Autovacuums int64  `json:"autovacuums"`
}

// SampledStatement is a statement (or wait event) seen running, and how often per tenth
// of the campaign's progress.
type SampledStatement struct {
	Role      string `json:"role"`
	Text      string `json:"text"`
	Samples   int    `json:"samples"`
	PerDecile []int  `json:"per_decile"`
}
