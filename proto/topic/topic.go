// Package topic names the MQTT topics of the device protocol and parses them strictly:
// a tenant segment is a canonical UUID and a device segment an identifier, so a topic
// that parses can be used in SQL, workflow ids and log lines without further checks.
package topic

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Kind is the last segment of a device topic.
type Kind string

const (
	KindCommands  Kind = "commands"
	KindReports   Kind = "reports"
	KindHeartbeat Kind = "heartbeat"
	// KindStatus carries a device's restatement of where it stands (devicev1.Status).
	KindStatus Kind = "status"
)

// DefaultSharedGroup is the worker fleet's shared-subscription group: the broker hands
// each message to one member, so N worker replicas split the device traffic. Two
// deployments on one broker need different groups.
const DefaultSharedGroup = "ota-workers"

// Device returns {tenant}/devices/{device}/{kind}.
func Device(tenantID, deviceID string, kind Kind) string {
	return tenantID + "/devices/" + deviceID + "/" + string(kind)
}

// Commands is where the control plane publishes commands for one device.
func Commands(tenantID, deviceID string) string { return Device(tenantID, deviceID, KindCommands) }

// Reports is where a device publishes its progress reports.
func Reports(tenantID, deviceID string) string { return Device(tenantID, deviceID, KindReports) }

// Heartbeat is where a device publishes its periodic heartbeat.
func Heartbeat(tenantID, deviceID string) string { return Device(tenantID, deviceID, KindHeartbeat) }

// Status is where a device restates its state.
func Status(tenantID, deviceID string) string { return Device(tenantID, deviceID, KindStatus) }

// AllDevices is a filter matching one kind for every device of every tenant.
func AllDevices(kind Kind) string { return "+/devices/+/" + string(kind) }

// TenantDevices is a filter matching one kind for every device of one tenant.
func TenantDevices(tenantID string, kind Kind) string { return tenantID + "/devices/+/" + string(kind) }

// Shared wraps a filter in a shared subscription of group.
func Shared(group, filter string) string { return "$share/" + group + "/" + filter }

// identRE is the grammar of a device id (and hardware model): it never holds '/', '+',
// '#', spaces or control bytes, so it is one topic level and safe in workflow ids.
var identRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// uuidRE is the canonical, lower-case form the control plane gives tenant ids.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidIdent reports whether s may be a device id or hardware model.
func ValidIdent(s string) bool { return identRE.MatchString(s) }

// ValidTenantID reports whether s is a tenant id as the control plane issues them.
func ValidTenantID(s string) bool { return uuidRE.MatchString(s) }

// ErrBadTopic is wrapped by every Parse error.
var ErrBadTopic = errors.New("bad device topic")

// Parse splits a device topic into its parts, refusing any segment that is not what
// the control plane issues.
func Parse(t string) (tenantID, deviceID string, kind Kind, err error) {
	parts := strings.Split(t, "/")
	if len(parts) != 4 || parts[1] != "devices" {
		return "", "", "", fmt.Errorf("%w %.200q: want {tenant}/devices/{device}/{kind}", ErrBadTopic, t)
	}
	if !ValidTenantID(parts[0]) {
		return "", "", "", fmt.Errorf("%w %.200q: tenant segment is not a tenant id", ErrBadTopic, t)
	}
	if !ValidIdent(parts[2]) {
		return "", "", "", fmt.Errorf("%w %.200q: device segment is not a device id", ErrBadTopic, t)
	}
	switch k := Kind(parts[3]); k {
	case KindCommands, KindReports, KindHeartbeat, KindStatus:
		return parts[0], parts[2], k, nil
	default:
		return "", "", "", fmt.Errorf("%w %.200q: unknown kind", ErrBadTopic, t)
	}
}
