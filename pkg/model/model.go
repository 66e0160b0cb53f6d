// Package model holds the validated domain types shared by the api and the worker.
package model

import (
	"encoding/json"
	"time"

	"github.com/otaplane/ota/pkg/access"
)

// Tenant owns devices, firmware and campaigns; it maps to one Cadence domain.
type Tenant struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	CadenceDomain string    `json:"cadence_domain"`
	CreatedAt     time.Time `json:"created_at"`
	// FourEyes: a campaign's execute and gate approvals need another key than its creator's.
	FourEyes bool `json:"four_eyes"`
}

// APIKey authenticates a fleet tool for one tenant with a role. Only a hash of the
// secret is kept; Prefix (the secret's first characters) tells keys apart in a list.
type APIKey struct {
	ID        string      `json:"id"`
	TenantID  string      `json:"-"`
	Name      string      `json:"name"`
	Role      access.Role `json:"role"`
	Prefix    string      `json:"prefix"`
	Hash      []byte      `json:"-"`
	CreatedAt time.Time   `json:"created_at"`
	ExpiresAt *time.Time  `json:"expires_at,omitempty"`
	RevokedAt *time.Time  `json:"revoked_at,omitempty"`
	RotatedAt *time.Time  `json:"rotated_at,omitempty"`
	// RotatedTo is the key that replaced this one.
	RotatedTo string `json:"rotated_to,omitempty"`
}

// Times are the key's lifecycle facts.
func (k APIKey) Times() access.KeyTimes {
	return access.KeyTimes{ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, RotatedAt: k.RotatedAt}
}

// Device is one managed device.
type Device struct {
	TenantID        string            `json:"-"`
	ID              string            `json:"id"`
	Transport       Transport         `json:"transport"`
	HardwareModel   string            `json:"hardware_model"`
	FirmwareVersion string            `json:"firmware_version"`
	Labels          map[string]string `json:"labels"`
	ReportedVersion string            `json:"reported_version,omitempty"`
	BatteryPercent  *int              `json:"battery_percent,omitempty"`
	LastSeenAt      *time.Time        `json:"last_seen_at,omitempty"`
	// BootCount is the device's boot counter from its heartbeats (or, for a device that
	// does not count, the uptime resets seen).
	BootCount int64     `json:"boot_count,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Firmware is one immutable image for one hardware model.
type Firmware struct {
	ID            string `json:"id"`
	TenantID      string `json:"-"`
	Version       string `json:"version"`
	HardwareModel string `json:"hardware_model"`
	SHA256        string `json:"sha256"`
	SizeBytes     int64  `json:"size_bytes"`
	// ReleaseCounter orders the model's releases (strictly increasing); with
	// ReleaseSignature (the release key's Ed25519 signature over the release statement)
	// and ReleaseKeyID it lets a device check the image. Zero and empty on an image
	// uploaded before signing that was never sent since.
	ReleaseCounter   int64     `json:"release_counter,omitempty"`
	ReleaseSignature []byte    `json:"release_signature,omitempty"`
	ReleaseKeyID     string    `json:"release_key_id,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// CampaignTarget names what a campaign updates.
type CampaignTarget string

const (
	// TargetDevices: an explicit list, fixed at creation.
	TargetDevices CampaignTarget = "devices"
	// TargetGroup: a group; a static group is frozen at creation, a dynamic one is
	// evaluated when dispatch starts.
	TargetGroup CampaignTarget = "group"
	// TargetSelector: a label selector, evaluated when dispatch starts.
	TargetSelector CampaignTarget = "selector"
)

// Campaign rolls one firmware out to a set of devices.
type Campaign struct {
	ID         string         `json:"id"`
	TenantID   string         `json:"-"`
	Name       string         `json:"name"`
	FirmwareID string         `json:"firmware_id"`
	Target     CampaignTarget `json:"target"`
	GroupID    string         `json:"group_id,omitempty"`
	Selector   string         `json:"selector,omitempty"`
	Continuous bool           `json:"continuous"`
	// Rollout is the validated rollout policy (otaflow.CampaignPolicy) as JSON.
	Rollout     json.RawMessage `json:"rollout"`
	State       CampaignState   `json:"state"`
	StateReason string          `json:"state_reason,omitempty"`
	DeviceCount int             `json:"device_count"`
	WorkflowID  string          `json:"workflow_id,omitempty"`
	RunID       string          `json:"run_id,omitempty"`
	// CreatedByKey is the API key that created the campaign (empty for older ones).
	CreatedByKey string     `json:"created_by_key,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
}

// CampaignDevice is one device's result within a campaign.
type CampaignDevice struct {
	CampaignID string      `json:"-"`
	Seq        int         `json:"seq"`
	Wave       int         `json:"wave"`
	Attempts   int         `json:"attempts"`
	DeviceID   string      `json:"device_id"`
	State      DeviceState `json:"state"`
	Reason     string      `json:"reason,omitempty"`
	WorkflowID string      `json:"workflow_id,omitempty"`
	RunID      string      `json:"run_id,omitempty"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// FirmwareHistory is one finished update attempt on one device.
type FirmwareHistory struct {
	ID          int64       `json:"id"`
	DeviceID    string      `json:"device_id"`
	CampaignID  string      `json:"campaign_id,omitempty"`
	FirmwareID  string      `json:"firmware_id,omitempty"`
	FromVersion string      `json:"from_version"`
	ToVersion   string      `json:"to_version"`
	Outcome     DeviceState `json:"outcome"`
	Reason      string      `json:"reason,omitempty"`
	// RunningVersion is what the device said it ran when the run ended ("" = unknown).
	RunningVersion string    `json:"running_version,omitempty"`
	WorkflowID     string    `json:"workflow_id"`
	RunID          string    `json:"run_id"`
	CreatedAt      time.Time `json:"created_at"`
}

// CampaignStatus aggregates the per-device states of one campaign.
type CampaignStatus struct {
	Total       int                 `json:"total"`
	Finished    int                 `json:"finished"`
	Counts      map[DeviceState]int `json:"status_counts"`
	ProgressPct float64             `json:"progress_percent"`
	Waves       []WaveStatus        `json:"waves"`
}

// WaveStatus counts one wave's devices by state.
type WaveStatus struct {
	Wave     int                 `json:"wave"`
	Total    int                 `json:"total"`
	Finished int                 `json:"finished"`
	Counts   map[DeviceState]int `json:"status_counts"`
}
