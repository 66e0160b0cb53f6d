package chirpstacksim

import (
	"context"
	"maps"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

type fuotaService struct {
	api.UnimplementedFuotaServiceServer
	s *Server
}

var _ api.FuotaServiceServer = (*fuotaService)(nil)

const errAlreadyStarted = "FUOTA deployment has already started"

func (svc *fuotaService) CreateDeployment(_ context.Context, req *api.CreateFuotaDeploymentRequest) (*api.CreateFuotaDeploymentResponse, error) {
	d, err := parseDeployment(req.GetDeployment())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDeploymentRefsLocked(d); err != nil {
		return nil, err
	}
	s.calculateLocked(d)
	d.Id = newUUID()
	now := time.Now()
	s.deployments[d.Id] = &deploymentRec{
		d:         d,
		createdAt: now,
		updatedAt: now,
		devices:   make(map[string]*fuotaDeviceRec),
		gateways:  make(map[string]time.Time),
	}
	return &api.CreateFuotaDeploymentResponse{Id: d.Id}, nil
}

// parseDeployment validates a deployment. Besides ChirpStack's own checks it
// rejects values that ChirpStack accepts but that make its job flow fail later
// (empty payload, zero fragment size, out-of-range multicast parameters).
func parseDeployment(in *api.FuotaDeployment) (*api.FuotaDeployment, error) {
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "deployment is missing")
	}
	d := clone(in)
	var err error
	if d.ApplicationId, err = parseUUID("application_id", in.GetApplicationId()); err != nil {
		return nil, err
	}
	if d.DeviceProfileId, err = parseUUID("device_profile_id", in.GetDeviceProfileId()); err != nil {
		return nil, err
	}
	invalid := func(format string, args ...any) error {
		return status.Errorf(codes.InvalidArgument, format, args...)
	}
	switch {
	case len(d.GetPayload()) == 0:
		return nil, invalid("payload must not be empty")
	case api.MulticastGroupType_name[int32(d.GetMulticastGroupType())] == "":
		return nil, invalid("invalid multicast_group_type %d", d.GetMulticastGroupType())
	case api.MulticastGroupSchedulingType_name[int32(d.GetMulticastClassCSchedulingType())] == "":
		return nil, invalid("invalid multicast_class_c_scheduling_type %d", d.GetMulticastClassCSchedulingType())
	case api.RequestFragmentationSessionStatus_name[int32(d.GetRequestFragmentationSessionStatus())] == "":
		return nil, invalid("invalid request_fragmentation_session_status %d", d.GetRequestFragmentationSessionStatus())
	case d.GetMulticastDr() > 15:
		return nil, invalid("multicast_dr must be 0 - 15")
	case d.GetMulticastFrequency() == 0:
		return nil, invalid("multicast_frequency must be set")
	case d.GetMulticastGroupType() == api.MulticastGroupType_CLASS_B && d.GetMulticastClassBPingSlotPeriodicity() > 7:
		return nil, invalid("multicast_class_b_ping_slot_periodicity must be 0 - 7")
	case !d.GetCalculateMulticastTimeout() && d.GetMulticastTimeout() > 15:
		return nil, invalid("multicast_timeout must be 0 - 15")
	case !d.GetCalculateFragmentationFragmentSize() && (d.GetFragmentationFragmentSize() == 0 || d.GetFragmentationFragmentSize() > 255):
		return nil, invalid("fragmentation_fragment_size must be 1 - 255")
	case d.GetFragmentationRedundancyPercentage() > 100:
		return nil, invalid("fragmentation_redundancy_percentage must be 0 - 100")
	case len(d.GetFragmentationDescriptor()) != 0 && len(d.GetFragmentationDescriptor()) != 4:
		return nil, invalid("fragmentation_descriptor must be 4 bytes")
	}
	return d, nil
}

func (s *Server) checkDeploymentRefsLocked(d *api.FuotaDeployment) error {
	app, ok := s.apps[d.GetApplicationId()]
	if !ok {
		return errNotFound(d.GetApplicationId())
	}
	p, ok := s.profiles[d.GetDeviceProfileId()]
	if !ok {
		return errNotFound(d.GetDeviceProfileId())
	}
	if p.p.GetTenantId() != app.a.GetTenantId() {
		return status.Error(codes.InvalidArgument, "The application and device-profile must be under the same tenant")
	}
	return nil
}

// maxAppPayload is LoRaWAN's maximum application payload N per data rate for
// EU868 (RP002); the simulator uses it for every region.
var maxAppPayload = [...]uint32{51, 51, 51, 115, 242, 242, 242, 242}

