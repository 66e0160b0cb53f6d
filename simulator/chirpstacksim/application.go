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

type applicationService struct {
	api.UnimplementedApplicationServiceServer
	s *Server
}

var _ api.ApplicationServiceServer = (*applicationService)(nil)

// AddApplication stores an application as Create does, but keeps a.Id when set so
// fixtures can use known IDs. It returns the ID.
func (s *Server) AddApplication(a *api.Application) (string, error) {
	if a == nil {
		return "", status.Error(codes.InvalidArgument, "application is missing")
	}
	a = clone(a)
	return addTenantOwned(s, s.apps, &a.Id, &a.TenantId, func(now time.Time) *applicationRec {
		return &applicationRec{a: a, createdAt: now, updatedAt: now}
	})
}

func (svc *applicationService) Create(_ context.Context, req *api.CreateApplicationRequest) (*api.CreateApplicationResponse, error) {
	a := clone(req.GetApplication())
	if a == nil {
		return nil, status.Error(codes.InvalidArgument, "application is missing")
	}
	a.Id = "" // ChirpStack always generates the ID
	id, err := svc.s.AddApplication(a)
	if err != nil {
		return nil, err
	}
	return &api.CreateApplicationResponse{Id: id}, nil
}

func (svc *applicationService) Get(_ context.Context, req *api.GetApplicationRequest) (*api.GetApplicationResponse, error) {
	s := svc.s
	_, rec, err := lookupLocked(s, s.apps, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return &api.GetApplicationResponse{
		Application:     clone(rec.a),
		CreatedAt:       pbTime(rec.createdAt),
		UpdatedAt:       pbTime(rec.updatedAt),
		MeasurementKeys: []string{},
	}, nil
}

func (svc *applicationService) Update(_ context.Context, req *api.UpdateApplicationRequest) (*emptypb.Empty, error) {
	in := req.GetApplication()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "application is missing")
	}
	s := svc.s
	_, rec, err := lookupLocked(s, s.apps, parseUUID, "id", in.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	// Like ChirpStack, only the descriptive fields change; the tenant is fixed.
	rec.a.Name = in.GetName()
	rec.a.Description = in.GetDescription()
	rec.a.Tags = maps.Clone(in.GetTags())
	rec.updatedAt = time.Now()
	return &emptypb.Empty{}, nil
}

// Delete cascades to the application's devices and FUOTA deployments, as the
// foreign keys in ChirpStack's schema do.
func (svc *applicationService) Delete(_ context.Context, req *api.DeleteApplicationRequest) (*emptypb.Empty, error) {
	s := svc.s
	id, _, err := lookupLocked(s, s.apps, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	for eui, d := range s.devices {
		if d.d.GetApplicationId() == id {
			s.deleteDeviceLocked(eui)
		}
	}
	for depID, dep := range s.deployments {
		if dep.d.GetApplicationId() == id {
			delete(s.deployments, depID)
		}
	}
	delete(s.apps, id)
	return &emptypb.Empty{}, nil
}

func (svc *applicationService) List(_ context.Context, req *api.ListApplicationsRequest) (*api.ListApplicationsResponse, error) {
	tenantID, err := parseUUID("tenant_id", req.GetTenantId())
	if err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*api.ApplicationListItem
	for _, rec := range s.apps {
		if rec.a.GetTenantId() != tenantID {
			continue
		}
		if req.GetSearch() != "" && !containsFold(rec.a.GetName(), req.GetSearch()) {
			continue
		}
		items = append(items, &api.ApplicationListItem{
			Id:          rec.a.GetId(),
			CreatedAt:   pbTime(rec.createdAt),
			UpdatedAt:   pbTime(rec.updatedAt),
			Name:        rec.a.GetName(),
			Description: rec.a.GetDescription(),
		})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return &api.ListApplicationsResponse{
		TotalCount: uint32(len(items)),
		Result:     page(items, req.GetLimit(), req.GetOffset()),
	}, nil
}
