package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

const (
	// maxImportBody fits 100,000 rows of ordinary size; the general body limit does not.
	maxImportBody = 64 << 20
	// maxReportedRowErrors keeps a rejected import's answer small; the message counts all.
	maxReportedRowErrors = 1000
)

// registerFleetRoutes adds groups, bulk labelling and import to the tenant routes.
func (s *Server) registerFleetRoutes(r gin.IRoutes) {
	r.POST("/groups", s.createGroup)
	r.GET("/groups", s.listGroups)
	r.GET("/groups/:id", s.getGroup)
	r.DELETE("/groups/:id", s.deleteGroup)
	r.POST("/groups/:id/members", s.changeGroupMembers)
	r.GET("/groups/:id/members", s.listGroupMembers)
	r.POST("/devices/bulk/labels", s.labelDevices)
	r.POST("/devices/import", s.importDevices)
}

type createGroupRequest struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Selector  string   `json:"selector"`
	DeviceIDs []string `json:"device_ids"`
}

func (s *Server) createGroup(c *gin.Context) {
	var req createGroupRequest
	if !s.bindJSON(c, &req) {
		return
	}
	g, err := s.fleet.CreateGroup(c.Request.Context(), mustTenant(c), app.NewGroup{Name: req.Name,
		Kind: model.GroupKind(req.Kind), Selector: req.Selector, DeviceIDs: req.DeviceIDs})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, g)
}

func (s *Server) listGroups(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	gs, err := s.fleet.ListGroups(c.Request.Context(), mustTenant(c), store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	listPage(c, "groups", gs, limit, func(x model.Group) string { return x.ID })
}

func (s *Server) getGroup(c *gin.Context) {
	g, err := s.fleet.GetGroup(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, g)
}

func (s *Server) deleteGroup(c *gin.Context) {
	if err := s.fleet.DeleteGroup(c.Request.Context(), mustTenant(c), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type groupMembersRequest struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

func (s *Server) changeGroupMembers(c *gin.Context) {
	var req groupMembersRequest
	if !s.bindJSON(c, &req) {
		return
	}
	g, err := s.fleet.ChangeMembers(c.Request.Context(), mustTenant(c), c.Param("id"),
		app.MemberChange{Add: req.Add, Remove: req.Remove})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, g)
}

func (s *Server) listGroupMembers(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	ds, err := s.fleet.ListMembers(c.Request.Context(), mustTenant(c), c.Param("id"),
		store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	listPage(c, "devices", ds, limit, func(x model.Device) string { return x.ID })
}

type bulkLabelsRequest struct {
	DeviceIDs []string          `json:"device_ids"`
	Set       map[string]string `json:"set"`
	Remove    []string          `json:"remove"`
}

func (s *Server) labelDevices(c *gin.Context) {
	var req bulkLabelsRequest
	if !s.bindJSON(c, &req) {
		return
	}
	n, err := s.fleet.LabelDevices(c.Request.Context(), mustTenant(c),
		app.BulkLabels{DeviceIDs: req.DeviceIDs, Set: req.Set, Remove: req.Remove})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"updated": n})
}

// importDevices takes text/csv or application/json; the body is streamed, not buffered.
func (s *Server) importDevices(c *gin.Context) {
	var format app.ImportFormat
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mt {
	case "text/csv":
		format = app.ImportCSV
	case "application/json":
		format = app.ImportJSON
	default:
		writeError(c, http.StatusBadRequest, "invalid_argument", "must be text/csv or application/json", "Content-Type")
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxImportBody)
	n, err := s.fleet.ImportDevices(c.Request.Context(), mustTenant(c), format, body)
	var tooLarge *http.MaxBytesError
	var rowErrs *store.RowErrors
	switch {
	case errors.As(err, &tooLarge):
		writeError(c, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("import exceeds %d bytes; split it", int64(maxImportBody)), "rows")
	case errors.As(err, &rowErrs):
		writeRowErrors(c, rowErrs.Rows)
	case err != nil:
		s.fail(c, err)
	default:
		c.JSON(http.StatusCreated, gin.H{"imported": n})
	}
}

// writeRowErrors answers a rejected import: the usual error body plus every bad row.
func writeRowErrors(c *gin.Context, rows []store.RowError) {
	bad := map[int]bool{}
	for _, r := range rows {
		bad[r.Row] = true
	}
	msg := fmt.Sprintf("%d problems in %d rows; nothing was imported", len(rows), len(bad))
	if len(rows) == 1 {
		msg = "1 problem in 1 row; nothing was imported"
	}
	if len(rows) > maxReportedRowErrors {
		msg += fmt.Sprintf(" (the first %d are listed)", maxReportedRowErrors)
		rows = rows[:maxReportedRowErrors]
	}
	c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{
		"error": errorBody{Code: "invalid_argument", Message: msg, Field: "rows"},
		"rows":  rows,
	})
}
