package main

import (
	"testing"
	"time"

	"github.com/otaplane/ota/simulator/chirpstacksim"
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
			args: []string{"--api-token", "secret"},
			want: func(t *testing.T, o options) {
				assert.Equal(t, "127.0.0.1:8090", o.listen)
				assert.Equal(t, "tcp://127.0.0.1:1883", o.broker)
				assert.Equal(t, chirpstacksim.EncodingJSON, o.encoding)
				assert.Equal(t, 200*time.Millisecond, o.stepInterval)
				assert.InDelta(t, 1.0, o.timeoutScale, 0)
				assert.Equal(t, defaultApplicationID, o.appID)
				assert.Equal(t, defaultProfileID, o.profileID)
				so := o.serverOptions()
				assert.Equal(t, "secret", so.APIToken)
			},
		},
		{
			name: "overrides",
			args: []string{"--api-token", "k", "--listen", "127.0.0.1:0", "--broker", "", "--encoding", "protobuf",
				"--step-interval", "50ms", "--timeout-scale", "0.1", "--application-name", "fleet"},
			want: func(t *testing.T, o options) {
				assert.Equal(t, "127.0.0.1:0", o.listen)
				assert.Empty(t, o.broker)
				assert.Equal(t, chirpstacksim.EncodingProtobuf, o.encoding)
				assert.Equal(t, 50*time.Millisecond, o.stepInterval)
				assert.InDelta(t, 0.1, o.timeoutScale, 1e-9)
				assert.Equal(t, "fleet", o.appName)
			},
		},
		{name: "token required", args: nil, wantErr: "--api-token is required"},
		{name: "unknown encoding", args: []string{"--api-token", "k", "--encoding", "xml"}, wantErr: "unknown encoding"},
		{name: "bad step interval", args: []string{"--api-token", "k", "--step-interval", "0s"}, wantErr: "--step-interval"},
		{name: "bad timeout scale", args: []string{"--api-token", "k", "--timeout-scale", "-1"}, wantErr: "--timeout-scale"},
		{
			name: "broker identity and version reports",
			args: []string{"--api-token", "k", "--mqtt-username", "chirpstack", "--version-fport", "10", "--report-interval", "5s"},
			want: func(t *testing.T, o options) {
				so := o.serverOptions()
				assert.Equal(t, "chirpstack", so.MQTTUsername)
				assert.Equal(t, "from-env", so.MQTTPassword)
				assert.EqualValues(t, 10, o.versionFPort)
				assert.Equal(t, 5*time.Second, o.reportInterval)
				assert.Equal(t, "1.0.0", o.initialVersion)
			},
		},
		{name: "version fPort beyond the application range", args: []string{"--api-token", "k", "--version-fport", "224"},
			wantErr: "--version-fport"},
		{name: "stray arguments", args: []string{"--api-token", "k", "extra"}, wantErr: "unexpected arguments"},
	}
	t.Setenv(passwordEnv, "from-env")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.want(t, o)
		})
	}
}
