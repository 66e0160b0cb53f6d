package rollout

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	// Embedded zone data: a window evaluates the same on every worker and on replay,
	// whatever the host's zoneinfo says.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// WindowState is whether a maintenance window is open at a moment, and when that changes.
type WindowState struct {
	Open bool
	// Next is when the window closes (if open) or opens next (if closed).
	Next time.Time
}

// WindowAt evaluates a maintenance window at now. It is a pure function of its inputs,
// so workflow code may call it with workflow time (the campaign records its answer as a
// side effect all the same: zone data is read once, never on replay).
func WindowAt(w otaflow.MaintenanceWindow, now time.Time) (WindowState, error) {
	sched, loc, err := parseWindow(w)
	if err != nil {
		return WindowState{}, err
	}
	t := now.In(loc)
	// The first activation after (now - duration) is the one that could still be open.
	start := sched.Next(t.Add(-w.Duration.D()))
	if start.IsZero() {
		return WindowState{}, fmt.Errorf("cron %q never fires", w.Cron)
	}
	if !start.After(t) {
		return WindowState{Open: true, Next: start.Add(w.Duration.D())}, nil
	}
	return WindowState{Open: false, Next: start}, nil
}

func parseWindow(w otaflow.MaintenanceWindow) (cron.Schedule, *time.Location, error) {
	sched, err := parseCron(w.Cron)
	if err != nil {
		return nil, nil, fmt.Errorf("cron %q: %w", w.Cron, err)
	}
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return nil, nil, fmt.Errorf("time zone %q: %w", w.TimeZone, err)
	}
	return sched, loc, nil
}

// parseCron reads a schedule without letting the cron library's panics (it panics on
// some malformed TZ= prefixes) escape: a schedule that makes it panic is invalid.
func parseCron(expr string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("unparseable: %v", r)
		}
	}()
	return cron.ParseStandard(expr)
}

// cronFieldRE is one field of a 5-field schedule: numbers, names (jan, mon), *, ?, and
// the separators - / ,.
var cronFieldRE = regexp.MustCompile(`^[0-9A-Za-z*?/,-]{1,64}$`)

// errNeverFires: a schedule such as "0 0 30 2 *" parses but has no activation.
var errNeverFires = errors.New("never fires")

// parseWindowCron is the strict reading Validate applies: exactly five fields, no
// descriptors (@daily, @every: relative to when they are read, not a calendar) and no
// TZ= or CRON_TZ= prefix (the window's time_zone says where it is evaluated), and at
// least one activation. Windows stored before it was this strict are read by parseCron.
func parseWindowCron(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Errorf("has %d fields, want 5", len(fields))
	}
	for _, f := range fields {
		if !cronFieldRE.MatchString(f) {
			return fmt.Errorf("field %q is not a cron field", f)
		}
	}
	sched, err := parseCron(expr)
	if err != nil {
		return err
	}
	// The library looks five years ahead: enough for every calendar date, 29 February
	// too, in any zone.
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return errNeverFires
	}
	return nil
}

// maxTimeZoneLen bounds a zone name; the longest IANA names are about 30 bytes.
const maxTimeZoneLen = 64

// ValidateWindow checks a maintenance window; field names are relative to prefix.
func ValidateWindow(w otaflow.MaintenanceWindow, prefix string) error {
	if err := parseWindowCron(w.Cron); errors.Is(err, errNeverFires) {
		return model.Fieldf(prefix+"cron", "never fires (no such date)")
	} else if err != nil {
		return model.Fieldf(prefix+"cron", "must be a 5-field cron expression such as \"0 2 * * *\" (no @ descriptors, no TZ= prefix: set time_zone): %v", err)
	}
	if w.TimeZone == "" {
		return model.Fieldf(prefix+"time_zone", "is required, e.g. \"Europe/Berlin\" or \"UTC\"")
	}
	if err := model.ValidateText(prefix+"time_zone", w.TimeZone, maxTimeZoneLen); err != nil {
		return err
	}
	// "Local" is whatever zone each worker's host is in.
	if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "Local" {
		return model.Fieldf(prefix+"time_zone", "unknown time zone %q (use an IANA name such as \"Europe/Berlin\", or \"UTC\")", w.TimeZone)
	}
	if w.Duration.D() < time.Minute || w.Duration.D() > 7*24*time.Hour {
		return model.Fieldf(prefix+"duration", "must be between 1m and 168h")
	}
	return nil
}
