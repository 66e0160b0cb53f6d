package chirpstack

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
)

// TestLocalAddressesAreRefusedAfterResolution: a name that resolves to loopback is
// refused like the address itself unless local addresses are allowed.
func TestLocalAddressesAreRefusedAfterResolution(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	for _, tt := range []struct {
		address    string
		allowLocal bool
		connects   bool
	}{
		{"localhost:" + port, false, false},
		{"127.0.0.1:" + port, false, false},
		{"localhost:" + port, true, true},
	} {
		t.Run(tt.address, func(t *testing.T) {
			before := accepted.Load()
			clients := NewClients(tt.allowLocal)
			t.Cleanup(clients.Close)
			cl, err := clients.For(model.ChirpStackSettings{APIAddress: tt.address, APIToken: "t"})
			require.NoError(t, err, "connections are made lazily")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err = cl.Apps.Get(ctx, &api.GetApplicationRequest{Id: "a"})
			require.Error(t, err, "nothing there speaks gRPC")
			if tt.connects {
				assert.Eventually(t, func() bool { return accepted.Load() > before }, 2*time.Second, 10*time.Millisecond)
				return
			}
			assert.Contains(t, err.Error(), "local address")
			assert.Equal(t, before, accepted.Load(), "no connection reached the local listener")
		})
	}
}
