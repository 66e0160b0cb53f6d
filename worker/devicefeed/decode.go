package devicefeed

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

// Bounds on what a device may put into a message. A report ends up in a workflow's
// history and a heartbeat in a database row: neither takes unbounded or binary text.
const (
	maxVersionLen      = 64
	maxErrorCodeLen    = 64
	maxErrorMessageLen = 256
	maxSHA256Len       = 64
)

// errPoison marks a message that can never be delivered: dropped at once, never retried.
var errPoison = errors.New("malformed device message")

func poisonf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPoison, fmt.Sprintf(format, args...))
}

// DecodeReport decodes a Report and names the run it answers.
func DecodeReport(payload []byte) (otaflow.DeviceReport, otaflow.Route, error) {
	var rep devicev1.Report
	if err := proto.Unmarshal(payload, &rep); err != nil {
		return otaflow.DeviceReport{}, otaflow.Route{}, poisonf("undecodable report: %v", err)
	}
	run, ok := otaflow.RouteFromCommandID(rep.GetCommandId())
	if !ok {
		return otaflow.DeviceReport{}, otaflow.Route{}, poisonf("command id %.80q names no run", rep.GetCommandId())
	}
	status := reportStatus(rep.GetStatus())
	if status == "" {
		return otaflow.DeviceReport{}, otaflow.Route{}, poisonf("unknown report status %d", rep.GetStatus())
	}
	out := otaflow.DeviceReport{
		CommandID:       rep.GetCommandId(),
		Status:          status,
		ProgressPercent: int(min(max(rep.GetProgressPercent(), 0), 100)),
		FirmwareVersion: rep.GetFirmwareVersion(),
		ImageSHA256:     rep.GetImageSha256(),
		ErrorCode:       rep.GetErrorCode(),
		ErrorMessage:    cleanText(rep.GetErrorMessage(), maxErrorMessageLen),
		ReportedAt:      time.UnixMilli(rep.GetReportedAtMs()).UTC(),
		BootCount:       rep.GetBootCount(),
	}
	if err := checkFields(out.FirmwareVersion, out.ImageSHA256, out.ErrorCode); err != nil {
		return otaflow.DeviceReport{}, otaflow.Route{}, err
	}
	return out, run, nil
}

// DecodeStatus decodes a Status as a restated report and names the run it goes to: the
// run that asked (request_id) or, unprompted, the run whose command it restates.
func DecodeStatus(payload []byte) (otaflow.DeviceReport, otaflow.Route, error) {
	var st devicev1.Status
	if err := proto.Unmarshal(payload, &st); err != nil {
		return otaflow.DeviceReport{}, otaflow.Route{}, poisonf("undecodable status: %v", err)
	}
	route := st.GetRequestId()
	if route == "" {
		route = st.GetCommandId()
	}
	run, ok := otaflow.RouteFromCommandID(route)
	if !ok {
		return otaflow.DeviceReport{}, otaflow.Route{}, poisonf("status names no run (request %.80q, command %.80q)",
			st.GetRequestId(), st.GetCommandId())
	}
	if c := st.GetCommandId(); c != "" {
		if _, ok := otaflow.RouteFromCommandID(c); !ok {
			// Not one of ours (a command id from before, or garbage): the device knows none.
			st.CommandId, st.CommandStatus = "", devicev1.ReportStatus_REPORT_STATUS_UNSPECIFIED
		}
	}
	out := otaflow.DeviceReport{
		CommandID:       st.GetCommandId(),
		Status:          reportStatus(st.GetCommandStatus()),
		ProgressPercent: int(min(max(st.GetProgressPercent(), 0), 100)),
		FirmwareVersion: st.GetFirmwareVersion(),
		ImageSHA256:     st.GetImageSha256(),
		ErrorCode:       st.GetErrorCode(),
		ReportedAt:      time.UnixMilli(st.GetReportedAtMs()).UTC(),
		BootCount:       st.GetBootCount(),
		Restated:        true,
		RequestID:       st.GetRequestId(),
	}
	if err := checkFields(out.FirmwareVersion, out.ImageSHA256, out.ErrorCode); err != nil {
		return otaflow.DeviceReport{}, otaflow.Route{}, err
	}
	return out, run, nil
}

// HeartbeatFields is a heartbeat's content, checked.
type HeartbeatFields struct {
	FirmwareVersion string
	BatteryPercent  *int
	BootCount       int64
	UptimeSeconds   int64
}

// DecodeHeartbeat decodes and checks a Heartbeat: a bad one is refused whole, so it can
// never fail the batch it would have joined.
func DecodeHeartbeat(payload []byte) (HeartbeatFields, error) {
	var hb devicev1.Heartbeat
	if err := proto.Unmarshal(payload, &hb); err != nil {
		return HeartbeatFields{}, poisonf("undecodable heartbeat: %v", err)
	}
	if err := model.ValidateVersion("firmware_version", hb.GetFirmwareVersion()); err != nil ||
		len(hb.GetFirmwareVersion()) > maxVersionLen {
		return HeartbeatFields{}, poisonf("heartbeat version %.80q", hb.GetFirmwareVersion())
	}
	if hb.GetUptimeSeconds() < 0 {
		return HeartbeatFields{}, poisonf("negative uptime %d", hb.GetUptimeSeconds())
	}
	out := HeartbeatFields{FirmwareVersion: hb.GetFirmwareVersion(), BootCount: int64(hb.GetBootCount()),
		UptimeSeconds: hb.GetUptimeSeconds()}
	if b := int(hb.GetBatteryPercent()); b >= 0 && b <= 100 {
		out.BatteryPercent = &b
	}
	return out, nil
}

// checkFields refuses text a device must never send: overlong, invalid UTF-8, control
// bytes (a NUL would fail the database write and every write batched with it).
func checkFields(version, sha, code string) error {
	switch {
	case !plainText(version, maxVersionLen):
		return poisonf("firmware version %.80q", version)
	case !plainText(sha, maxSHA256Len):
		return poisonf("image sha256 %.80q", sha)
	case !plainText(code, maxErrorCodeLen):
		return poisonf("error code %.80q", code)
	}
	return nil
}

func plainText(s string, maxLen int) bool {
	if len(s) > maxLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// cleanText makes free text safe to keep: valid UTF-8, no control bytes, bounded.
func cleanText(s string, maxLen int) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxLen {
		s = s[:maxLen]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func reportStatus(s devicev1.ReportStatus) otaflow.ReportStatus {
	switch s {
	case devicev1.ReportStatus_REPORT_STATUS_ACCEPTED:
		return otaflow.ReportAccepted
	case devicev1.ReportStatus_REPORT_STATUS_DOWNLOADING:
		return otaflow.ReportDownloading
	case devicev1.ReportStatus_REPORT_STATUS_DOWNLOADED:
		return otaflow.ReportDownloaded
	case devicev1.ReportStatus_REPORT_STATUS_INSTALLING:
		return otaflow.ReportInstalling
	case devicev1.ReportStatus_REPORT_STATUS_INSTALLED:
		return otaflow.ReportInstalled
	case devicev1.ReportStatus_REPORT_STATUS_FAILED:
		return otaflow.ReportFailed
	case devicev1.ReportStatus_REPORT_STATUS_REJECTED:
		return otaflow.ReportRejected
	case devicev1.ReportStatus_REPORT_STATUS_ROLLED_BACK:
		return otaflow.ReportRolledBack
	case devicev1.ReportStatus_REPORT_STATUS_CANCELED:
		return otaflow.ReportCanceled
	default:
		return ""
	}
}
