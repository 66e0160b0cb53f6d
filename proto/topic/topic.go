// Package topic names the MQTT topics of the device protocol. Tenant and device ids
// never contain '/', '+' or '#' (the API validates them), so a topic splits cleanly.
package topic

import (
	"fmt"
	"strings"
)

// Kind is the last segment of a device topic.
type Kind string

const (
	KindCommands  Kind = "commands"
	KindReports   Kind = "reports"
	KindHeartbeat Kind = "heartbeat"
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

// AllDevices is a filter matching one kind for every device of every tenant.
func AllDevices(kind Kind) string { return "+/devices/+/" + string(kind) }

// TenantDevices is a filter matching one kind for every device of one tenant.
func TenantDevices(tenantID string, kind Kind) string { return tenantID + "/devices/+/" + string(kind) }

// Shared wraps a filter in a shared subscription of group.
func Shared(group, filter string) string { return "$share/" + group + "/" + filter }

// Parse splits a device topic into its parts.
func Parse(t string) (tenantID, deviceID string, kind Kind, err error) {
	parts := strings.Split(t, "/")
	if len(parts) != 4 || parts[1] != "devices" || parts[0] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("topic %q: want {tenant}/devices/{device}/{kind}", t)
	}
	switch k := Kind(parts[3]); k {
	case KindCommands, KindReports, KindHeartbeat:
		return parts[0], parts[2], k, nil
	default:
		return "", "", "", fmt.Errorf("topic %q: unknown kind %q", t, parts[3])
	}
}
