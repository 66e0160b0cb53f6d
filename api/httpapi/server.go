// Package httpapi is the Gin HTTP layer: routing, authentication, request decoding and
// the mapping of errors onto status codes. Every error body is
// {"error": {"code": ..., "message": ..., "field": ...}}.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/cadenceweb"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/firmwarelink"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/probe"
	"github.com/otaplane/ota/pkg/store"
)

// Server holds the handlers' dependencies.
type Server struct {
	svc      app.Service
	fleet    app.FleetService
	lorawan  app.LoRaWANService
	creds    app.CredentialService
	access   app.AccessService
	webhooks app.WebhookService
	cfg      *config.Config
	links    *firmwarelink.Signer
	log      *zap.Logger
	metrics  *metrics
	web      cadenceweb.Links
	writes   *writeGate
}

// New builds the router.
func New(svc app.Service, fleet app.FleetService, lorawan app.LoRaWANService, creds app.CredentialService,
	acc app.AccessService, hooks app.WebhookService, cfg *config.Config, reg prometheus.Registerer, log *zap.Logger) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{svc: svc, fleet: fleet, lorawan: lorawan, creds: creds, access: acc, webhooks: hooks, cfg: cfg, log: log,
		links: firmwarelink.New(cfg.Firmware.URLSigningKey, cfg.HTTP.PublicURL), metrics: newMetrics(reg),
		web: cadenceweb.New(cfg.Cadence.WebURL), writes: newWriteGate(cfg.HTTP.WritesPerTenant,
			replicaWrites(cfg.Database.MaxOpenConns), cfg.HTTP.WriteWait)}
	return s.router()
}

// replicaWrites is how many writes a replica runs at once: three quarters of its
// database connections, so reads and authentication always find one.
func replicaWrites(conns int) int { return max(conns-conns/4, 1) }

// router routes every request to s's handlers.
func (s *Server) router() *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.recoverer(), s.accessLog(), s.requireTextParams)
	r.NoRoute(func(c *gin.Context) { writeError(c, http.StatusNotFound, "not_found", "no such route", "") })
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route", "")
	})

	r.GET(probe.HealthPath, s.healthz)
	r.GET(probe.ReadyPath, s.readyz)

	v1 := r.Group("/api/v1")
	v1.GET("/openapi.json", s.openAPI)
	v1.POST("/tenants", s.requireAdmin, s.createTenant)
	// Devices download with the signed link from their command, not with an API key.
	v1.GET("/firmware/:id/image", s.firmwareImage)

	t := v1.Group("", s.requireTenant)
	t.GET("/tenant", s.whoami)
	t.POST("/devices", s.createDevice)
	t.GET("/devices", s.listDevices)
	t.GET("/devices/:id", s.getDevice)
	t.PUT("/devices/:id/ota/update", s.startDeviceUpdate)
	t.GET("/devices/:id/ota", s.deviceUpdateState)
	t.GET("/devices/:id/firmware-history", s.deviceHistory)
	t.POST("/firmware", s.uploadFirmware)
	t.GET("/firmware", s.listFirmware)
	t.GET("/firmware/:id", s.getFirmware)
	t.GET("/firmware/:id/download", s.downloadFirmware)
	t.POST("/ota/campaigns", s.createCampaign)
	t.GET("/ota/campaigns", s.listCampaigns)
	t.GET("/ota/campaigns/:id", s.getCampaign)
	t.POST("/ota/campaigns/:id/execute", s.executeCampaign)
	t.POST("/ota/campaigns/:id/pause", s.controlCampaign(otaflow.ControlPause))
	t.POST("/ota/campaigns/:id/resume", s.controlCampaign(otaflow.ControlResume))
	t.POST("/ota/campaigns/:id/cancel", s.controlCampaign(otaflow.ControlCancel))
	t.POST("/ota/campaigns/:id/approve", s.controlCampaign(otaflow.ControlApprove))
	t.POST("/ota/campaigns/:id/dry-run", s.dryRunCampaign)
	t.GET("/ota/campaigns/:id/status", s.campaignStatus)
	t.GET("/ota/campaigns/:id/devices", s.campaignDevices)
	s.registerFleetRoutes(t)
	s.registerLoRaWANRoutes(t)
	s.registerCredentialRoutes(t)
	s.registerSigningRoutes(t)
	s.registerAccessRoutes(t)
	s.registerWebhookRoutes(t)
	return r
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeError(c *gin.Context, status int, code, msg, field string) {
	c.AbortWithStatusJSON(status, gin.H{"error": errorBody{Code: code, Message: msg, Field: field}})
}

