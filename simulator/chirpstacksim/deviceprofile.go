package chirpstacksim

import (
	"context"
	"sort"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

type deviceProfileService struct {
	api.UnimplementedDeviceProfileServiceServer
	s *Server
}

var _ api.DeviceProfileServiceServer = (*deviceProfileService)(nil)

// AddDeviceProfile stores a device profile as Create does, but keeps p.Id when set
// so fixtures can use known IDs. It returns the ID.
func (s *Server) AddDeviceProfile(p *api.DeviceProfile) (string, error) {
	if p == nil {
		return "", status.Error(codes.InvalidArgument, "device_profile is missing")
	}
	p = clone(p)
	return addTenantOwned(s, s.profiles, &p.Id, &p.TenantId, func(now time.Time) *profileRec {
		return &profileRec{p: p, createdAt: now, updatedAt: now}
	})
}

func (svc *deviceProfileService) Create(_ context.Context, req *api.CreateDeviceProfileRequest) (*api.CreateDeviceProfileResponse, error) {
	p := clone(req.GetDeviceProfile())
	if p == nil {
		return nil, status.Error(codes.InvalidArgument, "device_profile is missing")
	}
	p.Id = ""
	id, err := svc.s.AddDeviceProfile(p)
	if err != nil {
		return nil, err
	}
	return &api.CreateDeviceProfileResponse{Id: id}, nil
}

func (svc *deviceProfileService) Get(_ context.Context, req *api.GetDeviceProfileRequest) (*api.GetDeviceProfileResponse, error) {
	s := svc.s
	_, rec, err := lookupLocked(s, s.profiles, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return &api.GetDeviceProfileResponse{
		DeviceProfile: clone(rec.p),
		CreatedAt:     pbTime(rec.createdAt),
		UpdatedAt:     pbTime(rec.updatedAt),
	}, nil
}

// Update replaces every field as given except the ID and tenant.
func (svc *deviceProfileService) Update(_ context.Context, req *api.UpdateDeviceProfileRequest) (*emptypb.Empty, error) {
	in := req.GetDeviceProfile()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "device_profile is missing")
	}
	s := svc.s
	id, rec, err := lookupLocked(s, s.profiles, parseUUID, "id", in.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	p := clone(in)
	p.Id = id
	p.TenantId = rec.p.GetTenantId()
	rec.p = p
	rec.updatedAt = time.Now()
	return &emptypb.Empty{}, nil
}

// Delete refuses while devices or deployments still use the profile: ChirpStack's
// schema has no cascade there, so the delete fails on the foreign key.
func (svc *deviceProfileService) Delete(_ context.Context, req *api.DeleteDeviceProfileRequest) (*emptypb.Empty, error) {
	s := svc.s
	id, _, err := lookupLocked(s, s.profiles, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	for eui, d := range s.devices {
		if d.d.GetDeviceProfileId() == id {
			return nil, status.Errorf(codes.FailedPrecondition, "device profile %s is used by device %s", id, eui)
		}
	}
	for depID, dep := range s.deployments {
		if dep.d.GetDeviceProfileId() == id {
			return nil, status.Errorf(codes.FailedPrecondition, "device profile %s is used by FUOTA deployment %s", id, depID)
		}
	}
	delete(s.profiles, id)
	return &emptypb.Empty{}, nil
}

func (svc *deviceProfileService) List(_ context.Context, req *api.ListDeviceProfilesRequest) (*api.ListDeviceProfilesResponse, error) {
	tenantID, err := parseUUID("tenant_id", req.GetTenantId())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*api.DeviceProfileListItem
	for _, rec := range s.profiles {
		p := rec.p
		if p.GetTenantId() != tenantID {
			continue
		}
		if req.GetSearch() != "" && !containsFold(p.GetName(), req.GetSearch()) {
			continue
		}
		items = append(items, &api.DeviceProfileListItem{
			Id:                p.GetId(),
			CreatedAt:         pbTime(rec.createdAt),
			UpdatedAt:         pbTime(rec.updatedAt),
			Name:              p.GetName(),
			Region:            p.GetRegion(),
			MacVersion:        p.GetMacVersion(),
			RegParamsRevision: p.GetRegParamsRevision(),
			SupportsOtaa:      p.GetSupportsOtaa(),
			SupportsClassB:    p.GetSupportsClassB(),
			SupportsClassC:    p.GetSupportsClassC(),
		})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return &api.ListDeviceProfilesResponse{
		TotalCount: uint32(len(items)),
		Result:     page(items, req.GetLimit(), req.GetOffset()),
	}, nil
}
