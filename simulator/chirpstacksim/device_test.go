package chirpstacksim

import (
	"strings"
	"testing"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

func TestApplicationsAndProfiles(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)

	app, err := c.app.Create(ctx, &api.CreateApplicationRequest{Application: &api.Application{
		Name: "meters", TenantId: srv.TenantID(), Tags: map[string]string{"k": "v"},
	}})
	require.NoError(t, err)
	got, err := c.app.Get(ctx, &api.GetApplicationRequest{Id: app.GetId()})
	require.NoError(t, err)
	assert.Equal(t, "meters", got.GetApplication().GetName())
	assert.Equal(t, srv.TenantID(), got.GetApplication().GetTenantId())

	_, err = c.app.Update(ctx, &api.UpdateApplicationRequest{Application: &api.Application{Id: app.GetId(), Name: "renamed"}})
	require.NoError(t, err)
	apps, err := c.app.List(ctx, &api.ListApplicationsRequest{TenantId: srv.TenantID(), Limit: 10})
	require.NoError(t, err)
	require.Len(t, apps.GetResult(), 1)
	assert.Equal(t, "renamed", apps.GetResult()[0].GetName())

	profileID := createProfile(t, ctx, c, srv.TenantID(), "class-c")
	dp, err := c.profile.Get(ctx, &api.GetDeviceProfileRequest{Id: profileID})
	require.NoError(t, err)
	p := dp.GetDeviceProfile()
	assert.Equal(t, common.Region_EU868, p.GetRegion())
	assert.Equal(t, common.MacVersion_LORAWAN_1_0_4, p.GetMacVersion())
	assert.True(t, p.GetSupportsClassC())
	assert.False(t, p.GetSupportsClassB())
	assert.Equal(t, api.Ts004Version_TS004_V100, p.GetAppLayerParams().GetTs004Version())

	p.SupportsClassB = true
	_, err = c.profile.Update(ctx, &api.UpdateDeviceProfileRequest{DeviceProfile: p})
	require.NoError(t, err)
	profiles, err := c.profile.List(ctx, &api.ListDeviceProfilesRequest{TenantId: srv.TenantID(), Limit: 10})
	require.NoError(t, err)
	require.Len(t, profiles.GetResult(), 1)
	assert.True(t, profiles.GetResult()[0].GetSupportsClassB())

	// A profile in use cannot go; deleting the application takes its devices along.
	eui := createDevice(t, ctx, c, app.GetId(), profileID)
	_, err = c.profile.Delete(ctx, &api.DeleteDeviceProfileRequest{Id: profileID})
	requireCode(t, codes.FailedPrecondition, err)
	_, err = c.app.Delete(ctx, &api.DeleteApplicationRequest{Id: app.GetId()})
	require.NoError(t, err)
	_, ok := srv.Device(eui)
	assert.False(t, ok)
	_, err = c.profile.Delete(ctx, &api.DeleteDeviceProfileRequest{Id: profileID})
	require.NoError(t, err)

	_, err = c.app.Create(ctx, &api.CreateApplicationRequest{Application: &api.Application{
		Name: "orphan", TenantId: "00000000-0000-0000-0000-000000000000",
	}})
	requireCode(t, codes.NotFound, err)
}