// fail maps an error from the app layer onto a response.
func (s *Server) fail(c *gin.Context, err error) {
	var fe *model.FieldError
	var inProgress *app.UpdateInProgressError
	var forbidden *app.ForbiddenError
	switch {
	case errors.As(err, &forbidden):
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": errorBody{Code: "forbidden", Message: forbidden.Error(),
			Field: forbidden.Field}, "rule": forbidden.Rule})
	case errors.As(err, &fe):
		writeError(c, http.StatusBadRequest, "invalid_argument", fe.Message, fe.Field)
	case errors.As(err, &inProgress):
		c.AbortWithStatusJSON(http.StatusConflict, s.linkRun(c, gin.H{"error": errorBody{Code: "update_in_progress", Message: inProgress.Error()},
			"workflow_id": inProgress.WorkflowID, "run_id": inProgress.RunID, "campaign_id": inProgress.CampaignID},
			inProgress.WorkflowID, inProgress.RunID))
	case errors.Is(err, store.ErrNotFound):
		writeError(c, http.StatusNotFound, "not_found", "not found", "")
	case errors.Is(err, store.ErrInvalidInput):
		// Validation should have refused the value first: say so in the log.
		s.log.Warn("database refused a value from a request", zap.String("path", c.FullPath()), zap.Error(err))
		writeError(c, http.StatusBadRequest, "invalid_argument", "a value in the request cannot be stored", "")
	case errors.Is(err, app.ErrConflict):
		writeError(c, http.StatusConflict, "conflict", err.Error(), "")
	case errors.Is(err, app.ErrUnauthorized):
		writeError(c, http.StatusUnauthorized, "unauthorized", "missing or invalid API key", "")
	case errors.Is(err, store.ErrUnavailable):
		s.log.Warn("database unavailable", zap.Error(err))
		c.Header("Retry-After", "5")
		writeError(c, http.StatusServiceUnavailable, "unavailable", "database unavailable; retry later", "")
	case errors.Is(err, app.ErrUnavailable):
		s.log.Warn("workflow service unavailable", zap.Error(err))
		c.Header("Retry-After", "5")
		writeError(c, http.StatusServiceUnavailable, "unavailable", "workflow service (Cadence) unavailable; retry later", "")
	case errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil:
		// The client went away; nobody reads this answer (499 as nginx logs it).
		c.AbortWithStatus(499)
	default:
		s.log.Error("request failed", zap.String("path", c.FullPath()), zap.Error(err))
		writeError(c, http.StatusInternalServerError, "internal", "internal error", "")
	}
}

// bindJSON decodes a JSON body strictly: unknown fields and wrong types name the field.
func (s *Server) bindJSON(c *gin.Context, dst any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.HTTP.MaxBodySize))
	if err != nil {
		writeError(c, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("request body exceeds %d bytes", s.cfg.HTTP.MaxBodySize), "")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			writeError(c, http.StatusBadRequest, "invalid_argument",
				fmt.Sprintf("must be of type %s", typeErr.Type), typeErr.Field)
		case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
			writeError(c, http.StatusBadRequest, "invalid_json", "malformed JSON: "+err.Error(), "")
		case errors.Is(err, io.EOF):
			writeError(c, http.StatusBadRequest, "invalid_json", "request body is empty", "")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			writeError(c, http.StatusBadRequest, "invalid_argument", "unknown field", field)
		default:
			writeError(c, http.StatusBadRequest, "invalid_json", err.Error(), "")
		}
		return false
	}
	if dec.More() {
		writeError(c, http.StatusBadRequest, "invalid_json", "trailing data after the JSON object", "")
		return false
	}
	return true
}

const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

// pageLimit reads ?limit=, naming the parameter when it is bad.
func pageLimit(c *gin.Context) (int, bool) {
	raw := c.Query("limit")
	if raw == "" {
		return defaultPageLimit, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxPageLimit {
		writeError(c, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("must be an integer from 1 to %d", maxPageLimit), "limit")
		return 0, false
	}
	return n, true
}

// listPage answers one page of a list and the cursor of the next (empty on the last).
func listPage[T any](c *gin.Context, key string, items []T, limit int, cursor func(T) string) {
	next := ""
	if len(items) == limit {
		next = cursor(items[len(items)-1])
	}
	c.JSON(http.StatusOK, gin.H{key: items, "next_after": next})
}

func (s *Server) recoverer() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in handler", zap.Any("panic", r), zap.String("path", c.FullPath()))
				writeError(c, http.StatusInternalServerError, "internal", "internal error", "")
			}
		}()
		c.Next()
	}
}

func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.observe(c.Request.Method, route, c.Writer.Status(), elapsed)
		fields := []zap.Field{zap.String("method", c.Request.Method), zap.String("route", route),
			zap.String("path", c.Request.URL.Path), zap.Int("status", c.Writer.Status()), zap.Duration("elapsed", elapsed)}
		if t, ok := tenantOf(c); ok {
			fields = append(fields, zap.String("tenant_id", t.ID))
		}
		if c.Writer.Status() >= 500 {
			s.log.Warn("request", fields...)
		} else {
			s.log.Debug("request", fields...)
		}
	}
}
