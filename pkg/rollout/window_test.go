package rollout

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestMaintenanceWindowValidate(t *testing.T) {
	hour := otaflow.Duration(time.Hour)
	tests := []struct {
		name  string
		w     otaflow.MaintenanceWindow
		field string // "" = valid
	}{
		{"nightly", otaflow.MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "Europe/Berlin"}, ""},
		{"names and steps", otaflow.MaintenanceWindow{Cron: "*/15 8-17 * jan-mar mon-fri", Duration: hour, TimeZone: "UTC"}, ""},
		{"leap day", otaflow.MaintenanceWindow{Cron: "0 0 29 2 *", Duration: hour, TimeZone: "UTC"}, ""},
		{"TZ prefix alone", otaflow.MaintenanceWindow{Cron: "TZ=UTC", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"TZ prefix", otaflow.MaintenanceWindow{Cron: "TZ=UTC 0 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"CRON_TZ prefix alone", otaflow.MaintenanceWindow{Cron: "CRON_TZ=", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"CRON_TZ prefix", otaflow.MaintenanceWindow{Cron: "CRON_TZ=Europe/Berlin 0 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"descriptor", otaflow.MaintenanceWindow{Cron: "@daily", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"every", otaflow.MaintenanceWindow{Cron: "@every 1h", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"bare every", otaflow.MaintenanceWindow{Cron: "@every", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"six fields", otaflow.MaintenanceWindow{Cron: "0 0 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"out of range", otaflow.MaintenanceWindow{Cron: "61 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"never fires", otaflow.MaintenanceWindow{Cron: "0 0 30 2 *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"NUL", otaflow.MaintenanceWindow{Cron: "0 2 * * *\x00", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"empty", otaflow.MaintenanceWindow{Duration: hour, TimeZone: "UTC"}, "cron"},
		{"no zone", otaflow.MaintenanceWindow{Cron: "0 2 * * *", Duration: hour}, "time_zone"},
		{"host's zone", otaflow.MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "Local"}, "time_zone"},
		{"unknown zone", otaflow.MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "Mars/Olympus"}, "time_zone"},
		{"zone with NUL", otaflow.MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "UTC\x00"}, "time_zone"},
		{"too short", otaflow.MaintenanceWindow{Cron: "0 2 * * *", Duration: otaflow.Duration(time.Second), TimeZone: "UTC"}, "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateWindow(tt.w, "rollout.maintenance_window.")
			if tt.field == "" {
				require.NoError(t, err)
				_, err := WindowAt(tt.w, time.Now())
				assert.NoError(t, err, "a valid window evaluates")
				return
			}
			var fe *model.FieldError
			require.True(t, errors.As(err, &fe), "want a FieldError, got %v", err)
			assert.Equal(t, "rollout.maintenance_window."+tt.field, fe.Field)
		})
	}
}

func TestWindowAtSurvivesSchedulesTheParserPanicsOn(t *testing.T) {
	// Stored before Validate refused it: evaluating must fail, not panic a workflow.
	_, err := WindowAt(otaflow.MaintenanceWindow{Cron: "TZ=UTC", Duration: otaflow.Duration(time.Hour), TimeZone: "UTC"}, time.Now())
	assert.Error(t, err)
}

func TestWindowAt(t *testing.T) {
	w := otaflow.MaintenanceWindow{Cron: "0 2 * * *", Duration: otaflow.Duration(2 * time.Hour), TimeZone: "Europe/Berlin"}
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	open, err := WindowAt(w, time.Date(2026, 5, 4, 3, 0, 0, 0, berlin))
	require.NoError(t, err)
	assert.Equal(t, WindowState{Open: true, Next: time.Date(2026, 5, 4, 4, 0, 0, 0, berlin)}, open)
	closed, err := WindowAt(w, time.Date(2026, 5, 4, 5, 0, 0, 0, berlin))
	require.NoError(t, err)
	assert.False(t, closed.Open)
	assert.True(t, closed.Next.Equal(time.Date(2026, 5, 5, 2, 0, 0, 0, berlin)))
}
