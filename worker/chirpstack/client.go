// Package chirpstack talks to a tenant's ChirpStack v4 through its official Go API
// module. Only worker activities use it.
package chirpstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/otaplane/ota/pkg/model"
)

// Client is one connection to a ChirpStack API.
type Client struct {
	conn    *grpc.ClientConn
	Devices api.DeviceServiceClient
	Fuota   api.FuotaServiceClient
	Apps    api.ApplicationServiceClient
	Profile api.DeviceProfileServiceClient
}

// tokenAuth sends the API token the way ChirpStack expects it.
type tokenAuth string

func (t tokenAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity is false: ChirpStack is often reached on a private network
// without TLS; operators who need TLS terminate it in front.
func (tokenAuth) RequireTransportSecurity() bool { return false }

type clientKey struct{ address, token string }

// Clients caches one connection per ChirpStack address and token, so tenants that share
// a ChirpStack share a connection and a changed token gets a fresh one.
type Clients struct {
	mu     sync.Mutex
	conns  map[clientKey]*Client
	dialer *net.Dialer
}

// NewClients returns an empty cache. Unless allowLocal (lorawan.allow_local_addresses),
// connections to loopback, link-local, unspecified and multicast addresses are refused
// once names are resolved, so a tenant cannot aim the workers at services of their own
// host, by address or by a name that resolves there (the API checks only literals).
func NewClients(allowLocal bool) *Clients {
	d := &net.Dialer{}
	if !allowLocal {
		d.ControlContext = refuseLocal
	}
	return &Clients{conns: map[clientKey]*Client{}, dialer: d}
}

// refuseLocal runs for every address a connection is about to be made to.
func refuseLocal(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("chirpstack: unexpected dial address %q: %w", address, err)
	}
	if model.LocalAddr(ap.Addr()) {
		return fmt.Errorf("chirpstack: %s is a local address; lorawan.allow_local_addresses is off", ap.Addr())
	}
	return nil
}

// For returns the client for a tenant's settings. grpc connects lazily, so this does
// not fail when ChirpStack is down; the calls do.
func (c *Clients) For(s model.ChirpStackSettings) (*Client, error) {
	key := clientKey{s.APIAddress, s.APIToken}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.conns[key]; ok {
		return cl, nil
	}
	conn, err := grpc.NewClient(s.APIAddress,
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return c.dialer.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(tokenAuth(s.APIToken)))
	if err != nil {
		return nil, fmt.Errorf("chirpstack %s: %w", s.APIAddress, err)
	}
	cl := &Client{conn: conn, Devices: api.NewDeviceServiceClient(conn), Fuota: api.NewFuotaServiceClient(conn),
		Apps: api.NewApplicationServiceClient(conn), Profile: api.NewDeviceProfileServiceClient(conn)}
	c.conns[key] = cl
	return cl, nil
}

// Close closes every connection.
func (c *Clients) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, cl := range c.conns {
		_ = cl.conn.Close()
		delete(c.conns, k)
	}
}

// Code is the gRPC status code of err (codes.OK for nil).
func Code(err error) codes.Code { return status.Code(err) }

// Permanent reports whether retrying the same call cannot help.
func Permanent(err error) bool {
	switch Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}
