package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/store"
)

// registerLoRaWANRoutes adds ChirpStack settings, LoRaWAN device management and
// reconcile to the tenant routes.
func (s *Server) registerLoRaWANRoutes(r gin.IRoutes) {
	r.PUT("/lorawan/settings", s.putLoRaWANSettings)
	r.GET("/lorawan/settings", s.getLoRaWANSettings)
	r.POST("/lorawan/devices", s.createLoRaWANDevice)
	r.GET("/lorawan/devices", s.listLoRaWANDevices)
	r.GET("/lorawan/devices/:id", s.getLoRaWANDevice)
	r.PATCH("/lorawan/devices/:id", s.updateLoRaWANDevice)
	r.DELETE("/lorawan/devices/:id", s.deleteLoRaWANDevice)
	r.POST("/lorawan/reconcile", s.reconcileLoRaWAN)
}

// loraStatus maps a LoRaWAN failure reason onto a status and error code.
func loraStatus(reason string) (int, string) {
	switch reason {
	case otaflow.LoRaWANFailRejected:
		return http.StatusUnprocessableEntity, "chirpstack_rejected"
	case otaflow.LoRaWANFailUnavailable:
		return http.StatusServiceUnavailable, "chirpstack_unavailable"
	case otaflow.LoRaWANFailDatabase:
		return http.StatusServiceUnavailable, "unavailable"
	case otaflow.LoRaWANFailConflict:
		return http.StatusConflict, "conflict"
	case otaflow.LoRaWANFailDrift:
		return http.StatusConflict, "drift"
	case otaflow.LoRaWANFailNotConfigured:
		return http.StatusConflict, "not_configured"
	case otaflow.LoRaWANFailNotFound:
		return http.StatusNotFound, "not_found"
	case app.ReasonOperationInProgress:
		return http.StatusConflict, "operation_in_progress"
	default:
		return http.StatusInternalServerError, "operation_failed"
	}
}

// failLoRaWAN answers a LoRaWAN failure with the workflow it concerns; other errors
// take the common mapping.
func (s *Server) failLoRaWAN(c *gin.Context, err error) {
	var le *app.LoRaWANError
	if !errors.As(err, &le) {
		s.fail(c, err)
		return
	}
	status, code := loraStatus(le.Reason)
	body := gin.H{"error": errorBody{Code: code, Message: le.Message, Field: le.Field}}
	if le.Workflow.WorkflowID != "" {
		body["workflow_id"], body["run_id"] = le.Workflow.WorkflowID, le.Workflow.RunID
		s.linkRun(c, body, le.Workflow.WorkflowID, le.Workflow.RunID)
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "5")
	}
	c.AbortWithStatusJSON(status, body)
}

// answerOperation answers a device operation: its error, 202 while it still runs, or
// done's answer once it has finished.
func (s *Server) answerOperation(c *gin.Context, err error, finished bool, run app.WorkflowRef, what string, done func()) {
	switch {
	case err != nil:
		s.failLoRaWAN(c, err)
	case !finished:
		s.accepted(c, run, what)
	default:
		done()
	}
}

// accepted answers an operation that is still running after the wait.
func (s *Server) accepted(c *gin.Context, ref app.WorkflowRef, what string) {
	c.JSON(http.StatusAccepted, s.linkRun(c, gin.H{"workflow_id": ref.WorkflowID, "run_id": ref.RunID, "status": "running",
		"message": what + " is still running; it completes (or undoes itself) on its own"}, ref.WorkflowID, ref.RunID))
}

type loraSettingsRequest struct {
	APIAddress         string `json:"api_address"`
	APIToken           string `json:"api_token"`
	ChirpStackTenantID string `json:"chirpstack_tenant_id"`
	ApplicationID      string `json:"application_id"`
	EventEncoding      string `json:"event_encoding"`
	VersionFPort       *int   `json:"version_fport"`
}

