package fleet

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
)

type tenantList struct {
	tenants []model.Tenant
	err     error
}

func (l tenantList) ListTenants(context.Context) ([]model.Tenant, error) { return l.tenants, l.err }

func TestReady(t *testing.T) {
	tests := []struct {
		name      string
		refreshes []tenantList
		wantReady bool
	}{
		{"before the first refresh", nil, false},
		{"tenant list unreadable", []tenantList{{err: errors.New("database down")}}, false},
		{"every listed tenant served (none yet)", []tenantList{{}}, true},
		{"recovers after a failed refresh", []tenantList{{err: errors.New("database down")}, {}}, true},
		{"a failed refresh after a good one", []tenantList{{}, {err: errors.New("database down")}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New(nil, config.Config{}, nil, nil, zap.NewNop())
			for _, l := range tc.refreshes {
				f.tenants = l
				_ = f.Refresh(context.Background())
			}
			err := f.Ready(context.Background())
			if (err == nil) != tc.wantReady {
				t.Errorf("Ready() = %v, want ready=%v", err, tc.wantReady)
			}
		})
	}
}
