package chirpstacksim

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

const (
	testStep  = 20 * time.Millisecond
	testScale = 0.05 // multicast_timeout 2 → 100ms
)

func fastOptions() Options {
	return Options{StepInterval: testStep, TimeoutScale: testScale}
}

func testDeployment(fx fixture) *api.FuotaDeployment {
	return &api.FuotaDeployment{
		Name:                              "fw-2.0.0",
		ApplicationId:                     fx.appID,
		DeviceProfileId:                   fx.profileID,
		MulticastGroupType:                api.MulticastGroupType_CLASS_C,
		MulticastDr:                       5,
		MulticastFrequency:                869525000,
		MulticastTimeout:                  2,
		FragmentationFragmentSize:         50,
		FragmentationRedundancyPercentage: 10,
		RequestFragmentationSessionStatus: api.RequestFragmentationSessionStatus_AFTER_FRAGMENT_ENQUEUE,
		Payload:                           []byte("firmware image 2.0.0"),
		OnCompleteSetDeviceTags:           map[string]string{"firmware": "2.0.0"},
	}
}

func createDeployment(t *testing.T, ctx context.Context, c clients, d *api.FuotaDeployment, devices ...string) string {
	t.Helper()
	resp, err := c.fuota.CreateDeployment(ctx, &api.CreateFuotaDeploymentRequest{Deployment: d})
	require.NoError(t, err)
	if len(devices) > 0 {
		_, err = c.fuota.AddDevices(ctx, &api.AddDevicesToFuotaDeploymentRequest{FuotaDeploymentId: resp.GetId(), DevEuis: devices})
		require.NoError(t, err)
	}
	return resp.GetId()
}

func waitCompleted(t *testing.T, srv *Server, id string) DeploymentState {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		st, ok := srv.Deployment(id)
		require.True(t, ok)
		if !st.CompletedAt.IsZero() {
			return st
		}
		time.Sleep(pollInterval)
	}
	st, _ := srv.Deployment(id)
	t.Fatalf("deployment %s did not complete; jobs: %v", id, st.Jobs)
	return DeploymentState{}
}

func jobNames(jobs []*api.FuotaDeploymentJob) []string {
	names := make([]string, 0, len(jobs))
	for _, j := range jobs {
		names = append(names, j.GetJob())
	}
	return names
}

// hookRecorder collects OnFUOTAComplete calls.
type hookRecorder struct {
	mu   sync.Mutex
	euis []string
}

func (h *hookRecorder) record(eui string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.euis = append(h.euis, eui)
}

func (h *hookRecorder) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.euis)
	slices.Sort(out)
	return out
}

