package devicesim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	devicev1 "github.com/otaplane/ota/proto/device/v1"
)

// Bounds on per-device memory, so a long run with many devices stays flat.
const (
	seenIDsCap        = 256  // command ids remembered for duplicate detection
	outcomeIDsCap     = 64   // installed / pre-canceled update ids remembered for CANCEL
	commandHistoryCap = 1024 // commands kept for Fleet.Commands
)

// DeviceSpec describes one virtual device.
type DeviceSpec struct {
	// ID is the device id used in topics; it must not contain '/', '+' or '#'.
	ID string
	// HardwareModel must equal Firmware.hardware_model for an update to be accepted.
	HardwareModel string
	// FirmwareVersion is the version running at start.
	FirmwareVersion string
	// ReleaseCounter is the highest release counter installed before start (0 for a
	// factory image); the device refuses lower ones unless told it is a rollback.
	ReleaseCounter uint64
	// BatteryPercent is reported in heartbeats; -1 means the device has no battery.
	BatteryPercent int
	// Behavior defaults to BehaviorNormal when zero.
	Behavior Behavior
	// Username and Password are the device's own broker credentials (empty: connect
	// without, for a broker that allows it).
	Username string
	Password string
}

func (s DeviceSpec) validate() error {
	switch {
	case s.ID == "":
		return fmt.Errorf("device spec: empty id")
	case strings.ContainsAny(s.ID, "/+#"):
		return fmt.Errorf("device %q: id must not contain '/', '+' or '#'", s.ID)
	case s.HardwareModel == "":
		return fmt.Errorf("device %q: empty hardware model", s.ID)
	case s.FirmwareVersion == "":
		return fmt.Errorf("device %q: empty firmware version", s.ID)
	case s.BatteryPercent < -1 || s.BatteryPercent > 100:
		return fmt.Errorf("device %q: battery percent %d out of range -1..100", s.ID, s.BatteryPercent)
	case s.Behavior != 0 && !s.Behavior.valid():
		return fmt.Errorf("device %q: invalid behavior %v", s.ID, s.Behavior)
	}
	return nil
}

// DeviceState is a snapshot of one virtual device.
type DeviceState struct {
	ID              string
	FirmwareVersion string
	// PreviousVersion is the version that ran before the last install or rollback.
	PreviousVersion string
	HardwareModel   string
	// ReleaseCounter is the highest release counter the device has installed.
	ReleaseCounter uint64
	Behavior       Behavior
	// BootCount counts the device's boots: one at start, one per install, rollback and
	// bootloader fall-back, and one per reboot of a reboot loop.
	BootCount uint32
	// CommandsReceived counts every command delivered, duplicates included.
	CommandsReceived int
	// DuplicatesDropped counts deliveries whose command_id had already been handled.
	DuplicatesDropped int
	LastCommandID     string
	// CurrentCommandID is the latest update or rollback received; CurrentDone says
	// whether the device has finished it (sent its terminal report, lost or not).
	CurrentCommandID string
	CurrentDone      bool
	// CurrentErrorCode is the error code of the latest report about it (a refusal's
	// reason), empty when none.
	CurrentErrorCode string
}

// device is one virtual device. It owns no goroutine while idle: a worker runs only
// while its command queue is non-empty.
type device struct {
	id        string
	username  string
	password  string
	model     string
	battery   int32
	startedAt time.Time

	mu          sync.Mutex
	behavior    Behavior
	version     string
	previous    string
	imageSHA    string
	previousSHA string
	// counter is the highest release counter installed: a rollback to the old slot does
	// not lower it.
	counter uint64

	received   int
	duplicates int
	lastCmdID  string
	commands   []Received
	boots      uint32
	// looping: a BehaviorBootLoop device rebooting on its new image.
	looping bool
	conn    *connection
	// current is the latest update or rollback the device received: what a Status
	// restates.
	current commandState

	seen      recentIDs // every command id handled
	installed recentIDs // updates that reached INSTALLED; a CANCEL for them is refused
	canceled  recentIDs // updates canceled before they arrived; dropped when they do

	queue  []*devicev1.Command
	busy   bool          // a worker goroutine is draining queue
	active *activeUpdate // update being carried out, nil otherwise
}

type activeUpdate struct {
	commandID string
	cancel    context.CancelFunc
}

// commandState is where the device stands on one command.
type commandState struct {
	id         string
	status     devicev1.ReportStatus
	progress   int32
	errorCode  string
	final      *devicev1.Report // the terminal report, repeated for a duplicate command
	finishedAt time.Time
}

