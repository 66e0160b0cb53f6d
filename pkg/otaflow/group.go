package otaflow

import (
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// A campaign runs its IP devices in groups: one OTA_UPDATE_GROUP workflow follows up to
// ota.devices_per_run devices, each through the same state machine as OTA_UPDATE_DEVICE.
// Cadence's cost is per workflow, so a group of 50 costs it a small fraction of 50 runs.
const (
	UpdateGroupWorkflow = "OTA_UPDATE_GROUP"
	// SignalMemberReports carries MemberReports from the report consumer to the group.
	SignalMemberReports = "member_reports"
	// QueryMemberState answers a member's DeviceRunState; its argument is the device id.
	QueryMemberState = "member_state"
)

// groupWorkflowPrefix starts every group's workflow id.
const groupWorkflowPrefix = "ota-group:"

// GroupWorkflowID is the id of the group named by key (a UUID).
func GroupWorkflowID(key string) string { return groupWorkflowPrefix + key }

// IsGroupWorkflowID says whether a workflow id names a group run.
func IsGroupWorkflowID(id string) bool { return strings.HasPrefix(id, groupWorkflowPrefix) }

// groupNamespace makes group keys.
var groupNamespace = uuid.MustParse("3e1c9a7d-52b8-4c0e-8f6a-91d2b5e4c7a3")

// GroupKey names the index-th group of one dispatch: the same on every retry of the
// dispatch, so a repeated start finds the group the first one started.
func GroupKey(dispatchID string, index int) string {
	return uuid.NewSHA1(groupNamespace, []byte(dispatchID+"/"+strconv.Itoa(index))).String()
}

// GroupRoute is what a member's command ids start with: the group's key and its run id,
// so the report consumer can signal the group without reading anything.
func GroupRoute(key, runID string) string { return key + "/" + runID }

// Route says which run a device's report goes to: its own run (Group empty), or the
// group run that holds it.
type Route struct {
	Group string
	RunID string
}

// WorkflowID is the id of the workflow that takes the report of deviceID.
func (r Route) WorkflowID(deviceID string) string {
	if r.Group != "" {
		return GroupWorkflowID(r.Group)
	}
	return DeviceWorkflowID(deviceID)
}

// RouteFromCommandID reads a command id a device sent: what CommandID makes of a run id
// (a UUID) or of a GroupRoute. Anything else names no run.
func RouteFromCommandID(commandID string) (Route, bool) {
	prefix, ok := commandPrefix(commandID)
	if !ok {
		return Route{}, false
	}
	if group, run, found := strings.Cut(prefix, "/"); found {
		if !isUUID(group) || !isUUID(run) {
			return Route{}, false
		}
		return Route{Group: group, RunID: run}, true
	}
	if !isUUID(prefix) {
		return Route{}, false
	}
	return Route{RunID: prefix}, true
}

// MemberReport is one report within MemberReports. DeviceID comes from the topic the
// report arrived on, which the broker ties to the device's own credentials.
type MemberReport struct {
	DeviceID string
	Report   DeviceReport
}

// MemberReports is the payload of SignalMemberReports: the reports of a group's devices
// that came within a short window, in the order they came.
type MemberReports struct {
	Reports []MemberReport
}

// UpdateGroupInput is OTA_UPDATE_GROUP's input: Devices of one campaign, one policy.
type UpdateGroupInput struct {
	TenantID   string
	CampaignID string
	Key        string
	Firmware   FirmwareRef
	Policy     UpdatePolicy
	DeviceIDs  []string
}

// Member is one device's input within its group.
func (in UpdateGroupInput) Member(deviceID string) UpdateDeviceInput {
	return UpdateDeviceInput{TenantID: in.TenantID, DeviceID: deviceID, CampaignID: in.CampaignID,
		Firmware: in.Firmware, Policy: in.Policy, InGroup: true}
}

// UpdateGroupResult is the group's outcome: each member's, in input order.
type UpdateGroupResult struct {
	Members []UpdateDeviceResult
}
