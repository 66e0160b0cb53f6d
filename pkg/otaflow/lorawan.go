package otaflow

import (
	"strconv"
	"time"

	"github.com/otaplane/ota/pkg/model"
)

// LoRaWAN workflow names. Registered names are part of persisted histories.
const (
	// LoRaWANDeviceWorkflow creates, updates or deletes a device in ChirpStack and
	// mirrors it in the database, compensating so the two never disagree.
	LoRaWANDeviceWorkflow = "LORAWAN_DEVICE_SYNC"
	// LoRaWANReconcileWorkflow reports and repairs drift between ChirpStack and the
	// database (on demand, and on a Cadence cron schedule).
	LoRaWANReconcileWorkflow = "LORAWAN_RECONCILE"
	// FUOTAWorkflow runs one ChirpStack FUOTA deployment for devices sharing a profile.
	FUOTAWorkflow = "LORAWAN_FUOTA_DEPLOYMENT"
	// DeviceHoldWorkflow holds a device's update id (DeviceWorkflowID) for a campaign's
	// FUOTA deployment, so that Cadence refuses any other update of the device meanwhile,
	// as it does for an MQTT device's run.
	DeviceHoldWorkflow = "OTA_DEVICE_HOLD"

	ActivityFUOTAPrepare  = "fuota_prepare"
	ActivityFUOTAStart    = "fuota_start"
	ActivityFUOTAStatus   = "fuota_status"
	ActivityFUOTAConfirm  = "fuota_confirm_versions"
	ActivityFUOTARecord   = "fuota_record"
	ActivityFUOTACleanup  = "fuota_cleanup"
	ActivityFUOTAProgress = "fuota_progress"
)

// LoRaWANDeviceWorkflowID serializes changes to one LoRaWAN device.
func LoRaWANDeviceWorkflowID(deviceID string) string { return "lorawan-device:" + deviceID }

// ReconcileWorkflowID is the tenant's one reconcile run (and cron schedule).
const ReconcileWorkflowID = "lorawan-reconcile"

// FUOTAWorkflowID names a campaign's deployment for one device profile and wave.
func FUOTAWorkflowID(campaignID, profileID string, wave int) string {
	return "fuota:" + campaignID + ":" + profileID + ":" + strconv.Itoa(wave)
}

// DeviceHoldInput starts OTA_DEVICE_HOLD as a child of the deployment holding the device.
type DeviceHoldInput struct {
	DeviceID   string
	CampaignID string
	// DeploymentWorkflowID is the LORAWAN_FUOTA_DEPLOYMENT run the device belongs to; the
	// hold's state query points there.
	DeploymentWorkflowID string
}

// FUOTAParams are the multicast and fragmentation settings of a deployment. Zero values
// take the defaults computed from the image (see DefaultFUOTAParams).
type FUOTAParams struct {
	MulticastClass    string   `json:"multicast_class,omitempty"` // "B" or "C"
	DataRate          int      `json:"data_rate,omitempty"`
	Frequency         int      `json:"frequency,omitempty"`
	PingSlotPeriod    int      `json:"ping_slot_period,omitempty"`
	FragmentSize      int      `json:"fragment_size,omitempty"`
	RedundancyPercent int      `json:"redundancy_percent,omitempty"`
	MulticastTimeout  int      `json:"multicast_timeout,omitempty"` // ChirpStack's 2^n seconds exponent
	UnicastMaxRetries int      `json:"unicast_max_retries,omitempty"`
	PollInterval      Duration `json:"poll_interval,omitempty"`
	DeploymentTimeout Duration `json:"deployment_timeout,omitempty"`
	ConfirmTimeout    Duration `json:"confirm_timeout,omitempty"`
}

// RunBound bounds a whole LORAWAN_FUOTA_DEPLOYMENT run: following the deployment,
// confirming versions, and an hour for everything around them.
func (p FUOTAParams) RunBound() time.Duration {
	return p.DeploymentTimeout.D() + p.ConfirmTimeout.D() + time.Hour
}