func TestDeviceLifecycle(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	eui := strings.ToUpper(randomEUI(t)) // ChirpStack accepts either case and stores lower

	_, err := c.device.Create(ctx, &api.CreateDeviceRequest{Device: &api.Device{
		DevEui: eui, Name: "meter-1", ApplicationId: fx.appID, DeviceProfileId: fx.profileID,
		Tags: map[string]string{"site": "a"},
	}})
	require.NoError(t, err)
	eui = strings.ToLower(eui)

	got, err := c.device.Get(ctx, &api.GetDeviceRequest{DevEui: eui})
	require.NoError(t, err)
	assert.Equal(t, eui, got.GetDevice().GetDevEui())
	assert.Equal(t, "meter-1", got.GetDevice().GetName())
	assert.Equal(t, zeroEUI, got.GetDevice().GetJoinEui())
	assert.NotNil(t, got.GetCreatedAt())
	assert.Nil(t, got.GetLastSeenAt())

	_, err = c.device.Update(ctx, &api.UpdateDeviceRequest{Device: &api.Device{
		DevEui: eui, Name: "meter-1b", ApplicationId: fx.appID, DeviceProfileId: fx.profileID,
	}})
	require.NoError(t, err)
	d, ok := srv.Device(eui)
	require.True(t, ok)
	assert.Equal(t, "meter-1b", d.GetName())

	list, err := c.device.List(ctx, &api.ListDevicesRequest{ApplicationId: fx.appID, Limit: 10})
	require.NoError(t, err)
	require.EqualValues(t, 1, list.GetTotalCount())
	assert.Equal(t, "class-c", list.GetResult()[0].GetDeviceProfileName())
	list, err = c.device.List(ctx, &api.ListDevicesRequest{ApplicationId: fx.appID})
	require.NoError(t, err)
	assert.EqualValues(t, 1, list.GetTotalCount())
	assert.Empty(t, list.GetResult(), "ChirpStack returns no rows without a limit")

	// OTAA keys.
	nwkKey := "0102030405060708090a0b0c0d0e0f10"
	_, err = c.device.CreateKeys(ctx, &api.CreateDeviceKeysRequest{DeviceKeys: &api.DeviceKeys{DevEui: eui, NwkKey: nwkKey}})
	require.NoError(t, err)
	keys, err := c.device.GetKeys(ctx, &api.GetDeviceKeysRequest{DevEui: eui})
	require.NoError(t, err)
	assert.Equal(t, nwkKey, keys.GetDeviceKeys().GetNwkKey())
	assert.Equal(t, zeroKey, keys.GetDeviceKeys().GetAppKey())
	_, err = c.device.CreateKeys(ctx, &api.CreateDeviceKeysRequest{DeviceKeys: &api.DeviceKeys{DevEui: eui, NwkKey: nwkKey}})
	requireCode(t, codes.AlreadyExists, err)
	appKey := "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
	_, err = c.device.UpdateKeys(ctx, &api.UpdateDeviceKeysRequest{DeviceKeys: &api.DeviceKeys{DevEui: eui, NwkKey: nwkKey, AppKey: appKey}})
	require.NoError(t, err)
	k, ok := srv.DeviceKeys(eui)
	require.True(t, ok)
	assert.Equal(t, strings.ToLower(appKey), k.GetAppKey())
	_, err = c.device.DeleteKeys(ctx, &api.DeleteDeviceKeysRequest{DevEui: eui})
	require.NoError(t, err)
	_, err = c.device.GetKeys(ctx, &api.GetDeviceKeysRequest{DevEui: eui})
	requireCode(t, codes.NotFound, err)

	_, err = c.device.Delete(ctx, &api.DeleteDeviceRequest{DevEui: eui})
	require.NoError(t, err)
	_, err = c.device.Get(ctx, &api.GetDeviceRequest{DevEui: eui})
	requireCode(t, codes.NotFound, err)
}