// multicastClassCMargin is ChirpStack's default gap between Class-C multicast
// downlinks, used when it calculates the multicast timeout.
const multicastClassCMargin = 5

// calculateLocked fills the fields ChirpStack computes when asked to, with the
// same formulas (fragment size = N - 3 capped at the payload size).
func (s *Server) calculateLocked(d *api.FuotaDeployment) {
	if d.GetCalculateFragmentationFragmentSize() {
		n := maxAppPayload[len(maxAppPayload)-1]
		if int(d.GetMulticastDr()) < len(maxAppPayload) {
			n = maxAppPayload[d.GetMulticastDr()]
		}
		d.FragmentationFragmentSize = min(n-3, uint32(len(d.GetPayload())))
	}
	if d.GetCalculateMulticastTimeout() {
		fragments := math.Ceil(float64(len(d.GetPayload())) / float64(d.GetFragmentationFragmentSize()))
		total := fragments + math.Ceil(fragments*float64(d.GetFragmentationRedundancyPercentage())/100)
		var need float64
		if d.GetMulticastGroupType() == api.MulticastGroupType_CLASS_B {
			pingSlots := float64(uint(1) << (7 - d.GetMulticastClassBPingSlotPeriodicity()))
			need = math.Ceil(total/pingSlots) + 1 // beacon periods
		} else {
			need = multicastClassCMargin * (total + 1) // seconds
		}
		d.MulticastTimeout = 15
		for i := range uint32(16) {
			if float64(uint(1)<<i) >= need {
				d.MulticastTimeout = i
				break
			}
		}
	}
}