// FUOTADevice is one member of a deployment.
type FUOTADevice struct {
	DeviceID    string
	DevEUI      string
	FromVersion string
}

// FUOTAInput starts LORAWAN_FUOTA_DEPLOYMENT.
type FUOTAInput struct {
	TenantID        string
	CampaignID      string // empty for a single-device update
	Firmware        FirmwareRef
	DeviceProfileID string
	ApplicationID   string
	Devices         []FUOTADevice
	Params          FUOTAParams
	// Policy holds the readiness rules applied before a device joins the deployment.
	Policy UpdatePolicy
}

// FUOTADeviceStatus is where ChirpStack says one device is in a deployment.
type FUOTADeviceStatus struct {
	DevEUI    string
	State     model.DeviceState
	Error     string
	Completed bool
	UpdatedAt time.Time
}

// FUOTAStatus is one poll of a deployment.
type FUOTAStatus struct {
	DeploymentID string
	Completed    bool
	Devices      []FUOTADeviceStatus
}

// FUOTAResult is the deployment's outcome per device, in input order.
type FUOTAResult struct {
	DeploymentID string
	States       []model.DeviceState
	Reasons      []string
	// DeviceIDs name the devices of States and Reasons (same order); set by the state
	// query, so a device's live state can be picked out.
	DeviceIDs []string `json:",omitempty"`
}

// Validate checks deployment settings; field names are relative to prefix.
func (p FUOTAParams) Validate(prefix string) error {
	switch p.MulticastClass {
	case "", "B", "C", "b", "c":
	default:
		return fieldf(prefix+"multicast_class", "must be B or C")
	}
	switch {
	case p.DataRate < 0 || p.DataRate > 15:
		return fieldf(prefix+"data_rate", "must be between 0 and 15")
	case p.Frequency < 0:
		return fieldf(prefix+"frequency", "must be a frequency in Hz")
	case p.PingSlotPeriod < 0 || p.PingSlotPeriod > 7:
		return fieldf(prefix+"ping_slot_period", "must be between 0 and 7")
	case p.FragmentSize < 0 || p.FragmentSize > 242:
		return fieldf(prefix+"fragment_size", "must be between 1 and 242 bytes (0 = computed)")
	case p.RedundancyPercent < 0 || p.RedundancyPercent > 100:
		return fieldf(prefix+"redundancy_percent", "must be between 0 and 100")
	case p.MulticastTimeout < 0 || p.MulticastTimeout > 15:
		return fieldf(prefix+"multicast_timeout", "must be between 0 and 15 (2^n seconds)")
	case p.UnicastMaxRetries < 0 || p.UnicastMaxRetries > 10:
		return fieldf(prefix+"unicast_max_retries", "must be between 0 and 10")
	case p.PollInterval < 0 || p.DeploymentTimeout < 0 || p.ConfirmTimeout < 0:
		return fieldf(prefix+"poll_interval", "durations must not be negative")
	}
	return nil
}

// Merge returns p with every zero field taken from defaults.
func (p FUOTAParams) Merge(defaults FUOTAParams) FUOTAParams {
	if p.MulticastClass == "" {
		p.MulticastClass = defaults.MulticastClass
	}
	for _, f := range []struct{ v, d *int }{
		{&p.DataRate, &defaults.DataRate}, {&p.Frequency, &defaults.Frequency},
		{&p.PingSlotPeriod, &defaults.PingSlotPeriod}, {&p.FragmentSize, &defaults.FragmentSize},
		{&p.RedundancyPercent, &defaults.RedundancyPercent}, {&p.MulticastTimeout, &defaults.MulticastTimeout},
		{&p.UnicastMaxRetries, &defaults.UnicastMaxRetries},
	} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	for _, f := range []struct{ v, d *Duration }{
		{&p.PollInterval, &defaults.PollInterval}, {&p.DeploymentTimeout, &defaults.DeploymentTimeout},
		{&p.ConfirmTimeout, &defaults.ConfirmTimeout},
	} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	return p
}

func fieldf(field, format string, args ...any) error { return model.Fieldf(field, format, args...) }