func TestFUOTAHealthyDevices(t *testing.T) {
	tests := []struct {
		name           string
		statusRequest  api.RequestFragmentationSessionStatus
		wantJobs       []string
		wantFragStatus bool
	}{
		{
			name:          "status after enqueue",
			statusRequest: api.RequestFragmentationSessionStatus_AFTER_FRAGMENT_ENQUEUE,
			wantJobs: []string{"CREATE_MC_GROUP", "ADD_DEVS_TO_MC_GROUP", "ADD_GWS_TO_MC_GROUP", "MC_GROUP_SETUP",
				"FRAG_SESSION_SETUP", "MC_SESSION", "ENQUEUE", "FRAG_STATUS", "DELETE_MC_GROUP", "COMPLETE"},
			wantFragStatus: true,
		},
		{
			name:          "status after session timeout",
			statusRequest: api.RequestFragmentationSessionStatus_AFTER_SESSION_TIMEOUT,
			wantJobs: []string{"CREATE_MC_GROUP", "ADD_DEVS_TO_MC_GROUP", "ADD_GWS_TO_MC_GROUP", "MC_GROUP_SETUP",
				"FRAG_SESSION_SETUP", "MC_SESSION", "ENQUEUE", "FRAG_STATUS", "DELETE_MC_GROUP", "COMPLETE"},
			wantFragStatus: true,
		},
		{
			name:          "no status request",
			statusRequest: api.RequestFragmentationSessionStatus_NO_REQUEST,
			wantJobs: []string{"CREATE_MC_GROUP", "ADD_DEVS_TO_MC_GROUP", "ADD_GWS_TO_MC_GROUP", "MC_GROUP_SETUP",
				"FRAG_SESSION_SETUP", "MC_SESSION", "ENQUEUE", "DELETE_MC_GROUP", "COMPLETE"},
			wantFragStatus: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, fastOptions())
			c := dial(t, srv, testToken)
			ctx := testContext(t)
			fx := newFixture(t, ctx, c, srv.TenantID())
			var hooks hookRecorder
			srv.OnFUOTAComplete(hooks.record)

			devices := []string{
				createDevice(t, ctx, c, fx.appID, fx.profileID),
				createDevice(t, ctx, c, fx.appID, fx.profileID),
				createDevice(t, ctx, c, fx.appID, fx.profileID),
			}
			slices.Sort(devices)
			d := testDeployment(fx)
			d.RequestFragmentationSessionStatus = tt.statusRequest
			id := createDeployment(t, ctx, c, d, devices...)

			_, err := c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
			require.NoError(t, err)
			st := waitCompleted(t, srv, id)
			// Five device-facing jobs, one tick each, before COMPLETE's tick.
			assert.GreaterOrEqual(t, st.CompletedAt.Sub(st.StartedAt), 5*testStep)

			got, err := c.fuota.GetDeployment(ctx, &api.GetFuotaDeploymentRequest{Id: id})
			require.NoError(t, err)
			require.NotNil(t, got.GetStartedAt())
			require.NotNil(t, got.GetCompletedAt())
			assert.False(t, got.GetCompletedAt().AsTime().Before(got.GetStartedAt().AsTime()))

			list, err := c.fuota.ListDevices(ctx, &api.ListFuotaDeploymentDevicesRequest{FuotaDeploymentId: id, Limit: 10})
			require.NoError(t, err)
			require.EqualValues(t, 3, list.GetTotalCount())
			for i, item := range list.GetResult() {
				assert.Equal(t, devices[i], item.GetDevEui())
				assert.Empty(t, item.GetErrorMsg())
				require.NotNil(t, item.GetMcGroupSetupCompletedAt(), item.GetDevEui())
				require.NotNil(t, item.GetFragSessionSetupCompletedAt())
				require.NotNil(t, item.GetMcSessionCompletedAt())
				require.NotNil(t, item.GetCompletedAt())
				// One step per scheduler tick, in ChirpStack's order.
				assert.True(t, item.GetFragSessionSetupCompletedAt().AsTime().After(item.GetMcGroupSetupCompletedAt().AsTime()))
				assert.True(t, item.GetMcSessionCompletedAt().AsTime().After(item.GetFragSessionSetupCompletedAt().AsTime()))
				if tt.wantFragStatus {
					require.NotNil(t, item.GetFragStatusCompletedAt())
					assert.True(t, item.GetFragStatusCompletedAt().AsTime().After(item.GetMcSessionCompletedAt().AsTime()))
				} else {
					assert.Nil(t, item.GetFragStatusCompletedAt())
				}
				dev, ok := srv.Device(item.GetDevEui())
				require.True(t, ok)
				assert.Equal(t, "2.0.0", dev.GetTags()["firmware"], "on_complete_set_device_tags")
			}

			jobs, err := c.fuota.ListJobs(ctx, &api.ListFuotaDeploymentJobsRequest{FuotaDeploymentId: id})
			require.NoError(t, err)
			assert.Equal(t, tt.wantJobs, jobNames(jobs.GetJobs()))
			for _, j := range jobs.GetJobs() {
				assert.EqualValues(t, 1, j.GetAttemptCount(), j.GetJob())
				assert.NotNil(t, j.GetCompletedAt(), j.GetJob())
				assert.NotNil(t, j.GetSchedulerRunAfter(), j.GetJob())
				assert.Empty(t, j.GetErrorMsg(), j.GetJob())
				assert.Empty(t, j.GetWarningMsg(), j.GetJob())
			}
			assert.Equal(t, devices, hooks.get())

			// A started deployment is frozen, as in ChirpStack.
			_, err = c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
			requireCode(t, codes.FailedPrecondition, err)
			_, err = c.fuota.AddDevices(ctx, &api.AddDevicesToFuotaDeploymentRequest{FuotaDeploymentId: id, DevEuis: devices[:1]})
			requireCode(t, codes.FailedPrecondition, err)
			d.Id = id
			_, err = c.fuota.UpdateDeployment(ctx, &api.UpdateFuotaDeploymentRequest{Deployment: d})
			requireCode(t, codes.FailedPrecondition, err)
		})
	}
}

