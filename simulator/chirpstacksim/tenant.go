package chirpstacksim

import (
	"context"
	"sort"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tenantService serves reads only: tenants are fixtures, added with AddTenant.
type tenantService struct {
	api.UnimplementedTenantServiceServer
	s *Server
}

var _ api.TenantServiceServer = (*tenantService)(nil)

// AddTenant adds a tenant and returns its ID; an empty t.Id gets a new UUID.
func (s *Server) AddTenant(t *api.Tenant) (string, error) {
	if t == nil {
		return "", status.Error(codes.InvalidArgument, "tenant is missing")
	}
	t = clone(t)
	if t.Id == "" {
		t.Id = newUUID()
	}
	id, err := parseUUID("tenant id", t.Id)
	if err != nil {
		return "", err
	}
	t.Id = id
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tenants[id]; ok {
		return "", errAlreadyExists(id)
	}
	now := time.Now()
	s.tenants[id] = &tenantRec{t: t, createdAt: now, updatedAt: now}
	return id, nil
}

func (svc *tenantService) Get(_ context.Context, req *api.GetTenantRequest) (*api.GetTenantResponse, error) {
	s := svc.s
	_, rec, err := lookupLocked(s, s.tenants, parseUUID, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return &api.GetTenantResponse{
		Tenant:    clone(rec.t),
		CreatedAt: pbTime(rec.createdAt),
		UpdatedAt: pbTime(rec.updatedAt),
	}, nil
}

func (svc *tenantService) List(_ context.Context, req *api.ListTenantsRequest) (*api.ListTenantsResponse, error) {
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*api.TenantListItem
	for _, rec := range s.tenants {
		if req.GetSearch() != "" && !containsFold(rec.t.GetName(), req.GetSearch()) {
			continue
		}
		items = append(items, &api.TenantListItem{
			Id:                  rec.t.GetId(),
			CreatedAt:           pbTime(rec.createdAt),
			UpdatedAt:           pbTime(rec.updatedAt),
			Name:                rec.t.GetName(),
			CanHaveGateways:     rec.t.GetCanHaveGateways(),
			PrivateGatewaysUp:   rec.t.GetPrivateGatewaysUp(),
			PrivateGatewaysDown: rec.t.GetPrivateGatewaysDown(),
			MaxGatewayCount:     rec.t.GetMaxGatewayCount(),
			MaxDeviceCount:      rec.t.GetMaxDeviceCount(),
		})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return &api.ListTenantsResponse{
		TotalCount: uint32(len(items)),
		Result:     page(items, req.GetLimit(), req.GetOffset()),
	}, nil
}
