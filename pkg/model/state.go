package model

// DeviceState is where one device's update run stands. The same vocabulary is used for
// every transport so campaign status counts mean one thing.
type DeviceState string

const (
	StatePending     DeviceState = "PENDING"
	StateChecking    DeviceState = "CHECKING"
	StateCommanded   DeviceState = "COMMANDED"
	StateDownloading DeviceState = "DOWNLOADING"
	StateInstalling  DeviceState = "INSTALLING"
	StateVerifying   DeviceState = "VERIFYING"
	// StateSoaking: installed and verified; the device must stay healthy on the new image
	// (heartbeating, not rebooting in a loop, not back on the old slot) for the soak.
	StateSoaking     DeviceState = "SOAKING"
	StateRollingBack DeviceState = "ROLLING_BACK"
	StateSucceeded   DeviceState = "SUCCEEDED"
	StateFailed      DeviceState = "FAILED"
	StateRolledBack  DeviceState = "ROLLED_BACK"
	StateTimedOut    DeviceState = "TIMED_OUT"
	StateCanceled    DeviceState = "CANCELED"
	StateRejected    DeviceState = "REJECTED"
)

// AllDeviceStates lists every state in lifecycle order (status responses use it so
// every count is present, zero or not).
var AllDeviceStates = []DeviceState{
	StatePending, StateChecking, StateCommanded, StateDownloading, StateInstalling,
	StateVerifying, StateSoaking, StateRollingBack, StateSucceeded, StateFailed, StateRolledBack,
	StateTimedOut, StateCanceled, StateRejected,
}

// rankTerminal is shared by every terminal state: nothing may overwrite one.
const rankTerminal = 100

// Rank orders states so concurrent writers (activities, the report consumer) can only move
// a device forward: a late DOWNLOADING report never overwrites SUCCEEDED.
func (s DeviceState) Rank() int {
	switch s {
	case StatePending:
		return 1
	case StateChecking:
		return 2
	case StateCommanded:
		return 3
	case StateDownloading:
		return 4
	case StateInstalling:
		return 5
	case StateVerifying:
		return 6
	case StateSoaking:
		return 7
	case StateRollingBack:
		return 8
	case StateSucceeded, StateFailed, StateRolledBack, StateTimedOut, StateCanceled, StateRejected:
		return rankTerminal
	default:
		return 0
	}
}

// Terminal reports whether the run is over.
func (s DeviceState) Terminal() bool { return s.Rank() == rankTerminal }

// Valid reports whether s is a known state.
func (s DeviceState) Valid() bool { return s.Rank() > 0 }

// CampaignState is the lifecycle of a campaign.
type CampaignState string

const (
	// CampaignCreated: stored, not executed yet.
	CampaignCreated CampaignState = "CREATED"
	// CampaignScheduled: executing, but waiting for its maintenance window.
	CampaignScheduled CampaignState = "SCHEDULED"
	CampaignRunning   CampaignState = "RUNNING"
	CampaignPaused    CampaignState = "PAUSED"
	// CampaignWaitingApproval: a wave gate wants an operator's approve call.
	CampaignWaitingApproval CampaignState = "WAITING_APPROVAL"
	CampaignAborted         CampaignState = "ABORTED"
	CampaignCanceled        CampaignState = "CANCELED"
	CampaignCompleted       CampaignState = "COMPLETED"
	CampaignFailed          CampaignState = "FAILED"
)

// Terminal reports whether the campaign is over.
func (s CampaignState) Terminal() bool {
	switch s {
	case CampaignCompleted, CampaignCanceled, CampaignAborted, CampaignFailed:
		return true
	}
	return false
}

// Transport is how the control plane reaches a device.
type Transport string

const (
	TransportMQTT    Transport = "mqtt"
	TransportLoRaWAN Transport = "lorawan"
)