func TestFUOTAFailingAndSilentDevices(t *testing.T) {
	srv := startServer(t, fastOptions())
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	var hooks hookRecorder
	srv.OnFUOTAComplete(hooks.record)

	healthy := createDevice(t, ctx, c, fx.appID, fx.profileID)
	failing := createDevice(t, ctx, c, fx.appID, fx.profileID)
	failingDefault := createDevice(t, ctx, c, fx.appID, fx.profileID)
	silent := createDevice(t, ctx, c, fx.appID, fx.profileID)
	srv.FailDevice(failing, StepFragSessionSetup, "Error: custom answer")
	srv.FailDevice(failingDefault, StepMcSession, "")
	srv.SilenceDevice(silent)

	d := testDeployment(fx)
	d.UnicastMaxRetryCount = 1
	id := createDeployment(t, ctx, c, d, healthy, failing, failingDefault, silent)
	_, err := c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
	require.NoError(t, err)
	st := waitCompleted(t, srv, id)

	// Three unicast steps each wait (1 + retries) × 100ms for the devices that
	// do not answer successfully.
	assert.GreaterOrEqual(t, st.CompletedAt.Sub(st.StartedAt), 3*2*100*time.Millisecond)

	h := st.Device(healthy)
	assert.Empty(t, h.GetErrorMsg())
	assert.NotNil(t, h.GetCompletedAt())
	assert.NotNil(t, h.GetFragStatusCompletedAt())

	f := st.Device(failing)
	assert.Equal(t, "Error: custom answer", f.GetErrorMsg())
	assert.NotNil(t, f.GetMcGroupSetupCompletedAt())
	assert.Nil(t, f.GetFragSessionSetupCompletedAt())
	assert.Nil(t, f.GetMcSessionCompletedAt())
	assert.Nil(t, f.GetCompletedAt())

	fd := st.Device(failingDefault)
	assert.Equal(t, unicastSteps[jobMcSession].failMsg, fd.GetErrorMsg())
	assert.NotNil(t, fd.GetFragSessionSetupCompletedAt())
	assert.Nil(t, fd.GetMcSessionCompletedAt())

	s := st.Device(silent)
	assert.Equal(t, "McGroupSetupReq timeout.", s.GetErrorMsg())
	assert.Nil(t, s.GetMcGroupSetupCompletedAt())
	assert.Nil(t, s.GetCompletedAt())

	byName := map[string]*api.FuotaDeploymentJob{}
	for _, j := range st.Jobs {
		byName[j.GetJob()] = j
	}
	mcSetup := byName["MC_GROUP_SETUP"]
	assert.EqualValues(t, 1, mcSetup.GetMaxRetryCount())
	assert.EqualValues(t, 2, mcSetup.GetAttemptCount())
	assert.Equal(t, "1 devices did not complete the multicast group setup", mcSetup.GetWarningMsg())
	assert.Equal(t, "1 devices did not complete the fragmentation session setup", byName["FRAG_SESSION_SETUP"].GetWarningMsg())
	assert.Equal(t, "1 devices did not complete the multicast session setup", byName["MC_SESSION"].GetWarningMsg())
	assert.Empty(t, byName["FRAG_STATUS"].GetWarningMsg())
	assert.Equal(t, "3 devices did not complete the FUOTA deployment", byName["COMPLETE"].GetWarningMsg())

	assert.Equal(t, []string{healthy}, hooks.get())
	dev, _ := srv.Device(failing)
	assert.NotContains(t, dev.GetTags(), "firmware")
}

