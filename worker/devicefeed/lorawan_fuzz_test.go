package devicefeed

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	"github.com/chirpstack/chirpstack/api/go/v4/integration"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/otaplane/ota/pkg/model"
)

// chirpStackEventKinds are the event names a fuzzed event is read as: the ones that
// carry state, the ones only counted, and ones the worker ignores.
var chirpStackEventKinds = []string{"up", "join", "status", "ack", "txack", "log", "location", ""}

func fuzzEventSeed(f *testing.F, kind string, m proto.Message) {
	f.Helper()
	k := -1
	for i, name := range chirpStackEventKinds {
		if name == kind {
			k = i
		}
	}
	js, err := protojson.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	pb, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(k), false, js)
	f.Add(uint8(k), true, pb)
}

// FuzzDecodeChirpStackEvent feeds ChirpStack integration events of every kind, in both
// encodings, to the decoder: whatever it accepts must be safe to write to the database
// and to answer in JSON.
func FuzzDecodeChirpStackEvent(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := timestamppb.New(now.Add(-time.Minute))
	dev := &integration.DeviceInfo{ApplicationId: appID, DevEui: devEUI}
	fuzzEventSeed(f, "up", &integration.UplinkEvent{Time: at, DeviceInfo: dev, FPort: 10, Data: []byte{0x01, 1, 2, 3},
		RxInfo: []*gw.UplinkRxInfo{{Rssi: -80, Snr: 7.5}, {Rssi: -90, Snr: float32(math.NaN())}}})
	fuzzEventSeed(f, "up", &integration.UplinkEvent{DeviceInfo: dev, FPort: 10, Data: []byte("v2.0.0-rc.1\x00")})
	fuzzEventSeed(f, "up", &integration.UplinkEvent{DeviceInfo: &integration.DeviceInfo{DevEui: "01\x0002"}, FPort: 2})
	fuzzEventSeed(f, "up", &integration.UplinkEvent{Time: timestamppb.New(now.Add(48 * time.Hour)),
		RxInfo: []*gw.UplinkRxInfo{{Rssi: -1, Snr: float32(math.Inf(1))}}})
	fuzzEventSeed(f, "join", &integration.JoinEvent{Time: at, DeviceInfo: dev})
	fuzzEventSeed(f, "status", &integration.StatusEvent{Time: at, DeviceInfo: dev, Margin: 7, BatteryLevel: 55})
	fuzzEventSeed(f, "status", &integration.StatusEvent{DeviceInfo: dev, BatteryLevel: float32(math.NaN())})
	fuzzEventSeed(f, "txack", &integration.TxAckEvent{DeviceInfo: dev})
	f.Add(uint8(0), false, []byte(`{"deviceInfo":{"devEui":"ZZ"},"time":"9999-12-31T23:59:59Z"}`))
	f.Add(uint8(0), true, []byte{0x0a, 0xff})
	f.Add(uint8(2), false, []byte(`{"batteryLevel":"NaN","margin":-2147483648}`))

	f.Fuzz(func(t *testing.T, kind uint8, protobuf bool, payload []byte) {
		event := chirpStackEventKinds[int(kind)%len(chirpStackEventKinds)]
		s := model.ChirpStackSettings{TenantID: "tenant-1", ApplicationID: appID, EventEncoding: "json", VersionFPort: 10}
		if protobuf {
			s.EventEncoding = "protobuf"
		}
		u, ok, err := decodeEvent(event, payload, s, now)
		if err != nil || !ok {
			return
		}
		if u.TenantID != s.TenantID {
			t.Fatalf("tenant %q", u.TenantID)
		}
		if u.DevEUI != "" {
			if eui, err := model.NormalizeEUI("dev_eui", u.DevEUI); err != nil || eui != u.DevEUI {
				t.Fatalf("DevEUI %q is not a normalized EUI-64", u.DevEUI)
			}
		}
		if u.SeenAt.IsZero() || u.SeenAt.After(now.Add(maxClockSkew)) {
			t.Fatalf("seen at %s (now %s)", u.SeenAt, now)
		}
		if (u.RSSI == nil) != (u.SNR == nil) {
			t.Fatalf("RSSI %v without SNR %v or the other way round", u.RSSI, u.SNR)
		}
		if u.SNR != nil && (math.IsNaN(*u.SNR) || math.IsInf(*u.SNR, 0)) {
			t.Fatalf("SNR %v cannot be answered in JSON", *u.SNR)
		}
		if u.BatteryLevel != nil && !(*u.BatteryLevel >= 0 && *u.BatteryLevel <= 100) {
			t.Fatalf("battery level %v", *u.BatteryLevel)
		}
		if u.FirmwareVersion != "" {
			if event != "up" {
				t.Fatalf("a %s event reported version %q", event, u.FirmwareVersion)
			}
			checkReportedVersion(t, u.FirmwareVersion)
		}
	})
}

func checkReportedVersion(t *testing.T, v string) {
	t.Helper()
	if err := model.ValidateVersion("version", v); err != nil || len(v) > maxVersionLen {
		t.Fatalf("version %q: %v", v, err)
	}
}

// FuzzDecodeVersionPayload: an accepted version payload yields a semantic version that
// reads back the same, in the binary form as in the text one.
func FuzzDecodeVersionPayload(f *testing.F) {
	for _, seed := range [][]byte{{0x01, 1, 4, 2}, {0x01, 2, 0, 0, 3}, {0x01, 2, 0, 0, 0}, []byte("v1.0.0-rc.1\x00"),
		[]byte(" 3.1.4\n"), []byte("1.0.0+build.7"), []byte("01.2.3"), {}, {0x01}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeVersionPayload(b)
		if err != nil {
			return
		}
		checkReportedVersion(t, v)
		if b[0] == VersionFormatBinary {
			var major, minor, patch, rc byte
			n, _ := fmt.Sscanf(v, "%d.%d.%d-rc.%d", &major, &minor, &patch, &rc)
			again := []byte{VersionFormatBinary, major, minor, patch}
			if n == 4 {
				again = append(again, rc)
			}
			if !bytes.Equal(again, bytes.TrimSuffix(b, []byte{0})) && !bytes.Equal(again, b) {
				t.Fatalf("binary %x read as %q, which encodes as %x", b, v, again)
			}
			return
		}
		if again, err := DecodeVersionPayload([]byte(v)); err != nil || again != v {
			t.Fatalf("text %q read as %q, which reads as %q, %v", b, v, again, err)
		}
	})
}
