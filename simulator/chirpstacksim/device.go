package chirpstacksim

import (
	"context"
	"maps"
	"sort"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

type deviceService struct {
	api.UnimplementedDeviceServiceServer
	s *Server
}

var _ api.DeviceServiceServer = (*deviceService)(nil)

const zeroEUI = "0000000000000000"

// zeroKey is what ChirpStack stores for a key sent as an empty string.
const zeroKey = "00000000000000000000000000000000"

func (svc *deviceService) Create(_ context.Context, req *api.CreateDeviceRequest) (*emptypb.Empty, error) {
	in := req.GetDevice()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "device is missing")
	}
	d := clone(in)
	var err error
	if d.DevEui, err = parseEUI64("dev_eui", in.GetDevEui()); err != nil {
		return nil, err
	}
	if d.ApplicationId, err = parseUUID("application_id", in.GetApplicationId()); err != nil {
		return nil, err
	}
	if d.DeviceProfileId, err = parseUUID("device_profile_id", in.GetDeviceProfileId()); err != nil {
		return nil, err
	}
	if d.JoinEui, err = parseOptionalEUI64("join_eui", in.GetJoinEui()); err != nil {
		return nil, err
	}

	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDeviceRefsLocked(d.GetApplicationId(), d.GetDeviceProfileId()); err != nil {
		return nil, err
	}
	if _, ok := s.devices[d.DevEui]; ok {
		return nil, errAlreadyExists(d.DevEui)
	}
	now := time.Now()
	s.devices[d.DevEui] = &deviceRec{d: d, createdAt: now, updatedAt: now}
	return &emptypb.Empty{}, nil
}

// checkDeviceRefsLocked: an unknown application is NotFound (ChirpStack looks up
// its tenant first); an unknown or foreign device profile is InvalidArgument, the
// request being inconsistent rather than its target missing.
func (s *Server) checkDeviceRefsLocked(appID, profileID string) error {
	app, ok := s.apps[appID]
	if !ok {
		return errNotFound(appID)
	}
	p, ok := s.profiles[profileID]
	if !ok {
		return status.Errorf(codes.InvalidArgument, "device profile %s does not exist", profileID)
	}
	if p.p.GetTenantId() != app.a.GetTenantId() {
		return status.Error(codes.InvalidArgument, "The application and device-profile must be under the same tenant")
	}
	return nil
}

func (svc *deviceService) Get(_ context.Context, req *api.GetDeviceRequest) (*api.GetDeviceResponse, error) {
	s := svc.s
	_, rec, err := lookupLocked(s, s.devices, parseEUI64, "dev_eui", req.GetDevEui())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	resp := &api.GetDeviceResponse{
		Device:       clone(rec.d),
		CreatedAt:    pbTime(rec.createdAt),
		UpdatedAt:    pbTime(rec.updatedAt),
		LastSeenAt:   pbTime(rec.lastSeenAt),
		ClassEnabled: rec.classEnabled,
	}
	if rec.status != nil {
		resp.DeviceStatus = clone(rec.status)
	}
	return resp, nil
}

// Update changes everything but the DevEUI and the application, which ChirpStack
// does not let a device leave.
func (svc *deviceService) Update(_ context.Context, req *api.UpdateDeviceRequest) (*emptypb.Empty, error) {
	in := req.GetDevice()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "device is missing")
	}
	eui, err := parseEUI64("dev_eui", in.GetDevEui())
	if err != nil {
		return nil, err
	}
	profileID, err := parseUUID("device_profile_id", in.GetDeviceProfileId())
	if err != nil {
		return nil, err
	}
	joinEUI, err := parseOptionalEUI64("join_eui", in.GetJoinEui())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[eui]
	if !ok {
		return nil, errNotFound(eui)
	}
	if err := s.checkDeviceRefsLocked(rec.d.GetApplicationId(), profileID); err != nil {
		return nil, err
	}
	d := clone(in)
	d.DevEui = eui
	d.ApplicationId = rec.d.GetApplicationId()
	d.DeviceProfileId = profileID
	d.JoinEui = joinEUI
	rec.d = d
	rec.updatedAt = time.Now()
	return &emptypb.Empty{}, nil
}

func (svc *deviceService) Delete(_ context.Context, req *api.DeleteDeviceRequest) (*emptypb.Empty, error) {
	s := svc.s
	eui, _, err := lookupLocked(s, s.devices, parseEUI64, "dev_eui", req.GetDevEui())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	s.deleteDeviceLocked(eui)
	return &emptypb.Empty{}, nil
}

