package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/store"
)

func (s *Server) registerWebhookRoutes(r gin.IRoutes) {
	r.POST("/webhooks", s.createWebhook)
	r.GET("/webhooks", s.listWebhooks)
	r.PATCH("/webhooks/:id", s.updateWebhook)
	r.DELETE("/webhooks/:id", s.deleteWebhook)
	r.GET("/webhooks/:id/deliveries", s.webhookDeliveries)
}

type webhookRequest struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Enabled    *bool    `json:"enabled"`
}

func (s *Server) createWebhook(c *gin.Context) {
	var req webhookRequest
	if !s.bindJSON(c, &req) {
		return
	}
	w, err := s.webhooks.CreateWebhook(c.Request.Context(), mustCaller(c), app.NewWebhook{URL: req.URL,
		EventTypes: req.EventTypes, Enabled: req.Enabled})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, w)
}

func (s *Server) listWebhooks(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	ws, err := s.webhooks.ListWebhooks(c.Request.Context(), mustCaller(c), store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	listPage(c, "webhooks", ws, limit, func(w store.WebhookEndpoint) string { return w.ID })
}

type webhookPatchRequest struct {
	URL        *string  `json:"url"`
	EventTypes []string `json:"event_types"`
	Enabled    *bool    `json:"enabled"`
}

func (s *Server) updateWebhook(c *gin.Context) {
	var req webhookPatchRequest
	if !s.bindJSON(c, &req) {
		return
	}
	w, err := s.webhooks.UpdateWebhook(c.Request.Context(), mustCaller(c), c.Param("id"),
		app.WebhookChange{URL: req.URL, EventTypes: req.EventTypes, Enabled: req.Enabled})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, w)
}

func (s *Server) deleteWebhook(c *gin.Context) {
	if err := s.webhooks.DeleteWebhook(c.Request.Context(), mustCaller(c), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// webhookDeliveries lists an endpoint's delivery attempts, newest first.
func (s *Server) webhookDeliveries(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	var before int64
	if raw := c.Query("before"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			writeError(c, http.StatusBadRequest, "invalid_argument", "must be a positive integer (next_before of the previous page)", "before")
			return
		}
		before = n
	}
	as, err := s.webhooks.WebhookAttempts(c.Request.Context(), mustCaller(c), c.Param("id"), before, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	next := int64(0)
	if len(as) == limit {
		next = as[len(as)-1].ID
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": as, "next_before": next})
}
