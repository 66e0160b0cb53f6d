package devicesim

import (
	"fmt"
	"testing"
	"time"

	"github.com/otaplane/ota/proto/manifest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBehaviorString(t *testing.T) {
	tests := []struct {
		b    Behavior
		want string
	}{
		{BehaviorNormal, "normal"},
		{BehaviorOffline, "offline"},
		{BehaviorBadChecksum, "bad_checksum"},
		{BehaviorInstallFailure, "install_failure"},
		{BehaviorSilent, "silent"},
		{Behavior(0), "Behavior(0)"},
		{Behavior(42), "Behavior(42)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.b.String())
	}
}

func TestParseBehavior(t *testing.T) {
	tests := []struct {
		in      string
		want    Behavior
		wantErr bool
	}{
		{in: "normal", want: BehaviorNormal},
		{in: "OFFLINE", want: BehaviorOffline},
		{in: "bad-checksum", want: BehaviorBadChecksum},
		{in: " install_failure ", want: BehaviorInstallFailure},
		{in: "silent", want: BehaviorSilent},
		{in: "", wantErr: true},
		{in: "flaky", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBehavior(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	// Every behavior round-trips through its name.
	for b := BehaviorNormal; b <= BehaviorSilent; b++ {
		got, err := ParseBehavior(b.String())
		require.NoError(t, err)
		assert.Equal(t, b, got)
	}
}

func TestNewFleetValidation(t *testing.T) {
	good := Config{BrokerURL: "tcp://127.0.0.1:1883", TenantID: "t1"}
	dev := DeviceSpec{ID: "d1", HardwareModel: "m", FirmwareVersion: "1.0.0"}

	tests := []struct {
		name    string
		edit    func(c *Config, d *DeviceSpec)
		devices int
		wantErr string
	}{
		{name: "valid", edit: func(*Config, *DeviceSpec) {}},
		{name: "no broker", edit: func(c *Config, _ *DeviceSpec) { c.BrokerURL = "" }, wantErr: "broker"},
		{name: "no tenant", edit: func(c *Config, _ *DeviceSpec) { c.TenantID = "" }, wantErr: "tenant"},
		{name: "wildcard tenant", edit: func(c *Config, _ *DeviceSpec) { c.TenantID = "t/+" }, wantErr: "tenant"},
		{name: "negative delay", edit: func(c *Config, _ *DeviceSpec) { c.StepDelay = -time.Second }, wantErr: "negative"},
		{name: "empty device id", edit: func(_ *Config, d *DeviceSpec) { d.ID = "" }, wantErr: "empty id"},
		{name: "wildcard device id", edit: func(_ *Config, d *DeviceSpec) { d.ID = "a#" }, wantErr: "must not contain"},
		{name: "no model", edit: func(_ *Config, d *DeviceSpec) { d.HardwareModel = "" }, wantErr: "hardware model"},
		{name: "no version", edit: func(_ *Config, d *DeviceSpec) { d.FirmwareVersion = "" }, wantErr: "firmware version"},
		{name: "battery", edit: func(_ *Config, d *DeviceSpec) { d.BatteryPercent = 101 }, wantErr: "battery"},
		{name: "behavior", edit: func(_ *Config, d *DeviceSpec) { d.Behavior = 17 }, wantErr: "behavior"},
		{name: "duplicate id", edit: func(*Config, *DeviceSpec) {}, devices: 2, wantErr: "already exists"},
		{name: "another tenant's trust set", edit: func(c *Config, _ *DeviceSpec) {
			c.Trust = &manifest.TrustSet{TenantID: "another-tenant"}
		}, wantErr: "trust set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, d := good, dev
			tt.edit(&cfg, &d)
			specs := []DeviceSpec{d}
			for range tt.devices - 1 {
				specs = append(specs, d)
			}
			f, err := NewFleet(cfg, specs)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, defaultHeartbeatInterval, f.cfg.HeartbeatInterval)
		})
	}
}

func TestHeartbeatSlots(t *testing.T) {
	tests := []struct {
		n        int
		interval time.Duration
		want     int
	}{
		{n: 0, interval: 10 * time.Second, want: 1},
		{n: 3, interval: 10 * time.Second, want: 3},
		{n: 10_000, interval: 10 * time.Second, want: 2000},
		{n: 10_000, interval: time.Millisecond, want: 1},
		{n: 50, interval: 100 * time.Millisecond, want: 20},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d@%v", tt.n, tt.interval), func(t *testing.T) {
			got := heartbeatSlots(tt.n, tt.interval)
			assert.Equal(t, tt.want, got)
			// Every device lands in exactly one batch.
			covered := 0
			for s := range got {
				covered += (s+1)*tt.n/got - s*tt.n/got
			}
			assert.Equal(t, tt.n, covered)
		})
	}
}

func TestRecentIDs(t *testing.T) {
	r := recentIDs{limit: 3}
	for _, id := range []string{"a", "b", "c", "b"} {
		r.add(id)
	}
	for _, id := range []string{"a", "b", "c"} {
		assert.True(t, r.has(id), id)
	}
	r.add("d") // evicts the oldest, "a"
	assert.False(t, r.has("a"))
	for _, id := range []string{"b", "c", "d"} {
		assert.True(t, r.has(id), id)
	}
	assert.Len(t, r.set, 3)
}
