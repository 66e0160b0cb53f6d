package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/store"
)

func (s *Server) registerAccessRoutes(r gin.IRoutes) {
	r.GET("/settings", s.getSettings)
	r.PUT("/settings", s.putSettings)
	r.GET("/keys", s.listKeys)
	r.POST("/keys", s.createKey)
	r.POST("/keys/:id/rotate", s.rotateKey)
	r.DELETE("/keys/:id", s.revokeKey)
	r.GET("/audit", s.listAudit)
}

type createKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// ExpiresAt is an RFC 3339 time; parsed here so a bad one names the field.
	ExpiresAt *string `json:"expires_at"`
}

func (s *Server) createKey(c *gin.Context) {
	var req createKeyRequest
	if !s.bindJSON(c, &req) {
		return
	}
	role, err := access.ParseRole(req.Role)
	if err != nil {
		writeError(c, http.StatusBadRequest, "invalid_argument", err.Error(), "role")
		return
	}
	var expires *time.Time
	if req.ExpiresAt != nil {
		at, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_argument", "must be an RFC 3339 time such as 2027-01-02T15:04:05Z", "expires_at")
			return
		}
		expires = &at
	}
	k, err := s.access.CreateKey(c.Request.Context(), mustCaller(c), app.NewKey{Name: req.Name, Role: role,
		ExpiresAt: expires})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, k)
}

func (s *Server) listKeys(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	ks, err := s.access.ListKeys(c.Request.Context(), mustCaller(c), store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	listPage(c, "keys", ks, limit, func(k app.KeyView) string { return k.ID })
}

type rotateKeyRequest struct {
	// Grace overrides auth.key_rotation_grace for this rotation ("90s", "0s").
	Grace *string `json:"grace"`
}

func (s *Server) rotateKey(c *gin.Context) {
	var req rotateKeyRequest
	if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) {
		return
	}
	var grace *time.Duration
	if req.Grace != nil {
		d, err := time.ParseDuration(*req.Grace)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_argument", "must be a duration such as 90s or 1h", "grace")
			return
		}
		grace = &d
	}
	out, err := s.access.RotateKey(c.Request.Context(), mustCaller(c), c.Param("id"), grace)
	if err != nil {
		s.fail(c, err)
		return
	}
	addAuditTargets(c, out.Key.ID)
	c.JSON(http.StatusOK, out)
}

func (s *Server) revokeKey(c *gin.Context) {
	k, err := s.access.RevokeKey(c.Request.Context(), mustCaller(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, k)
}

type settingsView struct {
	FourEyes bool `json:"four_eyes"`
}

func (s *Server) getSettings(c *gin.Context) {
	c.JSON(http.StatusOK, settingsView{FourEyes: mustTenant(c).FourEyes})
}

type settingsRequest struct {
	FourEyes *bool `json:"four_eyes"`
}

func (s *Server) putSettings(c *gin.Context) {
	var req settingsRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if req.FourEyes == nil {
		writeError(c, http.StatusBadRequest, "invalid_argument", "required", "four_eyes")
		return
	}
	t, err := s.access.SetFourEyes(c.Request.Context(), mustCaller(c), *req.FourEyes)
	if err != nil {
		s.fail(c, err)
		return
	}
	addAuditTargets(c, t.ID)
	c.JSON(http.StatusOK, settingsView{FourEyes: t.FourEyes})
}

func (s *Server) listAudit(c *gin.Context) {
	f, ferr := parseAuditFilter(c.Request.URL.Query())
	if ferr != nil {
		writeError(c, http.StatusBadRequest, "invalid_argument", ferr.Message, ferr.Field)
		return
	}
	entries, err := s.access.ListAudit(c.Request.Context(), mustCaller(c), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	next := int64(0)
	if len(entries) == f.Limit {
		next = entries[len(entries)-1].ID
	}
	c.JSON(http.StatusOK, gin.H{"entries": entries, "next_before": next})
}

// whoami answers the tenant and the calling key.
func (s *Server) whoami(c *gin.Context) {
	caller := mustCaller(c)
	t := caller.Tenant
	c.JSON(http.StatusOK, gin.H{"id": t.ID, "name": t.Name, "cadence_domain": t.CadenceDomain, "four_eyes": t.FourEyes,
		"key": gin.H{"id": caller.Key.ID, "name": caller.Key.Name, "role": caller.Key.Role}})
}
