package otaflow

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
)

func TestMaintenanceWindowValidate(t *testing.T) {
	hour := Duration(time.Hour)
	tests := []struct {
		name  string
		w     MaintenanceWindow
		field string // "" = valid
	}{
		{"nightly", MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "Europe/Berlin"}, ""},
		{"names and steps", MaintenanceWindow{Cron: "*/15 8-17 * jan-mar mon-fri", Duration: hour, TimeZone: "UTC"}, ""},
		{"leap day", MaintenanceWindow{Cron: "0 0 29 2 *", Duration: hour, TimeZone: "UTC"}, ""},
		{"TZ prefix alone", MaintenanceWindow{Cron: "TZ=UTC", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"TZ prefix", MaintenanceWindow{Cron: "TZ=UTC 0 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"CRON_TZ prefix alone", MaintenanceWindow{Cron: "CRON_TZ=", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"CRON_TZ prefix", MaintenanceWindow{Cron: "CRON_TZ=Europe/Berlin 0 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"descriptor", MaintenanceWindow{Cron: "@daily", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"every", MaintenanceWindow{Cron: "@every 1h", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"bare every", MaintenanceWindow{Cron: "@every", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"six fields", MaintenanceWindow{Cron: "0 0 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"out of range", MaintenanceWindow{Cron: "61 2 * * *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"never fires", MaintenanceWindow{Cron: "0 0 30 2 *", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"NUL", MaintenanceWindow{Cron: "0 2 * * *\x00", Duration: hour, TimeZone: "UTC"}, "cron"},
		{"empty", MaintenanceWindow{Duration: hour, TimeZone: "UTC"}, "cron"},
		{"no zone", MaintenanceWindow{Cron: "0 2 * * *", Duration: hour}, "time_zone"},
		{"host's zone", MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "Local"}, "time_zone"},
		{"unknown zone", MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "Mars/Olympus"}, "time_zone"},
		{"zone with NUL", MaintenanceWindow{Cron: "0 2 * * *", Duration: hour, TimeZone: "UTC\x00"}, "time_zone"},
		{"too short", MaintenanceWindow{Cron: "0 2 * * *", Duration: Duration(time.Second), TimeZone: "UTC"}, "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Validate("rollout.maintenance_window.")
			if tt.field == "" {
				require.NoError(t, err)
				_, err := tt.w.At(time.Now())
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
	_, err := MaintenanceWindow{Cron: "TZ=UTC", Duration: Duration(time.Hour), TimeZone: "UTC"}.At(time.Now())
	assert.Error(t, err)
}

func TestWindowAt(t *testing.T) {
	w := MaintenanceWindow{Cron: "0 2 * * *", Duration: Duration(2 * time.Hour), TimeZone: "Europe/Berlin"}
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	open, err := w.At(time.Date(2026, 5, 4, 3, 0, 0, 0, berlin))
	require.NoError(t, err)
	assert.Equal(t, WindowState{Open: true, Next: time.Date(2026, 5, 4, 4, 0, 0, 0, berlin)}, open)
	closed, err := w.At(time.Date(2026, 5, 4, 5, 0, 0, 0, berlin))
	require.NoError(t, err)
	assert.False(t, closed.Open)
	assert.True(t, closed.Next.Equal(time.Date(2026, 5, 5, 2, 0, 0, 0, berlin)))
}
