package commands

import "time"

// The API's resources as otactl shows them (see the API's OpenAPI description).

type tenant struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	CadenceDomain string `json:"cadence_domain"`
}

type device struct {
	ID              string            `json:"id"`
	Transport       string            `json:"transport"`
	HardwareModel   string            `json:"hardware_model"`
	FirmwareVersion string            `json:"firmware_version"`
	Labels          map[string]string `json:"labels"`
	LastSeenAt      *time.Time        `json:"last_seen_at"`
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	ClientID string `json:"client_id"`
	Broker   string `json:"broker"`
}

type group struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Selector    string `json:"selector"`
	MemberCount int    `json:"member_count"`
}

type firmware struct {
	ID            string    `json:"id"`
	Version       string    `json:"version"`
	HardwareModel string    `json:"hardware_model"`
	SHA256        string    `json:"sha256"`
	SizeBytes     int64     `json:"size_bytes"`
	CreatedAt     time.Time `json:"created_at"`
}

type campaign struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	FirmwareID    string `json:"firmware_id"`
	Target        string `json:"target"`
	State         string `json:"state"`
	StateReason   string `json:"state_reason"`
	DeviceCount   int    `json:"device_count"`
	WorkflowID    string `json:"workflow_id"`
	CadenceWebURL string `json:"cadence_web_url"`
}

type execution struct {
	CampaignID         string `json:"campaign_id"`
	WorkflowsSubmitted int    `json:"workflows_submitted"`
	WorkflowID         string `json:"workflow_id"`
	RunID              string `json:"run_id"`
	CadenceWebURL      string `json:"cadence_web_url"`
}

type runState struct {
	CampaignID string `json:"campaign_id"`
	State      string `json:"state"`
	Reason     string `json:"reason"`
	Paused     bool   `json:"paused"`
	Total      int    `json:"total"`
	Finished   int    `json:"finished"`
	InFlight   int    `json:"in_flight"`
}

type dryRun struct {
	Total    int `json:"total"`
	Eligible int `json:"eligible"`
	Waves    []struct {
		Wave        int      `json:"wave"`
		Name        string   `json:"name"`
		Devices     []string `json:"devices"`
		ConfirmOnly []string `json:"confirm_only"`
	} `json:"waves"`
	Excluded []struct {
		DeviceID string `json:"device_id"`
		Wave     int    `json:"wave"`
		Reason   string `json:"reason"`
	} `json:"excluded"`
}

type campaignDevice struct {
	Seq      int    `json:"seq"`
	Wave     int    `json:"wave"`
	Attempts int    `json:"attempts"`
	DeviceID string `json:"device_id"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
}

type deviceRun struct {
	DeviceID        string `json:"device_id"`
	CampaignID      string `json:"campaign_id"`
	State           string `json:"state"`
	Reason          string `json:"reason"`
	FromVersion     string `json:"from_version"`
	TargetVersion   string `json:"target_version"`
	ProgressPercent int    `json:"progress_percent"`
	History         []struct {
		State  string    `json:"state"`
		At     time.Time `json:"at"`
		Detail string    `json:"detail"`
	} `json:"history"`
	CadenceWebURL string `json:"cadence_web_url"`
}

type historyRow struct {
	FromVersion string    `json:"from_version"`
	ToVersion   string    `json:"to_version"`
	Outcome     string    `json:"outcome"`
	Reason      string    `json:"reason"`
	CampaignID  string    `json:"campaign_id"`
	CreatedAt   time.Time `json:"created_at"`
}

type updateStarted struct {
	WorkflowID    string `json:"workflow_id"`
	RunID         string `json:"run_id"`
	DeviceID      string `json:"device_id"`
	FirmwareID    string `json:"firmware_id"`
	CadenceWebURL string `json:"cadence_web_url"`
}

func since(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