// deleteDeviceLocked also drops the device from FUOTA deployments (ChirpStack
// cascades that foreign key).
func (s *Server) deleteDeviceLocked(eui string) {
	delete(s.devices, eui)
	for _, dep := range s.deployments {
		delete(dep.devices, eui)
	}
}

func (svc *deviceService) List(_ context.Context, req *api.ListDevicesRequest) (*api.ListDevicesResponse, error) {
	appID, err := parseUUID("application_id", req.GetApplicationId())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*api.DeviceListItem
	for _, rec := range s.devices {
		d := rec.d
		if d.GetApplicationId() != appID ||
			(req.GetDeviceProfileId() != "" && d.GetDeviceProfileId() != req.GetDeviceProfileId()) ||
			(req.GetSearch() != "" && !containsFold(d.GetName(), req.GetSearch()) && !containsFold(d.GetDevEui(), req.GetSearch())) ||
			!hasTags(d.GetTags(), req.GetTags()) {
			continue
		}
		item := &api.DeviceListItem{
			DevEui:          d.GetDevEui(),
			CreatedAt:       pbTime(rec.createdAt),
			UpdatedAt:       pbTime(rec.updatedAt),
			LastSeenAt:      pbTime(rec.lastSeenAt),
			Name:            d.GetName(),
			Description:     d.GetDescription(),
			DeviceProfileId: d.GetDeviceProfileId(),
			Tags:            maps.Clone(d.GetTags()),
		}
		if p, ok := s.profiles[d.GetDeviceProfileId()]; ok {
			item.DeviceProfileName = p.p.GetName()
		}
		if rec.status != nil {
			item.DeviceStatus = clone(rec.status)
		}
		items = append(items, item)
	}
	sortDevices(items, req.GetOrderBy(), req.GetOrderByDesc())
	return &api.ListDevicesResponse{
		TotalCount: uint32(len(items)),
		Result:     page(items, req.GetLimit(), req.GetOffset()),
	}, nil
}