func TestFUOTADeviceSilencedMidway(t *testing.T) {
	srv := startServer(t, Options{StepInterval: 100 * time.Millisecond, TimeoutScale: testScale})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	healthy := createDevice(t, ctx, c, fx.appID, fx.profileID)
	goesQuiet := createDevice(t, ctx, c, fx.appID, fx.profileID)
	id := createDeployment(t, ctx, c, testDeployment(fx), healthy, goesQuiet)

	_, err := c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, _ := srv.Deployment(id)
		return st.Device(goesQuiet).GetMcGroupSetupCompletedAt() != nil
	}, waitTimeout, pollInterval)
	srv.SilenceDevice(goesQuiet)

	st := waitCompleted(t, srv, id)
	q := st.Device(goesQuiet)
	assert.NotNil(t, q.GetMcGroupSetupCompletedAt(), "steps done before silence keep their timestamps")
	assert.Nil(t, q.GetFragSessionSetupCompletedAt())
	assert.Equal(t, "FragSessionSetupReq timeout.", q.GetErrorMsg())
	assert.NotNil(t, st.Device(healthy).GetCompletedAt())
	assert.Empty(t, st.Device(healthy).GetErrorMsg())
}

func TestFUOTAWithoutDevices(t *testing.T) {
	srv := startServer(t, fastOptions())
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	id := createDeployment(t, ctx, c, testDeployment(fx))

	_, err := c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
	require.NoError(t, err)
	st := waitCompleted(t, srv, id)
	assert.Equal(t, []string{"CREATE_MC_GROUP", "ADD_DEVS_TO_MC_GROUP", "ADD_GWS_TO_MC_GROUP", "MC_GROUP_SETUP",
		"FRAG_SESSION_SETUP", "DELETE_MC_GROUP", "COMPLETE"}, jobNames(st.Jobs))
	assert.Equal(t, errNoDevices, st.Jobs[4].GetErrorMsg())
}

func TestFUOTAEnforcedAppLayerParams(t *testing.T) {
	srv := startServer(t, Options{StepInterval: testStep, EnforceAppLayerParams: true})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	bare, err := c.profile.Create(ctx, &api.CreateDeviceProfileRequest{DeviceProfile: &api.DeviceProfile{
		TenantId: srv.TenantID(), Name: "no-app-layer",
	}})
	require.NoError(t, err)
	d := testDeployment(fx)
	d.DeviceProfileId = bare.GetId()
	id := createDeployment(t, ctx, c, d)

	_, err = c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, _ := srv.Deployment(id)
		return len(st.Jobs) == 1 && st.Jobs[0].GetCompletedAt() != nil
	}, waitTimeout, pollInterval)
	time.Sleep(5 * testStep)
	st, _ := srv.Deployment(id)
	assert.True(t, st.CompletedAt.IsZero(), "ChirpStack's deployment stalls")
	assert.Equal(t, "Error: Device-profile does not support TS005", st.Jobs[0].GetErrorMsg())
	assert.EqualValues(t, 1, st.Jobs[0].GetAttemptCount())
}

