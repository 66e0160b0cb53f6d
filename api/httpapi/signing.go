package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/api/app"
)

// registerSigningRoutes adds the tenant's signing keys and trust set to the tenant routes.
func (s *Server) registerSigningRoutes(r gin.IRoutes) {
	r.GET("/signing-keys", s.listSigningKeys)
	r.POST("/signing-keys", s.addSigningKey)
	r.GET("/trust", s.trust)
}

func (s *Server) listSigningKeys(c *gin.Context) {
	keys, err := s.svc.SigningKeys(c.Request.Context(), mustTenant(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"signing_keys": keys})
}

// addSigningKey registers an offline release key ({"purpose":"release","public_key":…})
// or rotates a purpose to a new managed key ({"purpose":…}); the key it replaces is
// retired.
func (s *Server) addSigningKey(c *gin.Context) {
	var req app.NewSigningKey
	if !s.bindJSON(c, &req) {
		return
	}
	key, err := s.svc.AddSigningKey(c.Request.Context(), mustTenant(c), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, key)
}

// trust answers what the tenant's devices pin.
func (s *Server) trust(c *gin.Context) {
	t, err := s.svc.Trust(c.Request.Context(), mustTenant(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, t)
}