func (svc *fuotaService) GetDeployment(_ context.Context, req *api.GetFuotaDeploymentRequest) (*api.GetFuotaDeploymentResponse, error) {
	s := svc.s
	_, dep, err := lookupLocked(s, s.deployments, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return &api.GetFuotaDeploymentResponse{
		Deployment:  clone(dep.d),
		CreatedAt:   pbTime(dep.createdAt),
		UpdatedAt:   pbTime(dep.updatedAt),
		StartedAt:   pbTime(dep.startedAt),
		CompletedAt: pbTime(dep.completedAt),
	}, nil
}

func (svc *fuotaService) UpdateDeployment(_ context.Context, req *api.UpdateFuotaDeploymentRequest) (*emptypb.Empty, error) {
	id, err := parseUUID("id", req.GetDeployment().GetId())
	if err != nil {
		return nil, err
	}
	d, err := parseDeployment(req.GetDeployment())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	dep, ok := s.deployments[id]
	if !ok {
		return nil, errNotFound(id)
	}
	if !dep.startedAt.IsZero() {
		return nil, status.Error(codes.FailedPrecondition, errAlreadyStarted)
	}
	if err := s.checkDeploymentRefsLocked(d); err != nil {
		return nil, err
	}
	s.calculateLocked(d)
	d.Id = id
	dep.d = d
	dep.updatedAt = time.Now()
	return &emptypb.Empty{}, nil
}

func (svc *fuotaService) DeleteDeployment(_ context.Context, req *api.DeleteFuotaDeploymentRequest) (*emptypb.Empty, error) {
	s := svc.s
	id, _, err := lookupLocked(s, s.deployments, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	delete(s.deployments, id)
	return &emptypb.Empty{}, nil
}

// StartDeployment queues the first job; the scheduler takes it from there.
func (svc *fuotaService) StartDeployment(_ context.Context, req *api.StartFuotaDeploymentRequest) (*emptypb.Empty, error) {
	s := svc.s
	_, dep, err := lookupLocked(s, s.deployments, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if !dep.startedAt.IsZero() {
		return nil, status.Error(codes.FailedPrecondition, errAlreadyStarted)
	}
	now := time.Now()
	dep.startedAt = now
	dep.updatedAt = now
	dep.jobs = []*fuotaJobRec{{job: jobCreateMcGroup, createdAt: now, schedulerRunAfter: now}}
	return &emptypb.Empty{}, nil
}

func (svc *fuotaService) ListDeployments(_ context.Context, req *api.ListFuotaDeploymentsRequest) (*api.ListFuotaDeploymentsResponse, error) {
	appID, err := parseUUID("application_id", req.GetApplicationId())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*api.FuotaDeploymentListItem
	for _, dep := range s.deployments {
		if dep.d.GetApplicationId() != appID {
			continue
		}
		items = append(items, &api.FuotaDeploymentListItem{
			Id:          dep.d.GetId(),
			CreatedAt:   pbTime(dep.createdAt),
			UpdatedAt:   pbTime(dep.updatedAt),
			StartedAt:   pbTime(dep.startedAt),
			CompletedAt: pbTime(dep.completedAt),
			Name:        dep.d.GetName(),
		})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Name == items[j].Name {
			return items[i].Id < items[j].Id
		}
		return items[i].Name < items[j].Name
	})
	return &api.ListFuotaDeploymentsResponse{
		TotalCount: uint32(len(items)),
		Result:     page(items, req.GetLimit(), req.GetOffset()),
	}, nil
}

// AddDevices enforces ChirpStack's rule that every device exists, belongs to the
// deployment's application and uses its device profile; otherwise nothing is
// added. Devices already in the deployment are reported as AlreadyExists after
// the new ones are added, as ChirpStack inserts row by row.
func (svc *fuotaService) AddDevices(_ context.Context, req *api.AddDevicesToFuotaDeploymentRequest) (*emptypb.Empty, error) {
	id, err := parseUUID("fuota_deployment_id", req.GetFuotaDeploymentId())
	if err != nil {
		return nil, err
	}
	euis := make([]string, 0, len(req.GetDevEuis()))
	for _, raw := range req.GetDevEuis() {
		eui, err := parseEUI64("dev_eui", raw)
		if err != nil {
			return nil, err
		}
		euis = append(euis, eui)
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	dep, ok := s.deployments[id]
	if !ok {
		return nil, errNotFound(id)
	}
	if !dep.startedAt.IsZero() {
		return nil, status.Error(codes.FailedPrecondition, errAlreadyStarted)
	}
	for _, eui := range euis {
		d, ok := s.devices[eui]
		if !ok || d.d.GetDeviceProfileId() != dep.d.GetDeviceProfileId() || d.d.GetApplicationId() != dep.d.GetApplicationId() {
			return nil, status.Error(codes.InvalidArgument, "All devices must have the same device-profile as the FUOTA deployment")
		}
	}
	now := time.Now()
	var dups []string
	for _, eui := range euis {
		if _, ok := dep.devices[eui]; ok {
			dups = append(dups, eui)
			continue
		}
		dep.devices[eui] = &fuotaDeviceRec{devEUI: eui, createdAt: now}
	}
	if len(dups) > 0 {
		return nil, status.Errorf(codes.AlreadyExists, "Object already exists (id: %s)", strings.Join(dups, ", "))
	}
	return &emptypb.Empty{}, nil
}

func (svc *fuotaService) RemoveDevices(_ context.Context, req *api.RemoveDevicesFromFuotaDeploymentRequest) (*emptypb.Empty, error) {
	s := svc.s
	_, dep, err := lookupLocked(s, s.deployments, parseUUID, "fuota_deployment_id", req.GetFuotaDeploymentId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	for _, raw := range req.GetDevEuis() {
		eui, err := parseEUI64("dev_eui", raw)
		if err != nil {
			return nil, err
		}
		delete(dep.devices, eui)
	}
	return &emptypb.Empty{}, nil
}

func (svc *fuotaService) ListDevices(_ context.Context, req *api.ListFuotaDeploymentDevicesRequest) (*api.ListFuotaDeploymentDevicesResponse, error) {
	s := svc.s
	_, dep, err := lookupLocked(s, s.deployments, parseUUID, "fuota_deployment_id", req.GetFuotaDeploymentId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	items := dep.deviceItems()
	return &api.ListFuotaDeploymentDevicesResponse{
		TotalCount: uint32(len(items)),
		Result:     page(items, req.GetLimit(), req.GetOffset()),
	}, nil
}

func (dep *deploymentRec) deviceItems() []*api.FuotaDeploymentDeviceListItem {
	items := make([]*api.FuotaDeploymentDeviceListItem, 0, len(dep.devices))
	for _, eui := range sortedKeys(dep.devices) {
		fd := dep.devices[eui]
		items = append(items, &api.FuotaDeploymentDeviceListItem{
			FuotaDeploymentId:           dep.d.GetId(),
			DevEui:                      fd.devEUI,
			CreatedAt:                   pbTime(fd.createdAt),
			CompletedAt:                 pbTime(fd.completedAt),
			McGroupSetupCompletedAt:     pbTime(fd.mcGroupSetupAt),
			McSessionCompletedAt:        pbTime(fd.mcSessionAt),
			FragSessionSetupCompletedAt: pbTime(fd.fragSessionAt),
			FragStatusCompletedAt:       pbTime(fd.fragStatusAt),
			ErrorMsg:                    fd.errorMsg,
		})
	}
	return items
}

// AddGateways accepts any well-formed gateway ID: the simulator keeps no gateway
// registry.
func (svc *fuotaService) AddGateways(_ context.Context, req *api.AddGatewaysToFuotaDeploymentRequest) (*emptypb.Empty, error) {
	id, err := parseUUID("fuota_deployment_id", req.GetFuotaDeploymentId())
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(req.GetGatewayIds()))
	for _, raw := range req.GetGatewayIds() {
		gwID, err := parseEUI64("gateway_id", raw)
		if err != nil {
			return nil, err
		}
		ids = append(ids, gwID)
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	dep, ok := s.deployments[id]
	if !ok {
		return nil, errNotFound(id)
	}
	if !dep.startedAt.IsZero() {
		return nil, status.Error(codes.FailedPrecondition, errAlreadyStarted)
	}
	now := time.Now()
	for _, gwID := range ids {
		if _, ok := dep.gateways[gwID]; !ok {
			dep.gateways[gwID] = now
		}
	}
	return &emptypb.Empty{}, nil
}

func (svc *fuotaService) RemoveGateways(_ context.Context, req *api.RemoveGatewaysFromFuotaDeploymentRequest) (*emptypb.Empty, error) {
	s := svc.s
	_, dep, err := lookupLocked(s, s.deployments, parseUUID, "fuota_deployment_id", req.GetFuotaDeploymentId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	for _, raw := range req.GetGatewayIds() {
		gwID, err := parseEUI64("gateway_id", raw)
		if err != nil {
			return nil, err
		}
		delete(dep.gateways, gwID)
	}
	return &emptypb.Empty{}, nil
}

func (svc *fuotaService) ListGateways(_ context.Context, req *api.ListFuotaDeploymentGatewaysRequest) (*api.ListFuotaDeploymentGatewaysResponse, error) {
	s := svc.s
	id, dep, err := lookupLocked(s, s.deployments, parseUUID, "fuota_deployment_id", req.GetFuotaDeploymentId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	items := make([]*api.FuotaDeploymentGatewayListItem, 0, len(dep.gateways))
	for _, gwID := range sortedKeys(dep.gateways) {
		items = append(items, &api.FuotaDeploymentGatewayListItem{
			FuotaDeploymentId: id,
			GatewayId:         gwID,
			CreatedAt:         pbTime(dep.gateways[gwID]),
		})
	}
	return &api.ListFuotaDeploymentGatewaysResponse{
		TotalCount: uint32(len(items)),
		Result:     page(items, req.GetLimit(), req.GetOffset()),
	}, nil
}

func (svc *fuotaService) ListJobs(_ context.Context, req *api.ListFuotaDeploymentJobsRequest) (*api.ListFuotaDeploymentJobsResponse, error) {
	s := svc.s
	_, dep, err := lookupLocked(s, s.deployments, parseUUID, "fuota_deployment_id", req.GetFuotaDeploymentId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return &api.ListFuotaDeploymentJobsResponse{Jobs: dep.jobItems()}, nil
}

func (dep *deploymentRec) jobItems() []*api.FuotaDeploymentJob {
	jobs := make([]*api.FuotaDeploymentJob, 0, len(dep.jobs))
	for _, j := range dep.jobs {
		jobs = append(jobs, &api.FuotaDeploymentJob{
			Job:               j.job.String(),
			CreatedAt:         pbTime(j.createdAt),
			CompletedAt:       pbTime(j.completedAt),
			MaxRetryCount:     j.maxRetryCount,
			AttemptCount:      j.attemptCount,
			SchedulerRunAfter: pbTime(j.schedulerRunAfter),
			WarningMsg:        j.warningMsg,
			ErrorMsg:          j.errorMsg,
		})
	}
	return jobs
}

// applyCompletionTagsLocked sets the deployment's on_complete_set_device_tags on a
// device, as ChirpStack does for every device that completed without error.
func (s *Server) applyCompletionTagsLocked(dep *deploymentRec, eui string) {
	rec, ok := s.devices[eui]
	if !ok || len(dep.d.GetOnCompleteSetDeviceTags()) == 0 {
		return
	}
	if rec.d.Tags == nil {
		rec.d.Tags = make(map[string]string)
	}
	maps.Copy(rec.d.Tags, dep.d.GetOnCompleteSetDeviceTags())
	rec.updatedAt = time.Now()
}