func TestFUOTAAddDevicesRules(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	member := createDevice(t, ctx, c, fx.appID, fx.profileID)
	otherProfile := createDevice(t, ctx, c, fx.appID, createProfile(t, ctx, c, srv.TenantID(), "class-b"))
	other := newFixture(t, ctx, c, srv.TenantID())
	otherApp := createDevice(t, ctx, c, other.appID, fx.profileID)
	id := createDeployment(t, ctx, c, testDeployment(fx), member)

	tests := []struct {
		name string
		id   string
		euis []string
		want codes.Code
	}{
		{name: "device with another profile", id: id, euis: []string{otherProfile}, want: codes.InvalidArgument},
		{name: "device of another application", id: id, euis: []string{otherApp}, want: codes.InvalidArgument},
		{name: "unknown device", id: id, euis: []string{randomEUI(t)}, want: codes.InvalidArgument},
		{name: "malformed dev_eui", id: id, euis: []string{"xyz"}, want: codes.InvalidArgument},
		{name: "device already added", id: id, euis: []string{member}, want: codes.AlreadyExists},
		{name: "unknown deployment", id: "11111111-2222-4333-8444-555555555555", euis: []string{member}, want: codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.fuota.AddDevices(ctx, &api.AddDevicesToFuotaDeploymentRequest{FuotaDeploymentId: tt.id, DevEuis: tt.euis})
			requireCode(t, tt.want, err)
		})
	}

	// A rejected batch adds nothing.
	_, err := c.fuota.AddDevices(ctx, &api.AddDevicesToFuotaDeploymentRequest{FuotaDeploymentId: id, DevEuis: []string{otherProfile, member}})
	requireCode(t, codes.InvalidArgument, err)
	list, err := c.fuota.ListDevices(ctx, &api.ListFuotaDeploymentDevicesRequest{FuotaDeploymentId: id, Limit: 10})
	require.NoError(t, err)
	assert.EqualValues(t, 1, list.GetTotalCount())

	_, err = c.fuota.RemoveDevices(ctx, &api.RemoveDevicesFromFuotaDeploymentRequest{FuotaDeploymentId: id, DevEuis: []string{member}})
	require.NoError(t, err)
	list, err = c.fuota.ListDevices(ctx, &api.ListFuotaDeploymentDevicesRequest{FuotaDeploymentId: id, Limit: 10})
	require.NoError(t, err)
	assert.Zero(t, list.GetTotalCount())

	// Deleting a device drops it from deployments.
	_, err = c.fuota.AddDevices(ctx, &api.AddDevicesToFuotaDeploymentRequest{FuotaDeploymentId: id, DevEuis: []string{member}})
	require.NoError(t, err)
	_, err = c.device.Delete(ctx, &api.DeleteDeviceRequest{DevEui: member})
	require.NoError(t, err)
	st, _ := srv.Deployment(id)
	assert.Empty(t, st.Devices)
}

func TestFUOTACreateValidation(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	otherTenant, err := srv.AddTenant(&api.Tenant{Name: "other"})
	require.NoError(t, err)
	foreignProfile := createProfile(t, ctx, c, otherTenant, "foreign")
	missingID := "11111111-2222-4333-8444-555555555555"

	tests := []struct {
		name   string
		mutate func(*api.FuotaDeployment)
		want   codes.Code
	}{
		{name: "valid", mutate: func(*api.FuotaDeployment) {}, want: codes.OK},
		{name: "empty payload", mutate: func(d *api.FuotaDeployment) { d.Payload = nil }, want: codes.InvalidArgument},
		{name: "malformed application id", mutate: func(d *api.FuotaDeployment) { d.ApplicationId = "x" }, want: codes.InvalidArgument},
		{name: "unknown application", mutate: func(d *api.FuotaDeployment) { d.ApplicationId = missingID }, want: codes.NotFound},
		{name: "unknown device profile", mutate: func(d *api.FuotaDeployment) { d.DeviceProfileId = missingID }, want: codes.NotFound},
		{name: "profile of another tenant", mutate: func(d *api.FuotaDeployment) { d.DeviceProfileId = foreignProfile }, want: codes.InvalidArgument},
		{name: "zero fragment size", mutate: func(d *api.FuotaDeployment) { d.FragmentationFragmentSize = 0 }, want: codes.InvalidArgument},
		{name: "multicast timeout too large", mutate: func(d *api.FuotaDeployment) { d.MulticastTimeout = 16 }, want: codes.InvalidArgument},
		{name: "no multicast frequency", mutate: func(d *api.FuotaDeployment) { d.MulticastFrequency = 0 }, want: codes.InvalidArgument},
		{name: "multicast dr too large", mutate: func(d *api.FuotaDeployment) { d.MulticastDr = 16 }, want: codes.InvalidArgument},
		{name: "class-B ping slot periodicity too large", mutate: func(d *api.FuotaDeployment) {
			d.MulticastGroupType = api.MulticastGroupType_CLASS_B
			d.MulticastClassBPingSlotPeriodicity = 8
		}, want: codes.InvalidArgument},
		{name: "descriptor of wrong length", mutate: func(d *api.FuotaDeployment) { d.FragmentationDescriptor = []byte{1} }, want: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDeployment(fx)
			tt.mutate(d)
			_, err := c.fuota.CreateDeployment(ctx, &api.CreateFuotaDeploymentRequest{Deployment: d})
			if tt.want == codes.OK {
				require.NoError(t, err)
				return
			}
			requireCode(t, tt.want, err)
		})
	}
	_, err = c.fuota.CreateDeployment(ctx, &api.CreateFuotaDeploymentRequest{})
	requireCode(t, codes.InvalidArgument, err)
}

