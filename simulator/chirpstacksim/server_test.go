package chirpstacksim

import (
	"context"
	"testing"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

func TestAuthentication(t *testing.T) {
	srv := startServer(t, Options{})
	anonymous := dial(t, srv, "")

	tests := []struct {
		name     string
		metadata []string // key/value pairs; nil sends none
		want     codes.Code
	}{
		{name: "no token", want: codes.Unauthenticated},
		{name: "wrong token", metadata: []string{"authorization", "Bearer nope"}, want: codes.Unauthenticated},
		{name: "wrong scheme", metadata: []string{"authorization", "Basic " + testToken}, want: codes.Unauthenticated},
		{name: "bare token", metadata: []string{"authorization", testToken}, want: codes.Unauthenticated},
		{name: "valid token", metadata: []string{"authorization", "Bearer " + testToken}, want: codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			if tt.metadata != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, tt.metadata...)
			}
			_, err := anonymous.tenant.Get(ctx, &api.GetTenantRequest{Id: srv.TenantID()})
			if tt.want == codes.OK {
				require.NoError(t, err)
				return
			}
			requireCode(t, tt.want, err)
		})
	}

	t.Run("per-RPC credentials", func(t *testing.T) {
		_, err := dial(t, srv, "other-token").device.Get(testContext(t), &api.GetDeviceRequest{DevEui: "0102030405060708"})
		requireCode(t, codes.Unauthenticated, err)
		_, err = dial(t, srv, testToken).device.Get(testContext(t), &api.GetDeviceRequest{DevEui: "0102030405060708"})
		requireCode(t, codes.NotFound, err) // authenticated, then the device is unknown
	})
}

func TestStartRequiresToken(t *testing.T) {
	srv := New(Options{})
	require.ErrorContains(t, srv.Start("127.0.0.1:0"), "APIToken")
	srv.Stop()
}

func TestTenants(t *testing.T) {
	srv := startServer(t, Options{TenantName: "acme"})
	c := dial(t, srv, testToken)
	ctx := testContext(t)

	got, err := c.tenant.Get(ctx, &api.GetTenantRequest{Id: srv.TenantID()})
	require.NoError(t, err)
	assert.Equal(t, "acme", got.GetTenant().GetName())
	assert.NotNil(t, got.GetCreatedAt())

	id, err := srv.AddTenant(&api.Tenant{Name: "second"})
	require.NoError(t, err)
	_, err = srv.AddTenant(&api.Tenant{Id: id, Name: "again"})
	requireCode(t, codes.AlreadyExists, err)

	list, err := c.tenant.List(ctx, &api.ListTenantsRequest{Limit: 10})
	require.NoError(t, err)
	require.EqualValues(t, 2, list.GetTotalCount())
	assert.Equal(t, []string{"acme", "second"}, []string{list.GetResult()[0].GetName(), list.GetResult()[1].GetName()})

	_, err = c.tenant.Get(ctx, &api.GetTenantRequest{Id: "not-a-uuid"})
	requireCode(t, codes.InvalidArgument, err)
	_, err = c.tenant.Get(ctx, &api.GetTenantRequest{Id: "00000000-0000-0000-0000-000000000000"})
	requireCode(t, codes.NotFound, err)
	_, err = c.tenant.Create(ctx, &api.CreateTenantRequest{Tenant: &api.Tenant{Name: "x"}})
	requireCode(t, codes.Unimplemented, err)
}

func TestSetDown(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)

	srv.SetDown(true)
	_, err := c.tenant.Get(ctx, &api.GetTenantRequest{Id: srv.TenantID()})
	requireCode(t, codes.Unavailable, err)
	_, err = c.device.Create(ctx, &api.CreateDeviceRequest{})
	requireCode(t, codes.Unavailable, err)
	// Down wins over authentication, as a dead server checks nothing.
	_, err = dial(t, srv, "").tenant.Get(ctx, &api.GetTenantRequest{Id: srv.TenantID()})
	requireCode(t, codes.Unavailable, err)

	srv.SetDown(false)
	_, err = c.tenant.Get(ctx, &api.GetTenantRequest{Id: srv.TenantID()})
	require.NoError(t, err)
}

func TestFailNext(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	get := func() error {
		_, err := c.tenant.Get(ctx, &api.GetTenantRequest{Id: srv.TenantID()})
		return err
	}

	tests := []struct {
		name   string
		method string
	}{
		{name: "full method name", method: api.TenantService_Get_FullMethodName},
		{name: "without slash", method: "api.TenantService/Get"},
		{name: "short", method: "TenantService/Get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.FailNext(tt.method, 2, codes.ResourceExhausted)
			requireCode(t, codes.ResourceExhausted, get())
			requireCode(t, codes.ResourceExhausted, get())
			require.NoError(t, get())
		})
	}

	t.Run("other methods unaffected", func(t *testing.T) {
		srv.FailNext("TenantService/Get", 1, codes.Internal)
		_, err := c.tenant.List(ctx, &api.ListTenantsRequest{Limit: 1})
		require.NoError(t, err)
		requireCode(t, codes.Internal, get())
	})

	t.Run("cleared with n=0", func(t *testing.T) {
		srv.FailNext("TenantService/Get", 5, codes.Internal)
		srv.FailNext("TenantService/Get", 0, codes.Internal)
		require.NoError(t, get())
	})

	t.Run("unauthenticated calls do not consume", func(t *testing.T) {
		srv.FailNext("TenantService/Get", 1, codes.Aborted)
		_, err := dial(t, srv, "").tenant.Get(ctx, &api.GetTenantRequest{Id: srv.TenantID()})
		requireCode(t, codes.Unauthenticated, err)
		requireCode(t, codes.Aborted, get())
	})
}

func TestCallCounters(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := context.Background()

	for range 3 {
		_, _ = c.device.Get(ctx, &api.GetDeviceRequest{DevEui: "0102030405060708"})
	}
	srv.SetDown(true)
	_, _ = c.device.Get(ctx, &api.GetDeviceRequest{DevEui: "0102030405060708"})

	assert.Equal(t, 4, srv.Calls(api.DeviceService_Get_FullMethodName))
	assert.Equal(t, 4, srv.Calls("DeviceService/Get"))
	assert.Equal(t, 0, srv.Calls("DeviceService/Create"))
	assert.Equal(t, map[string]int{"DeviceService/Get": 4}, srv.CallCounts())
}

func TestMethodKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/api.FuotaService/StartDeployment", "FuotaService/StartDeployment"},
		{"api.FuotaService/StartDeployment", "FuotaService/StartDeployment"},
		{"FuotaService/StartDeployment", "FuotaService/StartDeployment"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, methodKey(tt.in), tt.in)
	}
}

func TestPage(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	tests := []struct {
		name          string
		limit, offset uint32
		want          []int
	}{
		{name: "no limit returns nothing, like ChirpStack", limit: 0, want: nil},
		{name: "first page", limit: 2, want: []int{1, 2}},
		{name: "middle page", limit: 2, offset: 2, want: []int{3, 4}},
		{name: "short last page", limit: 2, offset: 4, want: []int{5}},
		{name: "past the end", limit: 2, offset: 9, want: nil},
		{name: "large limit", limit: 100, want: items},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := page(items, tt.limit, tt.offset)
			if len(tt.want) == 0 {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
