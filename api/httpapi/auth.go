package httpapi

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

const callerKey = "ota.caller"

func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) requireAdmin(c *gin.Context) {
	key := bearer(c)
	if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.Auth.AdminKey)) != 1 {
		writeError(c, http.StatusUnauthorized, "unauthorized", "admin API key required (Authorization: Bearer <key>)", "")
		return
	}
	c.Next()
}

// requireTenant authenticates the tenant's key (the access service's key cache, else the
// database; see AccessService.Authenticate), then lets the key through only when its role
// is at least the route's.
func (s *Server) requireTenant(c *gin.Context) {
	key := bearer(c)
	if key == "" {
		writeError(c, http.StatusUnauthorized, "unauthorized", "API key required (Authorization: Bearer <key>)", "")
		return
	}
	caller, err := s.access.Authenticate(c.Request.Context(), key)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(callerKey, caller)
	rule, ok := ruleOf(c.Request.Method, c.FullPath())
	if !ok || rule.guard != guardTenant {
		// Fail closed: a route nobody gave a role to is nobody's.
		writeError(c, http.StatusForbidden, "forbidden", "this route has no role assigned", "")
		return
	}
	if !caller.Key.Role.Allows(rule.role) {
		msg := fmt.Sprintf("this route needs an %s key or stronger; this key is a %s key", rule.role, caller.Key.Role)
		if rule.changesState() {
			s.recordRefusal(c, caller, rule, http.StatusForbidden)
		}
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": errorBody{Code: "forbidden", Message: msg},
			"rule": "role", "required_role": rule.role.String(), "key_role": caller.Key.Role.String()})
		return
	}
	if rule.changesState() {
		leave, err := s.writes.enter(c.Request.Context(), caller.Tenant.ID)
		if err != nil {
			s.refuseBusy(c, err)
			return
		}
		defer leave()
		s.audited(c, caller, rule)
		return
	}
	c.Next()
}

// refuseBusy answers a write the write gate did not let in; it changed nothing.
func (s *Server) refuseBusy(c *gin.Context, err error) {
	c.Header("Retry-After", "1")
	switch {
	case errors.Is(err, errTenantWritesBusy):
		writeError(c, http.StatusTooManyRequests, "too_many_requests", err.Error()+"; retry later", "")
	case errors.Is(err, errReplicaWritesBusy):
		writeError(c, http.StatusServiceUnavailable, "unavailable", err.Error()+"; retry later", "")
	default:
		s.fail(c, err) // the client went away
	}
}

func callerOf(c *gin.Context) (app.Caller, bool) {
	v, ok := c.Get(callerKey)
	if !ok {
		return app.Caller{}, false
	}
	caller, ok := v.(app.Caller)
	return caller, ok
}

func tenantOf(c *gin.Context) (model.Tenant, bool) {
	caller, ok := callerOf(c)
	return caller.Tenant, ok
}

func mustTenant(c *gin.Context) model.Tenant {
	t, _ := tenantOf(c)
	return t
}

func mustCaller(c *gin.Context) app.Caller {
	caller, _ := callerOf(c)
	return caller
}

// actorEntry starts an audit row for the caller's call of a route.
func actorEntry(caller app.Caller, rule routeRule, c *gin.Context) store.AuditEntry {
	return store.AuditEntry{TenantID: caller.Tenant.ID, ActorKeyID: caller.Key.ID, ActorName: caller.Key.Name,
		Action: rule.action, Route: c.Request.Method + " " + c.FullPath()}
}