func TestFUOTACalculatedParameters(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())

	d := testDeployment(fx)
	d.Payload = make([]byte, 1000)
	d.MulticastDr = 3
	d.FragmentationFragmentSize = 0
	d.CalculateFragmentationFragmentSize = true
	d.MulticastTimeout = 0
	d.CalculateMulticastTimeout = true
	id := createDeployment(t, ctx, c, d)

	got, err := c.fuota.GetDeployment(ctx, &api.GetFuotaDeploymentRequest{Id: id})
	require.NoError(t, err)
	// EU868 DR3 carries 115 bytes; ChirpStack keeps 3 for the fragment header.
	assert.EqualValues(t, 112, got.GetDeployment().GetFragmentationFragmentSize())
	// 9 fragments + 1 redundant, 5s apart plus one margin: 55s → 2^6.
	assert.EqualValues(t, 6, got.GetDeployment().GetMulticastTimeout())
}

func TestFUOTADeploymentsAndGateways(t *testing.T) {
	srv := startServer(t, Options{})
	c := dial(t, srv, testToken)
	ctx := testContext(t)
	fx := newFixture(t, ctx, c, srv.TenantID())
	first := createDeployment(t, ctx, c, testDeployment(fx))
	d := testDeployment(fx)
	d.Name = "fw-3.0.0"
	second := createDeployment(t, ctx, c, d)

	list, err := c.fuota.ListDeployments(ctx, &api.ListFuotaDeploymentsRequest{ApplicationId: fx.appID, Limit: 10})
	require.NoError(t, err)
	require.EqualValues(t, 2, list.GetTotalCount())
	assert.Equal(t, first, list.GetResult()[0].GetId())
	assert.Nil(t, list.GetResult()[0].GetStartedAt())

	d.Id = second
	d.Name = "fw-3.0.1"
	_, err = c.fuota.UpdateDeployment(ctx, &api.UpdateFuotaDeploymentRequest{Deployment: d})
	require.NoError(t, err)
	st, ok := srv.Deployment(second)
	require.True(t, ok)
	assert.Equal(t, "fw-3.0.1", st.Deployment.GetName())

	_, err = c.fuota.AddGateways(ctx, &api.AddGatewaysToFuotaDeploymentRequest{FuotaDeploymentId: first, GatewayIds: []string{"0016C001F1500001", "0016c001f1500002"}})
	require.NoError(t, err)
	gws, err := c.fuota.ListGateways(ctx, &api.ListFuotaDeploymentGatewaysRequest{FuotaDeploymentId: first, Limit: 10})
	require.NoError(t, err)
	require.EqualValues(t, 2, gws.GetTotalCount())
	assert.Equal(t, "0016c001f1500001", gws.GetResult()[0].GetGatewayId())
	_, err = c.fuota.RemoveGateways(ctx, &api.RemoveGatewaysFromFuotaDeploymentRequest{FuotaDeploymentId: first, GatewayIds: []string{"0016c001f1500001"}})
	require.NoError(t, err)
	st, _ = srv.Deployment(first)
	assert.Equal(t, []string{"0016c001f1500002"}, st.Gateways)

	_, err = c.fuota.DeleteDeployment(ctx, &api.DeleteFuotaDeploymentRequest{Id: first})
	require.NoError(t, err)
	_, err = c.fuota.GetDeployment(ctx, &api.GetFuotaDeploymentRequest{Id: first})
	requireCode(t, codes.NotFound, err)
	_, err = c.fuota.DeleteDeployment(ctx, &api.DeleteFuotaDeploymentRequest{Id: first})
	requireCode(t, codes.NotFound, err)
	assert.Len(t, srv.Deployments(), 1)
}
