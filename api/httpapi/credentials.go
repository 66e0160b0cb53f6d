package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// registerCredentialRoutes adds device broker identities to the tenant routes.
func (s *Server) registerCredentialRoutes(r gin.IRoutes) {
	r.POST("/devices/credentials", s.issueCredentials)
	r.POST("/devices/:id/credentials", s.rotateCredentials)
	r.GET("/devices/:id/credentials", s.listCredentials)
	r.DELETE("/devices/:id/credentials", s.revokeCredentials)
	r.DELETE("/devices/:id", s.deleteDevice)
}

type issueCredentialsRequest struct {
	DeviceIDs []string `json:"device_ids"`
}

// issueCredentials gives devices registered without credentials (an import) their first.
func (s *Server) issueCredentials(c *gin.Context) {
	var req issueCredentialsRequest
	if !s.bindJSON(c, &req) {
		return
	}
	out, err := s.creds.IssueNew(c.Request.Context(), mustTenant(c), req.DeviceIDs)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"credentials": out})
}

type rotateCredentialsRequest struct {
	// RetireAfter is how long the previous credentials keep working (default
	// mqtt.rotation_grace).
	RetireAfter *otaflow.Duration `json:"retire_after"`
}

func (s *Server) rotateCredentials(c *gin.Context) {
	var req rotateCredentialsRequest
	if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) {
		return
	}
	grace := s.cfg.MQTT.RotationGrace
	if req.RetireAfter != nil {
		grace = time.Duration(*req.RetireAfter)
	}
	out, err := s.creds.Rotate(c.Request.Context(), mustTenant(c), c.Param("id"), grace)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, out)
}

func (s *Server) listCredentials(c *gin.Context) {
	out, err := s.creds.List(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"credentials": out})
}

func (s *Server) revokeCredentials(c *gin.Context) { s.revoke(c, false) }

// deleteDevice deletes an MQTT device; its credentials stop working in the same step.
func (s *Server) deleteDevice(c *gin.Context) { s.revoke(c, true) }

func (s *Server) revoke(c *gin.Context, deleteDevice bool) {
	if err := s.creds.Revoke(c.Request.Context(), mustTenant(c), c.Param("id"), deleteDevice); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// createdDevice is a new MQTT device with the credentials it is shown once.
type createdDevice struct {
	model.Device
	Credentials *model.IssuedCredential `json:"credentials,omitempty"`
	// CredentialsError says why none were issued (the device exists; issue them with
	// POST /devices/credentials).
	CredentialsError *errorBody `json:"credentials_error,omitempty"`
}
