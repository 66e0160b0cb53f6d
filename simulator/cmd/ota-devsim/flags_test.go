package main

import (
	"testing"
	"time"

	"github.com/otaplane/ota/simulator/devicesim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    func(t *testing.T, o options)
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"--api-key", "k"},
			want: func(t *testing.T, o options) {
				assert.Empty(t, o.broker, "the broker the API names")
				assert.Equal(t, "http://127.0.0.1:8080", o.api)
				assert.Equal(t, 5, o.count)
				assert.Equal(t, "sim-", o.prefix)
				assert.Equal(t, "sim-board-v1", o.model)
				assert.Equal(t, "1.0.0", o.version)
				assert.Equal(t, 10*time.Second, o.heartbeat)
				assert.Equal(t, 500*time.Millisecond, o.stepDelay)
				assert.True(t, o.progress)
				assert.False(t, o.register)
			},
		},
		{
			name: "overrides",
			args: []string{"--api-key", "k", "--register", "--count", "3", "--heartbeat", "1s", "--progress=false"},
			want: func(t *testing.T, o options) {
				assert.True(t, o.register)
				assert.Equal(t, 3, o.count)
				assert.Equal(t, time.Second, o.heartbeat)
				assert.False(t, o.progress)
			},
		},
		{name: "no key", args: []string{"--tenant", "t", "--register"}, wantErr: "--api-key is required"},
		{name: "zero count", args: []string{"--api-key", "k", "--count", "0"}, wantErr: "--count"},
		{name: "stray argument", args: []string{"--api-key", "k", "extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.want(t, o)
		})
	}
}

func TestParseBehaviors(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]devicesim.Behavior
		wantErr bool
	}{
		{in: "", want: map[string]devicesim.Behavior{}},
		{
			in: "sim-0004=install_failure, sim-0005=silent",
			want: map[string]devicesim.Behavior{
				"sim-0004": devicesim.BehaviorInstallFailure,
				"sim-0005": devicesim.BehaviorSilent,
			},
		},
		{in: "sim-0001=offline,", want: map[string]devicesim.Behavior{"sim-0001": devicesim.BehaviorOffline}},
		{in: "sim-0001", wantErr: true},
		{in: "=silent", wantErr: true},
		{in: "sim-0001=flaky", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBehaviors(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDevices(t *testing.T) {
	o := options{count: 5, prefix: "sim-", model: "m", version: "1.0.0", fail: "sim-0004=install_failure,sim-0005=silent"}
	specs, err := o.devices()
	require.NoError(t, err)
	require.Len(t, specs, 5)
	assert.Equal(t, "sim-0001", specs[0].ID)
	assert.Equal(t, devicesim.BehaviorNormal, specs[0].Behavior)
	assert.Equal(t, devicesim.BehaviorInstallFailure, specs[3].Behavior)
	assert.Equal(t, devicesim.BehaviorSilent, specs[4].Behavior)
	for _, s := range specs {
		assert.Equal(t, "m", s.HardwareModel)
		assert.Equal(t, "1.0.0", s.FirmwareVersion)
		assert.True(t, s.BatteryPercent > 0 && s.BatteryPercent <= 100)
	}

	o.count = 12_345
	o.fail = ""
	specs, err = o.devices()
	require.NoError(t, err)
	assert.Equal(t, "sim-00001", specs[0].ID, "ids widen to fit the count")

	o.count = 3
	o.fail = "sim-0009=silent"
	_, err = o.devices()
	assert.ErrorContains(t, err, "sim-0009")
}
