package otaflow

import (
	"fmt"
	"time"
	// Embedded zone data: a window evaluates the same on every worker and on replay,
	// whatever the host's zoneinfo says.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// WindowState is whether a maintenance window is open at a moment, and when that changes.
type WindowState struct {
	Open bool
	// Next is when the window closes (if open) or opens next (if closed).
	Next time.Time
}

// At evaluates the window at now. It is a pure function of its inputs, so workflow code
// may call it with workflow time.
func (w MaintenanceWindow) At(now time.Time) (WindowState, error) {
	sched, loc, err := w.parse()
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

func (w MaintenanceWindow) parse() (cron.Schedule, *time.Location, error) {
	sched, err := cron.ParseStandard(w.Cron)
	if err != nil {
		return nil, nil, fmt.Errorf("cron %q: %w", w.Cron, err)
	}
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return nil, nil, fmt.Errorf("time zone %q: %w", w.TimeZone, err)
	}
	return sched, loc, nil
}

// Validate checks the window; field names are relative to prefix.
func (w MaintenanceWindow) Validate(prefix string) error {
	if _, err := cron.ParseStandard(w.Cron); err != nil || w.Cron == "" {
		return fieldf(prefix+"cron", "must be a 5-field cron expression such as \"0 2 * * *\"")
	}
	if w.TimeZone == "" {
		return fieldf(prefix+"time_zone", "is required, e.g. \"Europe/Berlin\" or \"UTC\"")
	}
	if _, err := time.LoadLocation(w.TimeZone); err != nil {
		return fieldf(prefix+"time_zone", "unknown time zone %q", w.TimeZone)
	}
	if w.Duration.D() < time.Minute || w.Duration.D() > 7*24*time.Hour {
		return fieldf(prefix+"duration", "must be between 1m and 168h")
	}
	return nil
}
