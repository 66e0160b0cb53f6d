package devicefeed

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/otaplane/ota/pkg/otaflow"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

const (
	runID    = "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01"
	groupKey = "5d7e0c4a-1b2f-4e3d-9a8b-7c6d5e4f3a21"
)

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeReport(t *testing.T) {
	good := &devicev1.Report{CommandId: runID + ":1", Status: devicev1.ReportStatus_REPORT_STATUS_INSTALLED,
		FirmwareVersion: "1.1.0", ImageSha256: "ab12", BootCount: 7, ErrorMessage: "fine\x00\x01" + strings.Repeat("é", 300)}
	tests := []struct {
		name   string
		mutate func(r *devicev1.Report)
		ok     bool
	}{
		{"good", func(*devicev1.Report) {}, true},
		{"run id not a uuid", func(r *devicev1.Report) { r.CommandId = "not-a-uuid:1" }, false},
		{"no sequence", func(r *devicev1.Report) { r.CommandId = runID }, false},
		{"group without its run", func(r *devicev1.Report) { r.CommandId = groupKey + "/:1" }, false},
		{"group key not a uuid", func(r *devicev1.Report) { r.CommandId = "g/" + runID + ":1" }, false},
		{"unknown status", func(r *devicev1.Report) { r.Status = 99 }, false},
		{"unspecified status", func(r *devicev1.Report) { r.Status = 0 }, false},
		{"NUL in version", func(r *devicev1.Report) { r.FirmwareVersion = "1.1\x00" }, false},
		{"overlong sha", func(r *devicev1.Report) { r.ImageSha256 = strings.Repeat("a", 65) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := proto.Clone(good).(*devicev1.Report)
			tt.mutate(r)
			rep, run, err := DecodeReport(marshal(t, r))
			if !tt.ok {
				if !errors.Is(err, errPoison) {
					t.Fatalf("DecodeReport = %v, want a poison error", err)
				}
				return
			}
			if err != nil || run != (otaflow.Route{RunID: runID}) || rep.Status != otaflow.ReportInstalled || rep.BootCount != 7 {
				t.Fatalf("DecodeReport = %+v, %+v, %v", rep, run, err)
			}
			if len(rep.ErrorMessage) > maxErrorMessageLen || strings.ContainsRune(rep.ErrorMessage, 0) {
				t.Fatalf("error message not cleaned: %q", rep.ErrorMessage)
			}
		})
	}
	if _, _, err := DecodeReport([]byte{0xff, 0xff}); !errors.Is(err, errPoison) {
		t.Fatalf("garbage decoded: %v", err)
	}
	if _, _, err := DecodeReport(withInvalidUTF8(t)); !errors.Is(err, errPoison) {
		t.Fatalf("invalid UTF-8 decoded: %v", err)
	}
}

// withInvalidUTF8 is a report whose error_message holds bytes that are not UTF-8, as a
// device (not a well-behaved library) could send.
func withInvalidUTF8(t testing.TB) []byte {
	b := marshal(t, &devicev1.Report{CommandId: runID + ":1", Status: devicev1.ReportStatus_REPORT_STATUS_FAILED})
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	return protowire.AppendBytes(b, []byte("\xff\x00bad"))
}

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name    string
		st      *devicev1.Status
		run     otaflow.Route
		command string
		ok      bool
	}{
		{"answer routes by request", &devicev1.Status{RequestId: runID + ":10", CommandId: "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d02:1",
			CommandStatus: devicev1.ReportStatus_REPORT_STATUS_INSTALLED}, otaflow.Route{RunID: runID}, "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d02:1", true},
		{"unprompted routes by command", &devicev1.Status{CommandId: runID + ":1",
			CommandStatus: devicev1.ReportStatus_REPORT_STATUS_DOWNLOADING}, otaflow.Route{RunID: runID}, runID + ":1", true},
		{"a group member's answer routes to its group", &devicev1.Status{RequestId: groupKey + "/" + runID + ":10",
			CommandId: groupKey + "/" + runID + ":4", CommandStatus: devicev1.ReportStatus_REPORT_STATUS_INSTALLED},
			otaflow.Route{Group: groupKey, RunID: runID}, groupKey + "/" + runID + ":4", true},
		{"a foreign command id means none", &devicev1.Status{RequestId: runID + ":11", CommandId: "cmd-42",
			CommandStatus: devicev1.ReportStatus_REPORT_STATUS_INSTALLED}, otaflow.Route{RunID: runID}, "", true},
		{"names no run", &devicev1.Status{CommandId: "cmd-42"}, otaflow.Route{}, "", false},
		{"nothing at all", &devicev1.Status{}, otaflow.Route{}, "", false},
		{"NUL in version", &devicev1.Status{RequestId: runID + ":10", FirmwareVersion: "\x00"}, otaflow.Route{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, run, err := DecodeStatus(marshal(t, tt.st))
			if !tt.ok {
				if !errors.Is(err, errPoison) {
					t.Fatalf("DecodeStatus = %v, want a poison error", err)
				}
				return
			}
			if err != nil || run != tt.run || rep.CommandID != tt.command || !rep.Restated || rep.RequestID != tt.st.GetRequestId() {
				t.Fatalf("DecodeStatus = %+v, %+v, %v", rep, run, err)
			}
		})
	}
}