// terminal reports whether a report status ends its command.
func terminal(s devicev1.ReportStatus) bool {
	switch s {
	case devicev1.ReportStatus_REPORT_STATUS_INSTALLED, devicev1.ReportStatus_REPORT_STATUS_FAILED,
		devicev1.ReportStatus_REPORT_STATUS_REJECTED, devicev1.ReportStatus_REPORT_STATUS_ROLLED_BACK,
		devicev1.ReportStatus_REPORT_STATUS_CANCELED:
		return true
	}
	return false
}

// noteReport records a report about the current command. Callers hold d.mu.
func (d *device) noteReport(r *devicev1.Report, now time.Time) {
	if r.GetCommandId() != d.current.id {
		return
	}
	d.current.status, d.current.progress, d.current.errorCode = r.GetStatus(), r.GetProgressPercent(), r.GetErrorCode()
	if terminal(r.GetStatus()) {
		d.current.final, d.current.finishedAt = r, now
	}
}

// reboot restarts the device (uptime from zero). Callers hold d.mu.
func (d *device) reboot(now time.Time) {
	d.boots++
	d.startedAt = now
}

// statusLocked is the device's restatement. Callers hold d.mu.
func (d *device) statusLocked(requestID string, now time.Time) *devicev1.Status {
	return &devicev1.Status{
		RequestId: requestID, CommandId: d.current.id, CommandStatus: d.current.status,
		ProgressPercent: d.current.progress, ErrorCode: d.current.errorCode,
		FirmwareVersion: d.version, ImageSha256: d.imageSHA, BootCount: d.boots,
		UptimeSeconds: int64(now.Sub(d.startedAt) / time.Second), ReportedAtMs: now.UnixMilli(),
	}
}

func newDevice(spec DeviceSpec, now time.Time) *device {
	b := spec.Behavior
	if b == 0 {
		b = BehaviorNormal
	}
	return &device{
		id:        spec.ID,
		username:  spec.Username,
		password:  spec.Password,
		model:     spec.HardwareModel,
		battery:   int32(spec.BatteryPercent),
		startedAt: now,
		behavior:  b,
		version:   spec.FirmwareVersion,
		counter:   spec.ReleaseCounter,
		boots:     1,
		seen:      recentIDs{limit: seenIDsCap},
		installed: recentIDs{limit: outcomeIDsCap},
		canceled:  recentIDs{limit: outcomeIDsCap},
	}
}

// mute reports whether the device currently sends no reports. Callers hold d.mu.
func (d *device) mute() bool {
	return d.behavior == BehaviorOffline || d.behavior == BehaviorSilent
}

// loses reports whether a report never reaches the broker (BehaviorLossyReports drops
// every terminal report). Callers hold d.mu.
func (d *device) loses(r *devicev1.Report) bool {
	return d.behavior == BehaviorLossyReports && terminal(r.GetStatus())
}

func (d *device) snapshot() DeviceState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return DeviceState{
		ID:                d.id,
		FirmwareVersion:   d.version,
		PreviousVersion:   d.previous,
		HardwareModel:     d.model,
		ReleaseCounter:    d.counter,
		Behavior:          d.behavior,
		BootCount:         d.boots,
		CommandsReceived:  d.received,
		DuplicatesDropped: d.duplicates,
		LastCommandID:     d.lastCmdID,
		CurrentCommandID:  d.current.id,
		CurrentDone:       d.current.final != nil,
		CurrentErrorCode:  d.current.errorCode,
	}
}

// record notes a delivered command. Callers hold d.mu.
func (d *device) record(cmd *devicev1.Command, qos byte) {
	d.received++
	d.lastCmdID = cmd.GetCommandId()
	if len(d.commands) == commandHistoryCap {
		copy(d.commands, d.commands[1:])
		d.commands = d.commands[:len(d.commands)-1]
	}
	d.commands = append(d.commands, Received{Command: cmd, QoS: qos})
}

// Received is one command delivery and the QoS it came with.
type Received struct {
	Command *devicev1.Command
	QoS     byte
}

// removeQueued drops a queued command by id. Callers hold d.mu.
func (d *device) removeQueued(commandID string) bool {
	for i, c := range d.queue {
		if c.GetCommandId() == commandID {
			d.queue = append(d.queue[:i], d.queue[i+1:]...)
			return true
		}
	}
	return false
}

// recentIDs is a set that forgets its oldest entry once it holds limit ids. A
// duplicate arrives within seconds of the original, so a short memory suffices.
type recentIDs struct {
	limit int
	ring  []string
	next  int
	set   map[string]struct{}
}

func (r *recentIDs) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recentIDs) add(id string) {
	if r.has(id) {
		return
	}
	if r.set == nil {
		// Allocated lazily: most of a large fleet never receives a command.
		r.set = make(map[string]struct{})
	}
	if len(r.ring) < r.limit {
		r.ring = append(r.ring, id)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % r.limit
	}
	r.set[id] = struct{}{}
}
