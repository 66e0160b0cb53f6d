package chirpstacksim

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Encoding selects how integration events are serialised on MQTT, mirroring the
// `json` switch of ChirpStack's MQTT integration.
type Encoding int

const (
	// EncodingJSON is protojson with proto JSON names (camelCase), enum names and
	// unpopulated fields emitted: the shape ChirpStack publishes with json=true.
	EncodingJSON Encoding = iota + 1
	// EncodingProtobuf is the protobuf binary encoding (json=false).
	EncodingProtobuf
)

func (e Encoding) String() string {
	switch e {
	case EncodingJSON:
		return "json"
	case EncodingProtobuf:
		return "protobuf"
	default:
		return fmt.Sprintf("Encoding(%d)", int(e))
	}
}

// ParseEncoding maps "json" or "protobuf" to an Encoding.
func ParseEncoding(s string) (Encoding, error) {
	switch s {
	case "json":
		return EncodingJSON, nil
	case "protobuf":
		return EncodingProtobuf, nil
	default:
		return 0, fmt.Errorf("chirpstacksim: unknown encoding %q (want json or protobuf)", s)
	}
}

const (
	defaultStepInterval = 200 * time.Millisecond
	defaultTenantID     = "52f14cd4-c6f1-4fbd-8f87-4025e1d49242"
	defaultTenantName   = "ChirpStack"
	defaultClientID     = "chirpstack-sim"
	publishTimeout      = 10 * time.Second
	stopGrace           = 5 * time.Second
)

// Options configure a Server. Only APIToken is required.
type Options struct {
	// APIToken is the API key every call must present as
	// `authorization: Bearer <token>` metadata.
	APIToken string
	// Logger receives server logs; nil discards them.
	Logger *zap.Logger

	// StepInterval is the FUOTA scheduler tick: each deployment job that sends
	// something to devices takes one tick. Zero means 200ms.
	StepInterval time.Duration
	// TimeoutScale converts a deployment's multicast_timeout (taken as seconds)
	// into simulator time, so a deployment created with multicast_timeout=10 and
	// TimeoutScale=0.05 waits 500ms for silent devices. Zero means 1 (real time).
	TimeoutScale float64
	// EnforceAppLayerParams makes a deployment stall the way ChirpStack's does
	// when its device profile lacks TS005/TS004 support. Off by default because
	// most tests do not care about app-layer parameters.
	EnforceAppLayerParams bool

	// TenantID and TenantName describe the preconfigured tenant. Defaults: a fixed
	// UUID and "ChirpStack".
	TenantID   string
	TenantName string

	// BrokerURL enables the MQTT integration (e.g. "tcp://127.0.0.1:1883"). Empty
	// disables it and the Publish methods return ErrNoBroker.
	BrokerURL string
	// Encoding of integration events; zero means EncodingJSON.
	Encoding Encoding
	// MQTTClientID defaults to "chirpstack-sim-" plus a random suffix so several
	// servers can share one broker.
	MQTTClientID string
	// MQTTUsername and MQTTPassword are the integration's own broker credentials; only
	// they may publish under application/#.
	MQTTUsername string
	MQTTPassword string
	// MQTTQoS for event publishing; ChirpStack's default is 0.
	MQTTQoS byte
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.StepInterval <= 0 {
		o.StepInterval = defaultStepInterval
	}
	if o.TimeoutScale <= 0 {
		o.TimeoutScale = 1
	}
	if o.TenantID == "" {
		o.TenantID = defaultTenantID
	}
	if o.TenantName == "" {
		o.TenantName = defaultTenantName
	}
	if o.Encoding == 0 {
		o.Encoding = EncodingJSON
	}
	if o.MQTTClientID == "" {
		o.MQTTClientID = defaultClientID + "-" + randomHex(4)
	}
	return o
}

func (o Options) validate() error {
	if o.APIToken == "" {
		return errors.New("chirpstacksim: Options.APIToken is required")
	}
	if !isUUID(o.TenantID) {
		return fmt.Errorf("chirpstacksim: Options.TenantID %q is not a UUID", o.TenantID)
	}
	if o.Encoding != EncodingJSON && o.Encoding != EncodingProtobuf {
		return fmt.Errorf("chirpstacksim: invalid Options.Encoding %v", o.Encoding)
	}
	if o.MQTTQoS > 2 {
		return fmt.Errorf("chirpstacksim: invalid Options.MQTTQoS %d", o.MQTTQoS)
	}
	return nil
}