func hasTags(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func sortDevices(items []*api.DeviceListItem, by api.ListDevicesRequest_OrderBy, desc bool) {
	key := func(d *api.DeviceListItem) string {
		switch by {
		case api.ListDevicesRequest_DEV_EUI:
			return d.GetDevEui()
		case api.ListDevicesRequest_LAST_SEEN_AT:
			return d.GetLastSeenAt().AsTime().Format(time.RFC3339Nano)
		case api.ListDevicesRequest_DEVICE_PROFILE_NAME:
			return d.GetDeviceProfileName()
		default:
			return d.GetName()
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := key(items[i]), key(items[j])
		if a == b {
			return items[i].GetDevEui() < items[j].GetDevEui()
		}
		if desc {
			return a > b
		}
		return a < b
	})
}

func (svc *deviceService) CreateKeys(_ context.Context, req *api.CreateDeviceKeysRequest) (*emptypb.Empty, error) {
	keys, err := parseDeviceKeys(req.GetDeviceKeys())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[keys.GetDevEui()]
	if !ok {
		return nil, errNotFound(keys.GetDevEui())
	}
	if rec.keys != nil {
		return nil, errAlreadyExists(keys.GetDevEui())
	}
	now := time.Now()
	rec.keys = &keysRec{k: keys, createdAt: now, updatedAt: now}
	return &emptypb.Empty{}, nil
}

func (svc *deviceService) GetKeys(_ context.Context, req *api.GetDeviceKeysRequest) (*api.GetDeviceKeysResponse, error) {
	eui, err := parseEUI64("dev_eui", req.GetDevEui())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[eui]
	if !ok || rec.keys == nil {
		return nil, errNotFound(eui)
	}
	return &api.GetDeviceKeysResponse{
		DeviceKeys: clone(rec.keys.k),
		CreatedAt:  pbTime(rec.keys.createdAt),
		UpdatedAt:  pbTime(rec.keys.updatedAt),
	}, nil
}

func (svc *deviceService) UpdateKeys(_ context.Context, req *api.UpdateDeviceKeysRequest) (*emptypb.Empty, error) {
	keys, err := parseDeviceKeys(req.GetDeviceKeys())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[keys.GetDevEui()]
	if !ok || rec.keys == nil {
		return nil, errNotFound(keys.GetDevEui())
	}
	rec.keys.k = keys
	rec.keys.updatedAt = time.Now()
	return &emptypb.Empty{}, nil
}

func (svc *deviceService) DeleteKeys(_ context.Context, req *api.DeleteDeviceKeysRequest) (*emptypb.Empty, error) {
	eui, err := parseEUI64("dev_eui", req.GetDevEui())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[eui]
	if !ok || rec.keys == nil {
		return nil, errNotFound(eui)
	}
	rec.keys = nil
	return &emptypb.Empty{}, nil
}

// parseDeviceKeys mirrors ChirpStack: every key is optional and an empty key is
// stored as all zeros, but a non-empty key must be 32 hex characters.
func parseDeviceKeys(in *api.DeviceKeys) (*api.DeviceKeys, error) {
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "device_keys is missing")
	}
	eui, err := parseEUI64("dev_eui", in.GetDevEui())
	if err != nil {
		return nil, err
	}
	out := &api.DeviceKeys{DevEui: eui}
	for _, f := range []struct {
		name string
		in   string
		out  *string
	}{
		{"nwk_key", in.GetNwkKey(), &out.NwkKey},
		{"app_key", in.GetAppKey(), &out.AppKey},
		{"gen_app_key", in.GetGenAppKey(), &out.GenAppKey},
	} {
		if f.in == "" {
			*f.out = zeroKey
			continue
		}
		if *f.out, err = parseKey(f.name, f.in); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetActivation returns the session created by the last PublishJoin; a device
// that never joined gets an empty response, as in ChirpStack.
func (svc *deviceService) GetActivation(_ context.Context, req *api.GetDeviceActivationRequest) (*api.GetDeviceActivationResponse, error) {
	s := svc.s
	_, rec, err := lookupLocked(s, s.devices, parseEUI64, "dev_eui", req.GetDevEui())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	resp := &api.GetDeviceActivationResponse{}
	if rec.activation != nil {
		resp.DeviceActivation = clone(rec.activation)
		resp.DeviceActivation.FCntUp = rec.fCntUp
		resp.DeviceActivation.AFCntDown = rec.fCntDown
	}
	return resp, nil
}

func (svc *deviceService) Enqueue(_ context.Context, req *api.EnqueueDeviceQueueItemRequest) (*api.EnqueueDeviceQueueItemResponse, error) {
	in := req.GetQueueItem()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "queue_item is missing")
	}
	eui, err := parseEUI64("dev_eui", in.GetDevEui())
	if err != nil {
		return nil, err
	}
	if in.GetFPort() == 0 || in.GetFPort() > 255 {
		return nil, status.Error(codes.InvalidArgument, "FPort must be between 1 - 255")
	}
	if in.GetIsEncrypted() && in.GetFCntDown() == 0 {
		return nil, status.Error(codes.InvalidArgument, "FCntDown must be set for encrypted queue-items")
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[eui]
	if !ok {
		return nil, errNotFound(eui)
	}
	if req.GetFlushQueue() {
		rec.queue = pendingOnly(rec.queue)
	}
	qi := clone(in)
	qi.Id = newUUID()
	qi.DevEui = eui
	qi.IsPending = false
	if !qi.GetIsEncrypted() {
		qi.FCntDown = 0 // assigned when the item is transmitted (PublishTxAck)
	}
	rec.queue = append(rec.queue, qi)
	return &api.EnqueueDeviceQueueItemResponse{Id: qi.GetId()}, nil
}

// pendingOnly keeps items already sent and awaiting an ack, which ChirpStack's
// flush leaves alone.
func pendingOnly(q []*api.DeviceQueueItem) []*api.DeviceQueueItem {
	var out []*api.DeviceQueueItem
	for _, qi := range q {
		if qi.GetIsPending() {
			out = append(out, qi)
		}
	}
	return out
}

func (svc *deviceService) FlushQueue(_ context.Context, req *api.FlushDeviceQueueRequest) (*emptypb.Empty, error) {
	s := svc.s
	_, rec, err := lookupLocked(s, s.devices, parseEUI64, "dev_eui", req.GetDevEui())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	rec.queue = nil
	return &emptypb.Empty{}, nil
}

func (svc *deviceService) GetQueue(_ context.Context, req *api.GetDeviceQueueItemsRequest) (*api.GetDeviceQueueItemsResponse, error) {
	s := svc.s
	_, rec, err := lookupLocked(s, s.devices, parseEUI64, "dev_eui", req.GetDevEui())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	resp := &api.GetDeviceQueueItemsResponse{TotalCount: uint32(len(rec.queue))}
	if !req.GetCountOnly() {
		for _, qi := range rec.queue {
			resp.Result = append(resp.Result, clone(qi))
		}
	}
	return resp, nil
}

func parseOptionalEUI64(field, s string) (string, error) {
	if s == "" {
		return zeroEUI, nil
	}
	return parseEUI64(field, s)
}
