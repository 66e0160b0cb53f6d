package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/otaplane/ota/simulator/chirpstacksim"
)

// Fixed IDs make the seeded objects addressable by configuration that is written
// before the simulator starts.
const (
	defaultApplicationID = "0b6e8f8a-4d3c-4a59-9f53-2c1d7e0a9b01"
	defaultProfileID     = "7c2f1d9e-5b4a-4e8c-8d21-6f3a9b0c1e02"
)

// options are the command-line settings.
type options struct {
	listen       string
	apiToken     string
	broker       string
	encoding     chirpstacksim.Encoding
	stepInterval time.Duration
	timeoutScale float64
	tenantID     string
	tenantName   string
	appID        string
	appName      string
	profileID    string
	profileName  string
	verbose      bool
	mqttUsername string
	// mqttPassword comes from the environment, never a flag (flags show in ps).
	mqttPassword   string
	versionFPort   uint
	reportInterval time.Duration
	initialVersion string
}

// passwordEnv names the variable holding the broker password.
const passwordEnv = "CHIRPSTACK_SIM_MQTT_PASSWORD"

func parseFlags(args []string) (options, error) {
	var (
		o        options
		encoding string
	)
	fs := flag.NewFlagSet("chirpstack-sim", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8090", "gRPC listen address")
	fs.StringVar(&o.apiToken, "api-token", "", "API token clients must send as 'authorization: Bearer <token>' (required)")
	fs.StringVar(&o.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker for integration events; empty disables them")
	fs.StringVar(&encoding, "encoding", "json", "integration event encoding: json or protobuf")
	fs.DurationVar(&o.stepInterval, "step-interval", 200*time.Millisecond, "FUOTA scheduler tick; each device-facing step takes one")
	fs.Float64Var(&o.timeoutScale, "timeout-scale", 1, "factor applied to a deployment's multicast_timeout (seconds)")
	fs.StringVar(&o.tenantID, "tenant-id", "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "ID of the preconfigured tenant")
	fs.StringVar(&o.tenantName, "tenant-name", "ChirpStack", "name of the preconfigured tenant")
	fs.StringVar(&o.appID, "application-id", defaultApplicationID, "ID of the seeded application")
	fs.StringVar(&o.appName, "application-name", "ota", "name of the seeded application")
	fs.StringVar(&o.profileID, "device-profile-id", defaultProfileID, "ID of the seeded FUOTA-capable device profile")
	fs.StringVar(&o.profileName, "device-profile-name", "ota-class-c", "name of the seeded device profile")
	fs.BoolVar(&o.verbose, "verbose", false, "log every failed call and FUOTA job")
	fs.StringVar(&o.mqttUsername, "mqtt-username", "", "broker username (password from $"+passwordEnv+")")
	fs.UintVar(&o.versionFPort, "version-fport", 0, "when set, every device reports its firmware version on this fPort "+
		"periodically and after a FUOTA deployment (stand-alone demos)")
	fs.DurationVar(&o.reportInterval, "report-interval", time.Minute, "how often devices report their version")
	fs.StringVar(&o.initialVersion, "initial-version", "1.0.0", "version devices report before a deployment sets one")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.encoding, err = chirpstacksim.ParseEncoding(encoding); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case o.apiToken == "":
		return o, errors.New("--api-token is required")
	case o.stepInterval <= 0:
		return o, errors.New("--step-interval must be positive")
	case o.timeoutScale <= 0:
		return o, errors.New("--timeout-scale must be positive")
	case o.versionFPort > 223:
		return o, errors.New("--version-fport must be an application fPort, 1 to 223")
	case o.versionFPort > 0 && o.reportInterval <= 0:
		return o, errors.New("--report-interval must be positive")
	}
	o.mqttPassword = os.Getenv(passwordEnv)
	return o, nil
}

func (o options) serverOptions() chirpstacksim.Options {
	return chirpstacksim.Options{
		APIToken:     o.apiToken,
		StepInterval: o.stepInterval,
		TimeoutScale: o.timeoutScale,
		TenantID:     o.tenantID,
		TenantName:   o.tenantName,
		BrokerURL:    o.broker,
		MQTTUsername: o.mqttUsername,
		MQTTPassword: o.mqttPassword,
		Encoding:     o.encoding,
	}
}
