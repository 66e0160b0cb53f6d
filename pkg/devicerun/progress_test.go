package devicerun

import (
	"testing"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

func TestProgress(t *testing.T) {
	tests := []struct {
		current model.DeviceState
		report  otaflow.ReportStatus
		want    model.DeviceState
		moved   bool
	}{
		{model.StateCommanded, otaflow.ReportAccepted, model.StateDownloading, true},
		{model.StateDownloading, otaflow.ReportInstalling, model.StateInstalling, true},
		{model.StateDownloading, otaflow.ReportDownloading, model.StateDownloading, false},
		{model.StateInstalling, otaflow.ReportAccepted, model.StateInstalling, false},
		{model.StateCommanded, otaflow.ReportInstalled, model.StateCommanded, false},
	}
	for _, tt := range tests {
		got, moved := Progress(tt.current, tt.report)
		if got != tt.want || moved != tt.moved {
			t.Errorf("Progress(%s, %s) = %s, %v; want %s, %v", tt.current, tt.report, got, moved, tt.want, tt.moved)
		}
	}
}
