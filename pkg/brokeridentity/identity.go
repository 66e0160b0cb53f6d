// Package brokeridentity says who may do what on the MQTT broker: one identity per
// device, scoped to its own topics; one for the worker fleet; one for ChirpStack's MQTT
// integration. The broker's authentication plugin (broker/) enforces these rules; this
// package only decides (pure, no I/O), so the rules are tested where they are written.
package brokeridentity

import (
	"strconv"
	"strings"

	"github.com/otaplane/ota/proto/topic"
)

// Access is what a client wants to do with a topic, as the broker asks.
type Access int

const (
	// Read: a message on the topic is about to be delivered to the client.
	Read Access = iota + 1
	// Write: the client publishes on the topic.
	Write
	// Subscribe: the client subscribes with the topic as filter.
	Subscribe
	// Unsubscribe: the client unsubscribes.
	Unsubscribe
)

// Kind is what an identity stands for.
type Kind int

const (
	KindDevice Kind = iota + 1
	KindWorker
	KindChirpStack
)

// Identity is an authenticated client.
type Identity struct {
	Kind Kind
	// TenantID and DeviceID are set for a device.
	TenantID string
	DeviceID string
}

// DeviceClientID is the only MQTT client id a device's credentials connect with: no one
// can take over a device's session, and a device cannot pose as another client.
func DeviceClientID(tenantID, deviceID string) string { return tenantID + ":" + deviceID }

// DeviceUsername names one generation of a device's credentials: rotation adds the next
// generation before the previous one is retired, so a device never has none.
func DeviceUsername(tenantID, deviceID string, generation int) string {
	return DeviceClientID(tenantID, deviceID) + ":" + strconv.Itoa(generation)
}

// ParseDeviceUsername is the inverse of DeviceUsername.
func ParseDeviceUsername(username string) (tenantID, deviceID string, generation int, ok bool) {
	first := strings.IndexByte(username, ':')
	last := strings.LastIndexByte(username, ':')
	if first <= 0 || last <= first {
		return "", "", 0, false
	}
	tenantID, deviceID = username[:first], username[first+1:last]
	g, err := strconv.Atoi(username[last+1:])
	if err != nil || g < 1 || strconv.Itoa(g) != username[last+1:] || !topic.ValidTenantID(tenantID) || !topic.ValidIdent(deviceID) {
		return "", "", 0, false
	}
	return tenantID, deviceID, g, true
}

// ChirpStackEvents is what ChirpStack's MQTT integration publishes.
const ChirpStackEvents = "application/+/device/+/event/+"

// Allowed decides one access. A device publishes its own reports, heartbeats and
// status and reads and subscribes to its own commands, nothing else. Workers read the
// device feed and ChirpStack's events (directly or through shared subscriptions of any
// group) and publish commands. ChirpStack alone publishes under application/#.
func Allowed(id Identity, t string, access Access) bool {
	switch id.Kind {
	case KindDevice:
		return deviceAllowed(id, t, access)
	case KindWorker:
		return workerAllowed(t, access)
	case KindChirpStack:
		return chirpStackAllowed(t, access)
	}
	return false
}

func deviceAllowed(id Identity, t string, access Access) bool {
	switch access {
	case Write:
		return t == topic.Reports(id.TenantID, id.DeviceID) || t == topic.Heartbeat(id.TenantID, id.DeviceID) ||
			t == topic.Status(id.TenantID, id.DeviceID)
	case Read, Subscribe, Unsubscribe:
		return t == topic.Commands(id.TenantID, id.DeviceID)
	}
	return false
}

// workerFeed is what workers consume.
var workerFeed = []string{topic.AllDevices(topic.KindReports), topic.AllDevices(topic.KindStatus),
	topic.AllDevices(topic.KindHeartbeat), ChirpStackEvents}

func workerAllowed(t string, access Access) bool {
	switch access {
	case Write:
		return matches(topic.AllDevices(topic.KindCommands), t)
	case Read:
		for _, f := range workerFeed {
			if matches(f, t) {
				return true
			}
		}
	case Subscribe, Unsubscribe:
		filter := sharedFilter(t)
		for _, f := range workerFeed {
			if covers(f, filter) {
				return true
			}
		}
	}
	return false
}

// chirpStackGateways are the gateway topics ChirpStack's network server and its gateway
// bridge exchange ({region}/gateway/{gateway id}/{event|state|command}/{type}): both
// connect with ChirpStack's identity.
var chirpStackGateways = []string{"+/gateway/+/event/+", "+/gateway/+/state/+", "+/gateway/+/command/+"}

func chirpStackAllowed(t string, access Access) bool {
	const downlinks = "application/+/device/+/command/+"
	feeds := append([]string{downlinks}, chirpStackGateways...)
	switch access {
	case Write:
		if strings.HasPrefix(t, "application/") && !strings.ContainsAny(t, "+#") {
			return true
		}
		for _, f := range chirpStackGateways {
			if matches(f, t) {
				return true
			}
		}
	case Read:
		for _, f := range feeds {
			if matches(f, t) {
				return true
			}
		}
	case Subscribe, Unsubscribe:
		filter := sharedFilter(t)
		// The bridge subscribes to its gateways' commands with a trailing '#'.
		if prefix, ok := strings.CutSuffix(filter, "/#"); ok && covers("+/gateway/+/command", prefix) {
			return true
		}
		for _, f := range feeds {
			if covers(f, filter) {
				return true
			}
		}
	}
	return false
}

// sharedFilter strips a shared subscription's $share/{group}/ prefix.
func sharedFilter(filter string) string {
	rest, ok := strings.CutPrefix(filter, "$share/")
	if !ok {
		return filter
	}
	if i := strings.IndexByte(rest, '/'); i > 0 {
		return rest[i+1:]
	}
	return ""
}

// covers reports whether every topic a subscription filter matches is matched by
// pattern, whose only wildcard is '+' (a filter with '#' is never covered).
func covers(pattern, filter string) bool {
	if strings.Contains(filter, "#") {
		return false
	}
	ps, fs := strings.Split(pattern, "/"), strings.Split(filter, "/")
	if len(ps) != len(fs) {
		return false
	}
	for i := range ps {
		switch {
		case fs[i] == "":
			return false
		case ps[i] == "+":
		case fs[i] != ps[i]:
			return false
		}
	}
	return true
}

// matches reports whether a concrete topic t (no wildcards) matches filter, whose only
// wildcard is '+'.
func matches(filter, t string) bool {
	if strings.ContainsAny(t, "+#") {
		return false
	}
	fs, ts := strings.Split(filter, "/"), strings.Split(t, "/")
	if len(fs) != len(ts) {
		return false
	}
	for i := range fs {
		if fs[i] != "+" && fs[i] != ts[i] {
			return false
		}
		if fs[i] == "+" && ts[i] == "" {
			return false
		}
	}
	return true
}