func TestDeviceErrors(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	existing := createDevice(t, ctx, c, fx.appID, fx.profileID)
	unknown := randomEUI(t)
	missingID := "11111111-2222-4333-8444-555555555555"

	otherTenant, err := srv.AddTenant(&api.Tenant{Name: "other"})
	require.NoError(t, err)
	foreignProfile := createProfile(t, ctx, c, otherTenant, "foreign")

	device := func(eui, appID, profileID string) *api.CreateDeviceRequest {
		return &api.CreateDeviceRequest{Device: &api.Device{DevEui: eui, ApplicationId: appID, DeviceProfileId: profileID}}
	}
	createTests := []struct {
		name string
		req  *api.CreateDeviceRequest
		want codes.Code
	}{
		{name: "missing device", req: &api.CreateDeviceRequest{}, want: codes.InvalidArgument},
		{name: "short dev_eui", req: device("0102", fx.appID, fx.profileID), want: codes.InvalidArgument},
		{name: "non-hex dev_eui", req: device("zz02030405060708", fx.appID, fx.profileID), want: codes.InvalidArgument},
		{name: "malformed application id", req: device(unknown, "app", fx.profileID), want: codes.InvalidArgument},
		{name: "unknown application", req: device(unknown, missingID, fx.profileID), want: codes.NotFound},
		{name: "unknown device profile", req: device(unknown, fx.appID, missingID), want: codes.InvalidArgument},
		{name: "profile of another tenant", req: device(unknown, fx.appID, foreignProfile), want: codes.InvalidArgument},
		{name: "duplicate dev_eui", req: device(existing, fx.appID, fx.profileID), want: codes.AlreadyExists},
	}
	for _, tt := range createTests {
		t.Run("create/"+tt.name, func(t *testing.T) {
			_, err := c.device.Create(ctx, tt.req)
			requireCode(t, tt.want, err)
		})
	}

	callTests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{name: "get unknown", want: codes.NotFound, call: func() error {
			_, err := c.device.Get(ctx, &api.GetDeviceRequest{DevEui: unknown})
			return err
		}},
		{name: "delete unknown", want: codes.NotFound, call: func() error {
			_, err := c.device.Delete(ctx, &api.DeleteDeviceRequest{DevEui: unknown})
			return err
		}},
		{name: "update unknown", want: codes.NotFound, call: func() error {
			_, err := c.device.Update(ctx, &api.UpdateDeviceRequest{Device: &api.Device{DevEui: unknown, DeviceProfileId: fx.profileID}})
			return err
		}},
		{name: "create keys for unknown device", want: codes.NotFound, call: func() error {
			_, err := c.device.CreateKeys(ctx, &api.CreateDeviceKeysRequest{DeviceKeys: &api.DeviceKeys{DevEui: unknown}})
			return err
		}},
		{name: "get keys of device without keys", want: codes.NotFound, call: func() error {
			_, err := c.device.GetKeys(ctx, &api.GetDeviceKeysRequest{DevEui: existing})
			return err
		}},
		{name: "update keys of device without keys", want: codes.NotFound, call: func() error {
			_, err := c.device.UpdateKeys(ctx, &api.UpdateDeviceKeysRequest{DeviceKeys: &api.DeviceKeys{DevEui: existing}})
			return err
		}},
		{name: "malformed key", want: codes.InvalidArgument, call: func() error {
			_, err := c.device.CreateKeys(ctx, &api.CreateDeviceKeysRequest{DeviceKeys: &api.DeviceKeys{DevEui: existing, NwkKey: "abc"}})
			return err
		}},
		{name: "list without application", want: codes.InvalidArgument, call: func() error {
			_, err := c.device.List(ctx, &api.ListDevicesRequest{Limit: 10})
			return err
		}},
		{name: "enqueue for unknown device", want: codes.NotFound, call: func() error {
			_, err := c.device.Enqueue(ctx, &api.EnqueueDeviceQueueItemRequest{QueueItem: &api.DeviceQueueItem{DevEui: unknown, FPort: 10}})
			return err
		}},
		{name: "enqueue on fPort 0", want: codes.InvalidArgument, call: func() error {
			_, err := c.device.Enqueue(ctx, &api.EnqueueDeviceQueueItemRequest{QueueItem: &api.DeviceQueueItem{DevEui: existing}})
			return err
		}},
	}
	for _, tt := range callTests {
		t.Run(tt.name, func(t *testing.T) {
			requireCode(t, tt.want, tt.call())
		})
	}
}

func TestDeviceQueue(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	eui := createDevice(t, ctx, c, fx.appID, fx.profileID)

	enqueue := func(data string, flush bool) string {
		resp, err := c.device.Enqueue(ctx, &api.EnqueueDeviceQueueItemRequest{
			QueueItem:  &api.DeviceQueueItem{DevEui: eui, FPort: 10, Data: []byte(data), Confirmed: true},
			FlushQueue: flush,
		})
		require.NoError(t, err)
		require.True(t, isUUID(resp.GetId()))
		return resp.GetId()
	}
	first := enqueue("one", false)
	enqueue("two", false)

	q, err := c.device.GetQueue(ctx, &api.GetDeviceQueueItemsRequest{DevEui: eui})
	require.NoError(t, err)
	require.EqualValues(t, 2, q.GetTotalCount())
	assert.Equal(t, first, q.GetResult()[0].GetId())
	assert.Equal(t, []byte("one"), q.GetResult()[0].GetData())

	third := enqueue("three", true)
	q, err = c.device.GetQueue(ctx, &api.GetDeviceQueueItemsRequest{DevEui: eui, CountOnly: true})
	require.NoError(t, err)
	assert.EqualValues(t, 1, q.GetTotalCount())
	assert.Empty(t, q.GetResult())
	require.Len(t, srv.DeviceQueue(eui), 1)
	assert.Equal(t, third, srv.DeviceQueue(eui)[0].GetId())

	_, err = c.device.FlushQueue(ctx, &api.FlushDeviceQueueRequest{DevEui: eui})
	require.NoError(t, err)
	assert.Empty(t, srv.DeviceQueue(eui))
}
