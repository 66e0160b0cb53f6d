package httpapi

import (
	"sort"
	"strings"

	"github.com/otaplane/ota/pkg/access"
)

// guard is how a route authenticates its caller.
type guard int

const (
	// guardPublic: no API key (health checks; device downloads carry a signed link).
	guardPublic guard = iota + 1
	// guardDeployment: the deployment's own admin key (auth.admin_key), for tenant creation.
	guardDeployment
	// guardTenant: a tenant's API key of at least the route's role.
	guardTenant
)

// routeRule is what a route needs and, for a route that changes state, the action its
// audit rows name.
type routeRule struct {
	guard  guard
	role   access.Role
	action string
}

func viewer() routeRule { return routeRule{guard: guardTenant, role: access.RoleViewer} }
func operator(action string) routeRule {
	return routeRule{guard: guardTenant, role: access.RoleOperator, action: action}
}
func admin(action string) routeRule {
	return routeRule{guard: guardTenant, role: access.RoleAdmin, action: action}
}

// routeRules is every route the router registers, as "METHOD path" (Gin's full path),
// and the role it needs: the one place that says who may do what. A route missing here
// is refused (and TestEveryRouteHasARule fails).
var routeRules = map[string]routeRule{
	"GET /healthz":                   {guard: guardPublic},
	"GET /readyz":                    {guard: guardPublic},
	"GET /api/v1/firmware/:id/image": {guard: guardPublic},
	"GET /api/v1/openapi.json":       {guard: guardPublic},
	"POST /api/v1/tenants":           {guard: guardDeployment},

	"GET /api/v1/tenant":                  viewer(),
	"GET /api/v1/settings":                viewer(),
	"PUT /api/v1/settings":                admin("settings.update"),
	"GET /api/v1/keys":                    admin(""),
	"POST /api/v1/keys":                   admin("key.create"),
	"POST /api/v1/keys/:id/rotate":        admin("key.rotate"),
	"DELETE /api/v1/keys/:id":             admin("key.revoke"),
	"POST /api/v1/webhooks":               admin("webhook.create"),
	"GET /api/v1/webhooks":                admin(""),
	"PATCH /api/v1/webhooks/:id":          admin("webhook.update"),
	"DELETE /api/v1/webhooks/:id":         admin("webhook.delete"),
	"GET /api/v1/webhooks/:id/deliveries": viewer(),
	"GET /api/v1/audit":                   viewer(),

	"POST /api/v1/devices":                     operator("device.create"),
	"GET /api/v1/devices":                      viewer(),
	"GET /api/v1/devices/:id":                  viewer(),
	"DELETE /api/v1/devices/:id":               operator("device.delete"),
	"PUT /api/v1/devices/:id/ota/update":       operator("device.update"),
	"GET /api/v1/devices/:id/ota":              viewer(),
	"GET /api/v1/devices/:id/firmware-history": viewer(),
	"POST /api/v1/devices/credentials":         operator("device.credentials.issue"),
	"POST /api/v1/devices/:id/credentials":     operator("device.credentials.rotate"),
	"GET /api/v1/devices/:id/credentials":      viewer(),
	"DELETE /api/v1/devices/:id/credentials":   operator("device.credentials.revoke"),
	"POST /api/v1/devices/bulk/labels":         operator("device.labels"),
	"POST /api/v1/devices/import":              operator("device.import"),

	"POST /api/v1/groups":             operator("group.create"),
	"GET /api/v1/groups":              viewer(),
	"GET /api/v1/groups/:id":          viewer(),
	"DELETE /api/v1/groups/:id":       operator("group.delete"),
	"POST /api/v1/groups/:id/members": operator("group.members"),
	"GET /api/v1/groups/:id/members":  viewer(),

	"POST /api/v1/firmware":             operator("firmware.upload"),
	"GET /api/v1/firmware":              viewer(),
	"GET /api/v1/firmware/:id":          viewer(),
	"GET /api/v1/firmware/:id/download": viewer(),
	"GET /api/v1/signing-keys":          viewer(),
	"POST /api/v1/signing-keys":         admin("signing_key.add"),
	"GET /api/v1/trust":                 viewer(),

	"POST /api/v1/ota/campaigns":             operator("campaign.create"),
	"GET /api/v1/ota/campaigns":              viewer(),
	"GET /api/v1/ota/campaigns/:id":          viewer(),
	"POST /api/v1/ota/campaigns/:id/execute": operator("campaign.execute"),
	"POST /api/v1/ota/campaigns/:id/pause":   operator("campaign.pause"),
	"POST /api/v1/ota/campaigns/:id/resume":  operator("campaign.resume"),
	"POST /api/v1/ota/campaigns/:id/cancel":  operator("campaign.cancel"),
	"POST /api/v1/ota/campaigns/:id/approve": operator("campaign.approve"),
	"POST /api/v1/ota/campaigns/:id/dry-run": operator("campaign.dry_run"),
	"GET /api/v1/ota/campaigns/:id/status":   viewer(),
	"GET /api/v1/ota/campaigns/:id/devices":  viewer(),

	"PUT /api/v1/lorawan/settings":       admin("lorawan.settings.update"),
	"GET /api/v1/lorawan/settings":       viewer(),
	"POST /api/v1/lorawan/devices":       operator("lorawan.device.create"),
	"GET /api/v1/lorawan/devices":        viewer(),
	"GET /api/v1/lorawan/devices/:id":    viewer(),
	"PATCH /api/v1/lorawan/devices/:id":  operator("lorawan.device.update"),
	"DELETE /api/v1/lorawan/devices/:id": operator("lorawan.device.delete"),
	"POST /api/v1/lorawan/reconcile":     operator("lorawan.reconcile"),
}

// ruleOf is the rule of the route a request matched.
func ruleOf(method, fullPath string) (routeRule, bool) {
	r, ok := routeRules[method+" "+fullPath]
	return r, ok
}

// changesState says a route's calls are audited.
func (r routeRule) changesState() bool { return r.action != "" }

// RouteRole is one route's entry in the role table, for tools and tests outside the
// package.
type RouteRole struct {
	Method, Path string
	// Role is empty for routes that take no tenant key.
	Role   string
	Action string
}

// RoleTable lists every route with the role it needs.
func RoleTable() []RouteRole {
	out := make([]RouteRole, 0, len(routeRules))
	for name, r := range routeRules {
		method, path, _ := strings.Cut(name, " ")
		rr := RouteRole{Method: method, Path: path, Action: r.action}
		if r.guard == guardTenant {
			rr.Role = r.role.String()
		}
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path+out[i].Method < out[j].Path+out[j].Method })
	return out
}