func TestDecodeHeartbeat(t *testing.T) {
	tests := []struct {
		name string
		hb   *devicev1.Heartbeat
		ok   bool
	}{
		{"good", &devicev1.Heartbeat{FirmwareVersion: "1.2.3", BatteryPercent: 55, BootCount: 3, UptimeSeconds: 9}, true},
		{"no battery", &devicev1.Heartbeat{FirmwareVersion: "1.2.3", BatteryPercent: -1}, true},
		{"NUL in version", &devicev1.Heartbeat{FirmwareVersion: "1.0\x00.0"}, false},
		{"not a version", &devicev1.Heartbeat{FirmwareVersion: "latest"}, false},
		{"negative uptime", &devicev1.Heartbeat{FirmwareVersion: "1.2.3", UptimeSeconds: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb, err := DecodeHeartbeat(marshal(t, tt.hb))
			if !tt.ok {
				if !errors.Is(err, errPoison) {
					t.Fatalf("DecodeHeartbeat = %v, want a poison error", err)
				}
				return
			}
			if err != nil || hb.FirmwareVersion != tt.hb.GetFirmwareVersion() {
				t.Fatalf("DecodeHeartbeat = %+v, %v", hb, err)
			}
			if tt.hb.GetBatteryPercent() < 0 && hb.BatteryPercent != nil {
				t.Fatal("a device without battery has no battery level")
			}
		})
	}
}

// checkSafe: whatever was decoded can go into a database row and a workflow history.
func checkSafe(t *testing.T, rep otaflow.DeviceReport) {
	for _, s := range []string{rep.CommandID, rep.FirmwareVersion, rep.ImageSHA256, rep.ErrorCode, rep.ErrorMessage, rep.RequestID} {
		if strings.ContainsRune(s, 0) || len(s) > 256 {
			t.Fatalf("unsafe text %q in %+v", s, rep)
		}
	}
	if rep.ProgressPercent < 0 || rep.ProgressPercent > 100 {
		t.Fatalf("progress %d", rep.ProgressPercent)
	}
}

// validRoute: a decoded message names a run id, and a group key only as a UUID too.
func validRoute(r otaflow.Route) bool {
	return len(r.RunID) == 36 && (r.Group == "" || len(r.Group) == 36)
}

func FuzzDecodeReport(f *testing.F) {
	f.Add(marshal(f, &devicev1.Report{CommandId: groupKey + "/" + runID + ":4", Status: devicev1.ReportStatus_REPORT_STATUS_INSTALLED}))
	f.Add(marshal(f, &devicev1.Report{CommandId: runID + ":1", Status: devicev1.ReportStatus_REPORT_STATUS_INSTALLED, FirmwareVersion: "1.0.0"}))
	f.Add(withInvalidUTF8(f))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, payload []byte) {
		rep, run, err := DecodeReport(payload)
		if err != nil {
			if !errors.Is(err, errPoison) {
				t.Fatalf("error %v is not a poison error", err)
			}
			return
		}
		if !validRoute(run) {
			t.Fatalf("run %+v", run)
		}
		checkSafe(t, rep)
	})
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add(marshal(f, &devicev1.Status{RequestId: runID + ":10", CommandId: runID + ":1", FirmwareVersion: "1.0.0"}))
	f.Add(marshal(f, &devicev1.Status{CommandId: "x"}))
	f.Add([]byte{0x12, 0x01, 0xff})
	f.Fuzz(func(t *testing.T, payload []byte) {
		rep, run, err := DecodeStatus(payload)
		if err != nil {
			if !errors.Is(err, errPoison) {
				t.Fatalf("error %v is not a poison error", err)
			}
			return
		}
		if !validRoute(run) || !rep.Restated {
			t.Fatalf("run %+v, %+v", run, rep)
		}
		checkSafe(t, rep)
	})
}

func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add(marshal(f, &devicev1.Heartbeat{FirmwareVersion: "1.0.0", BatteryPercent: 80, BootCount: 2}))
	f.Add(marshal(f, &devicev1.Heartbeat{FirmwareVersion: "1.0\x00"}))
	f.Add([]byte{0x0a})
	f.Fuzz(func(t *testing.T, payload []byte) {
		hb, err := DecodeHeartbeat(payload)
		if err != nil {
			if !errors.Is(err, errPoison) {
				t.Fatalf("error %v is not a poison error", err)
			}
			return
		}
		if strings.ContainsRune(hb.FirmwareVersion, 0) || len(hb.FirmwareVersion) > maxVersionLen || hb.UptimeSeconds < 0 {
			t.Fatalf("unsafe heartbeat %+v", hb)
		}
		if hb.BatteryPercent != nil && (*hb.BatteryPercent < 0 || *hb.BatteryPercent > 100) {
			t.Fatalf("battery %d", *hb.BatteryPercent)
		}
	})
}
