package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/pkg/model"
)

const tenantKey = "ota.tenant"

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

func (s *Server) requireTenant(c *gin.Context) {
	key := bearer(c)
	if key == "" {
		writeError(c, http.StatusUnauthorized, "unauthorized", "API key required (Authorization: Bearer <key>)", "")
		return
	}
	t, ok := s.keys.get(key)
	if !ok {
		var err error
		t, err = s.svc.Authenticate(c.Request.Context(), key)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.keys.put(key, t)
	}
	c.Set(tenantKey, t)
	c.Next()
}

func tenantOf(c *gin.Context) (model.Tenant, bool) {
	v, ok := c.Get(tenantKey)
	if !ok {
		return model.Tenant{}, false
	}
	t, ok := v.(model.Tenant)
	return t, ok
}

func mustTenant(c *gin.Context) model.Tenant {
	t, _ := tenantOf(c)
	return t
}

// keyCache spares a database round trip per request; entries live briefly so a revoked
// key stops working within the TTL.
type keyCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedTenant
}

type cachedTenant struct {
	t   model.Tenant
	exp time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, m: map[string]cachedTenant{}}
}

func (k *keyCache) get(key string) (model.Tenant, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.m[key]
	if !ok || time.Now().After(e.exp) {
		return model.Tenant{}, false
	}
	return e.t, true
}

func (k *keyCache) put(key string, t model.Tenant) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) > 10_000 {
		k.m = map[string]cachedTenant{} // bounded memory under key-guessing floods
	}
	k.m[key] = cachedTenant{t: t, exp: time.Now().Add(k.ttl)}
}
