package devserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClusterPorts(t *testing.T) {
	tests := []struct {
		cluster      int
		grpc, tchan  string
		wantValidErr bool
	}{
		{cluster: 0, grpc: "127.0.0.1:7114", tchan: "127.0.0.1:7104"},
		{cluster: 1, grpc: "127.0.0.1:8114", tchan: "127.0.0.1:8104"},
		{cluster: 3, grpc: "127.0.0.1:10114", tchan: "127.0.0.1:10104"},
		{cluster: -1, wantValidErr: true},
		{cluster: 4, wantValidErr: true},
	}
	for _, tt := range tests {
		o := Options{Persistence: PersistenceMemory, Shards: 1, LogLevel: "warn", Cluster: tt.cluster}
		err := o.Validate()
		if tt.wantValidErr {
			assert.Error(t, err, "cluster %d", tt.cluster)
			continue
		}
		assert.NoError(t, err)
		assert.Equal(t, tt.grpc, FrontendGRPCAddr(tt.cluster))
		assert.Equal(t, tt.tchan, FrontendTChannelAddr(tt.cluster))
	}
}
