package brokeridentity

import (
	"testing"
)

const (
	tenant = "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01"
	other  = "9c0d0c87-5016-4749-b385-db2dc9cb6b70"
)

func TestAllowed(t *testing.T) {
	dev := Identity{Kind: KindDevice, TenantID: tenant, DeviceID: "d1"}
	worker := Identity{Kind: KindWorker}
	chirp := Identity{Kind: KindChirpStack}
	tests := []struct {
		name   string
		id     Identity
		topic  string
		access Access
		want   bool
	}{
		{"device reports", dev, tenant + "/devices/d1/reports", Write, true},
		{"device heartbeat", dev, tenant + "/devices/d1/heartbeat", Write, true},
		{"device status", dev, tenant + "/devices/d1/status", Write, true},
		{"device reads own commands", dev, tenant + "/devices/d1/commands", Read, true},
		{"device subscribes own commands", dev, tenant + "/devices/d1/commands", Subscribe, true},
		{"device publishes a command", dev, tenant + "/devices/d1/commands", Write, false},
		{"device writes a sibling's reports", dev, tenant + "/devices/d2/reports", Write, false},
		{"device writes another tenant's reports", dev, other + "/devices/d1/reports", Write, false},
		{"device subscribes to everything", dev, "#", Subscribe, false},
		{"device subscribes to all commands", dev, "+/devices/+/commands", Subscribe, false},
		{"device subscribes to its tenant's commands", dev, tenant + "/devices/+/commands", Subscribe, false},
		{"device reads a sibling's commands", dev, tenant + "/devices/d2/commands", Read, false},
		{"device forges a ChirpStack uplink", dev, "application/a/device/b/event/up", Write, false},
		{"device writes $SYS", dev, "$SYS/broker/x", Write, false},
		{"worker reads reports", worker, tenant + "/devices/d1/reports", Read, true},
		{"worker reads events", worker, "application/app/device/0102/event/up", Read, true},
		{"worker shares reports", worker, "$share/ota-workers/+/devices/+/reports", Subscribe, true},
		{"worker shares heartbeats", worker, "$share/g1/+/devices/+/heartbeat", Subscribe, true},
		{"worker subscribes plainly", worker, "+/devices/+/status", Subscribe, true},
		{"worker publishes a command", worker, tenant + "/devices/d1/commands", Write, true},
		{"worker subscribes to everything", worker, "#", Subscribe, false},
		{"worker subscribes to one tenant's reports", worker, tenant + "/devices/+/reports", Subscribe, true},
		{"worker subscribes to one app's events", worker, "application/app/device/+/event/up", Subscribe, true},
		{"worker subscribes to commands", worker, "+/devices/+/commands", Subscribe, false},
		{"worker subscribes with a trailing #", worker, tenant + "/devices/#", Subscribe, false},
		{"worker forges a report", worker, tenant + "/devices/d1/reports", Write, false},
		{"worker forges an uplink", worker, "application/a/device/b/event/up", Write, false},
		{"worker reads commands", worker, tenant + "/devices/d1/commands", Read, false},
		{"chirpstack publishes an uplink", chirp, "application/a/device/b/event/up", Write, true},
		{"chirpstack publishes a wildcard", chirp, "application/#", Write, false},
		{"chirpstack writes device reports", chirp, tenant + "/devices/d1/reports", Write, false},
		{"chirpstack reads downlinks", chirp, "application/a/device/b/command/down", Read, true},
		{"chirpstack subscribes to downlinks", chirp, "application/+/device/+/command/+", Subscribe, true},
		{"chirpstack bridge publishes a gateway event", chirp, "eu868/gateway/0102030405060708/event/up", Write, true},
		{"chirpstack subscribes to gateway events", chirp, "eu868/gateway/+/event/+", Subscribe, true},
		{"chirpstack bridge subscribes to its commands", chirp, "eu868/gateway/0102030405060708/command/#", Subscribe, true},
		{"chirpstack subscribes to everything", chirp, "#", Subscribe, false},
		{"device publishes a gateway event", dev, "eu868/gateway/0102030405060708/event/up", Write, false},
		{"nobody", Identity{}, tenant + "/devices/d1/reports", Write, false},
		{"empty level does not match +", worker, tenant + "/devices//reports", Read, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Allowed(tt.id, tt.topic, tt.access); got != tt.want {
				t.Fatalf("Allowed(%+v, %q, %d) = %v, want %v", tt.id, tt.topic, tt.access, got, tt.want)
			}
		})
	}
}

func TestDeviceUsername(t *testing.T) {
	u := DeviceUsername(tenant, "dev:1.a", 3)
	ten, dev, gen, ok := ParseDeviceUsername(u)
	if !ok || ten != tenant || dev != "dev:1.a" || gen != 3 {
		t.Fatalf("ParseDeviceUsername(%q) = %q %q %d %v", u, ten, dev, gen, ok)
	}
	for _, bad := range []string{"", "x", tenant + ":d", tenant + ":d:0", tenant + ":d:01", "acme:d:1", tenant + "::1",
		tenant + ":d/x:1", tenant + ":d:-1"} {
		if _, _, _, ok := ParseDeviceUsername(bad); ok {
			t.Errorf("ParseDeviceUsername(%q) accepted", bad)
		}
	}
}

func FuzzAllowed(f *testing.F) {
	f.Add(tenant+":d1:1", tenant+"/devices/d1/reports", 2)
	f.Add(tenant+":d1:1", "#", 3)
	f.Fuzz(func(t *testing.T, username, top string, access int) {
		ten, dev, _, ok := ParseDeviceUsername(username)
		if !ok {
			return
		}
		id := Identity{Kind: KindDevice, TenantID: ten, DeviceID: dev}
		if Allowed(id, top, Access(access)) && !(top == ten+"/devices/"+dev+"/reports" || top == ten+"/devices/"+dev+"/heartbeat" ||
			top == ten+"/devices/"+dev+"/status" || top == ten+"/devices/"+dev+"/commands") {
			t.Fatalf("device %s allowed on %q", username, top)
		}
	})
}