func (s *Server) putLoRaWANSettings(c *gin.Context) {
	var req loraSettingsRequest
	if !s.bindJSON(c, &req) {
		return
	}
	out, err := s.lorawan.PutSettings(c.Request.Context(), mustTenant(c), app.LoRaWANSettingsInput{
		APIAddress: req.APIAddress, APIToken: req.APIToken, ChirpStackTenantID: req.ChirpStackTenantID,
		ApplicationID: req.ApplicationID, EventEncoding: req.EventEncoding, VersionFPort: req.VersionFPort})
	if err != nil {
		s.failLoRaWAN(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getLoRaWANSettings(c *gin.Context) {
	out, err := s.lorawan.GetSettings(c.Request.Context(), mustTenant(c))
	if errors.Is(err, store.ErrNotFound) {
		writeError(c, http.StatusNotFound, "not_found", "ChirpStack settings are not configured for this tenant", "")
		return
	}
	if err != nil {
		s.failLoRaWAN(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

type createLoRaWANDeviceRequest struct {
	ID              string            `json:"id"`
	DevEUI          string            `json:"dev_eui"`
	JoinEUI         string            `json:"join_eui"`
	AppKey          string            `json:"app_key"`
	DeviceProfileID string            `json:"device_profile_id"`
	HardwareModel   string            `json:"hardware_model"`
	FirmwareVersion string            `json:"firmware_version"`
	Labels          map[string]string `json:"labels"`
	Name            string            `json:"name"`
}

func (s *Server) createLoRaWANDevice(c *gin.Context) {
	var req createLoRaWANDeviceRequest
	if !s.bindJSON(c, &req) {
		return
	}
	out, err := s.lorawan.CreateDevice(c.Request.Context(), mustTenant(c), app.NewLoRaWANDevice{
		ID: req.ID, DevEUI: req.DevEUI, JoinEUI: req.JoinEUI, AppKey: req.AppKey, DeviceProfileID: req.DeviceProfileID,
		HardwareModel: req.HardwareModel, FirmwareVersion: req.FirmwareVersion, Labels: req.Labels, Name: req.Name})
	s.answerOperation(c, err, out.Done, out.Workflow, "creating the device", func() { c.JSON(http.StatusCreated, out.Device) })
}

func (s *Server) listLoRaWANDevices(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	ds, err := s.lorawan.ListDevices(c.Request.Context(), mustTenant(c), store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.failLoRaWAN(c, err)
		return
	}
	listPage(c, "devices", ds, limit, func(x model.LoRaWANDeviceRecord) string { return x.ID })
}

func (s *Server) getLoRaWANDevice(c *gin.Context) {
	d, err := s.lorawan.GetDevice(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.failLoRaWAN(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// updateLoRaWANDeviceRequest: absent (or null) fields stay as they are.
type updateLoRaWANDeviceRequest struct {
	Labels          map[string]string `json:"labels"`
	HardwareModel   *string           `json:"hardware_model"`
	DeviceProfileID *string           `json:"device_profile_id"`
	Name            *string           `json:"name"`
}

func (s *Server) updateLoRaWANDevice(c *gin.Context) {
	var req updateLoRaWANDeviceRequest
	if !s.bindJSON(c, &req) {
		return
	}
	out, err := s.lorawan.UpdateDevice(c.Request.Context(), mustTenant(c), c.Param("id"), otaflow.LoRaWANChange{
		Labels: req.Labels, HardwareModel: req.HardwareModel, DeviceProfileID: req.DeviceProfileID, Name: req.Name})
	s.answerOperation(c, err, out.Done, out.Workflow, "updating the device", func() { c.JSON(http.StatusOK, out.Device) })
}

func (s *Server) deleteLoRaWANDevice(c *gin.Context) {
	out, err := s.lorawan.DeleteDevice(c.Request.Context(), mustTenant(c), c.Param("id"))
	s.answerOperation(c, err, out.Done, out.Workflow, "deleting the device", func() { c.Status(http.StatusNoContent) })
}

// reconcileResponse is the report with the run that made it.
type reconcileResponse struct {
	otaflow.ReconcileReport
	app.WorkflowRef
}

// reconcileLoRaWAN runs a reconcile now; ?report_only=true leaves the drift unrepaired.
func (s *Server) reconcileLoRaWAN(c *gin.Context) {
	reportOnly := false
	if raw := c.Query("report_only"); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_argument", "must be true or false", "report_only")
			return
		}
		reportOnly = v
	}
	out, err := s.lorawan.Reconcile(c.Request.Context(), mustTenant(c), reportOnly)
	s.answerOperation(c, err, out.Done, out.Workflow, "the reconcile run", func() {
		c.JSON(http.StatusOK, reconcileResponse{ReconcileReport: out.Report, WorkflowRef: out.Workflow})
	})
}
