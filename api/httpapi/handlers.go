package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/access"
	"github.com/otaplane/ota/pkg/firmwarelink"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
	"github.com/otaplane/ota/pkg/probe"
	"github.com/otaplane/ota/pkg/store"
)

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	results := s.svc.Ready(ctx)
	checks := make(map[string]probe.Check, len(results))
	for name, err := range results {
		checks[name] = func(context.Context) error { return err }
	}
	answer, ready := probe.Evaluate(ctx, checks)
	if !ready {
		c.JSON(http.StatusServiceUnavailable, answer)
		return
	}
	c.JSON(http.StatusOK, answer)
}

type createTenantRequest struct {
	Name string `json:"name"`
}

func (s *Server) createTenant(c *gin.Context) {
	var req createTenantRequest
	if !s.bindJSON(c, &req) {
		return
	}
	t, key, err := s.svc.CreateTenant(c.Request.Context(), req.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"tenant": t, "api_key": key})
}

type createDeviceRequest struct {
	ID              string            `json:"id"`
	HardwareModel   string            `json:"hardware_model"`
	FirmwareVersion string            `json:"firmware_version"`
	Labels          map[string]string `json:"labels"`
	Transport       string            `json:"transport"`
}

func (s *Server) createDevice(c *gin.Context) {
	var req createDeviceRequest
	if !s.bindJSON(c, &req) {
		return
	}
	t := mustTenant(c)
	d, err := s.svc.CreateDevice(c.Request.Context(), t, model.Device{ID: req.ID, HardwareModel: req.HardwareModel,
		FirmwareVersion: req.FirmwareVersion, Labels: req.Labels, Transport: model.Transport(req.Transport)})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := createdDevice{Device: d}
	issued, err := s.creds.IssueNew(c.Request.Context(), t, []string{d.ID})
	if err != nil {
		s.log.Warn("device created without credentials", zap.String("device_id", d.ID), zap.Error(err))
		out.CredentialsError = &errorBody{Code: "credentials_not_issued", Message: err.Error()}
	} else {
		out.Credentials = &issued[0]
	}
	c.JSON(http.StatusCreated, out)
}

func (s *Server) listDevices(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	ds, err := s.svc.ListDevices(c.Request.Context(), mustTenant(c), store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	listPage(c, "devices", ds, limit, func(x model.Device) string { return x.ID })
}

func (s *Server) getDevice(c *gin.Context) {
	d, err := s.svc.GetDevice(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) startDeviceUpdate(c *gin.Context) {
	var req app.DeviceUpdateRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if req.AllowDowngrade && !mustCaller(c).Key.Role.Allows(access.RoleAdmin) {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": errorBody{Code: "forbidden",
			Message: "allow_downgrade overrides the downgrade protection and needs an admin key", Field: "allow_downgrade"},
			"rule": "role", "required_role": access.RoleAdmin})
		return
	}
	t := mustTenant(c)
	res, err := s.svc.StartDeviceUpdate(c.Request.Context(), t, c.Param("id"), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, struct {
		app.DeviceUpdateStarted
		webLink
	}{res, s.webLink(t, res.WorkflowID, res.RunID)})
}

func (s *Server) deviceUpdateState(c *gin.Context) {
	t := mustTenant(c)
	st, err := s.svc.DeviceUpdateState(c.Request.Context(), t, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	// The state comes from the device's latest run, from the group run it is a member
	// of, or from the FUOTA deployment holding it; link to whichever answered.
	workflowID, runID := otaflow.DeviceWorkflowID(st.DeviceID), ""
	switch {
	case st.HeldBy != "":
		workflowID = st.HeldBy
	case otaflow.IsGroupWorkflowID(st.WorkflowID):
		workflowID, runID = st.WorkflowID, st.RunID
	}
	c.JSON(http.StatusOK, struct {
		otaflow.DeviceRunState
		webLink
	}{st, s.webLink(t, workflowID, runID)})
}

func (s *Server) deviceHistory(c *gin.Context) {
	h, err := s.svc.DeviceHistory(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"device_id": c.Param("id"), "history": h})
}

// uploadFirmware takes multipart/form-data: file, version, hardware_model, and for a
// tenant whose release key is offline release_counter and signature.
func (s *Server) uploadFirmware(c *gin.Context) {
	// Multipart overhead on top of the image itself.
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.HTTP.MaxFirmwareSize+1<<20)
	form, err := c.MultipartForm()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(c, http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("firmware exceeds %d bytes", s.cfg.HTTP.MaxFirmwareSize), "file")
			return
		}
		writeError(c, http.StatusBadRequest, "invalid_argument", "expected multipart/form-data with file, version and hardware_model: "+err.Error(), "file")
		return
	}
	defer form.RemoveAll()
	files := form.File["file"]
	if len(files) != 1 {
		writeError(c, http.StatusBadRequest, "invalid_argument", "exactly one file part named \"file\" is required", "file")
		return
	}
	up, err := openUpload(files[0])
	if err != nil {
		s.fail(c, err)
		return
	}
	defer up.Close()
	fw, err := s.svc.UploadFirmware(c.Request.Context(), mustTenant(c), app.FirmwareUpload{
		Version: first(form.Value["version"]), HardwareModel: first(form.Value["hardware_model"]),
		Image: up, Size: files[0].Size,
		ReleaseCounter: first(form.Value["release_counter"]), Signature: first(form.Value["signature"]),
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, fw)
}

func openUpload(fh *multipart.FileHeader) (multipart.File, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, model.Fieldf("file", "cannot read upload: %v", err)
	}
	return f, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *Server) listFirmware(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	fws, err := s.svc.ListFirmware(c.Request.Context(), mustTenant(c), store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	listPage(c, "firmware", fws, limit, func(x model.Firmware) string { return x.ID })
}

func (s *Server) getFirmware(c *gin.Context) {
	fw, err := s.svc.GetFirmware(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, fw)
}

func (s *Server) downloadFirmware(c *gin.Context) {
	if !singleRange(c) {
		return
	}
	fw, r, err := s.svc.OpenFirmware(c.Request.Context(), mustTenant(c).ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	serveImage(c, fw, r)
}

// firmwareImage serves a device's download; the signed link names the tenant and the
// device, which must still be registered.
func (s *Server) firmwareImage(c *gin.Context) {
	if !singleRange(c) {
		return
	}
	link, err := s.links.Verify(c.Param("id"), c.Request.URL.Query(), time.Now())
	if err != nil {
		var refused *firmwarelink.Error
		param := ""
		if errors.As(err, &refused) {
			param = refused.Param
		}
		if errors.Is(err, firmwarelink.ErrMalformed) {
			writeError(c, http.StatusBadRequest, "invalid_argument", "download link: "+err.Error(), param)
		} else {
			writeError(c, http.StatusForbidden, "forbidden", "download link invalid or expired: "+err.Error(), param)
		}
		return
	}
	fw, r, err := s.svc.OpenDeviceFirmware(c.Request.Context(), link.TenantID, link.DeviceID, c.Param("id"))
	var notFor *model.FieldError
	if errors.As(err, &notFor) {
		writeError(c, http.StatusForbidden, "forbidden", "download link: "+notFor.Message, notFor.Field)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	serveImage(c, fw, r)
}

// singleRange refuses a request for several byte ranges before any work: each range
// would be served from the database, so a list of many small or overlapping ones turns
// one request into many reads. A resuming device asks for one.
func singleRange(c *gin.Context) bool {
	ranges := c.Request.Header.Values("Range")
	if len(ranges) > 1 || len(ranges) == 1 && strings.Contains(ranges[0], ",") {
		writeError(c, http.StatusRequestedRangeNotSatisfiable, "multiple_ranges",
			"only one byte range per request is served", "Range")
		return false
	}
	return true
}

// serveImage streams with Range support (resumable downloads) and the sha256 as ETag.
func serveImage(c *gin.Context, fw model.Firmware, r io.ReadSeekCloser) {
	defer r.Close()
	c.Header("ETag", `"`+fw.SHA256+`"`)
	c.Header("X-Checksum-Sha256", fw.SHA256)
	c.Header("Content-Type", "application/octet-stream")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.bin"`, fw.HardwareModel, fw.Version))
	http.ServeContent(c.Writer, c.Request, "", fw.CreatedAt, r)
}

type createCampaignRequest struct {
	Name       string                 `json:"name"`
	FirmwareID string                 `json:"firmware_id"`
	DeviceIDs  []string               `json:"device_ids"`
	GroupID    string                 `json:"group_id"`
	Selector   string                 `json:"selector"`
	Continuous bool                   `json:"continuous"`
	Rollout    otaflow.CampaignPolicy `json:"rollout"`
}

func (s *Server) createCampaign(c *gin.Context) {
	var req createCampaignRequest
	if !s.bindJSON(c, &req) {
		return
	}
	camp, err := s.svc.CreateCampaign(c.Request.Context(), mustTenant(c), app.NewCampaign{Name: req.Name,
		FirmwareID: req.FirmwareID, DeviceIDs: req.DeviceIDs, GroupID: req.GroupID, Selector: req.Selector,
		Continuous: req.Continuous, Rollout: req.Rollout, CreatedByKey: mustCaller(c).Key.ID})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, camp)
}

func (s *Server) listCampaigns(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	cs, err := s.svc.ListCampaigns(c.Request.Context(), mustTenant(c), store.Page{After: c.Query("after"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	listPage(c, "campaigns", cs, limit, func(x model.Campaign) string { return x.ID })
}

func (s *Server) getCampaign(c *gin.Context) {
	camp, err := s.svc.GetCampaign(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, camp)
}

func (s *Server) executeCampaign(c *gin.Context) {
	caller := mustCaller(c)
	t := caller.Tenant
	res, err := s.svc.ExecuteCampaign(c.Request.Context(), t, c.Param("id"), caller.Key)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, struct {
		app.CampaignExecution
		webLink
	}{res, s.webLink(t, res.WorkflowID, res.RunID)})
}

type controlRequest struct {
	Reason string `json:"reason"`
}

// controlCampaign answers pause, resume, cancel and approve with the resulting state.
func (s *Server) controlCampaign(action otaflow.ControlAction) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req controlRequest
		if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) {
			return
		}
		caller := mustCaller(c)
		st, err := s.svc.ControlCampaign(c.Request.Context(), caller.Tenant, c.Param("id"),
			otaflow.CampaignControl{Action: action, Reason: req.Reason}, caller.Key.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	}
}

func (s *Server) dryRunCampaign(c *gin.Context) {
	res, err := s.svc.DryRunCampaign(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (s *Server) campaignStatus(c *gin.Context) {
	st, err := s.svc.CampaignStatus(c.Request.Context(), mustTenant(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (s *Server) campaignDevices(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	after := 0
	if raw := c.Query("after_seq"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			writeError(c, http.StatusBadRequest, "invalid_argument", "must be a non-negative integer", "after_seq")
			return
		}
		after = n
	}
	ds, err := s.svc.CampaignDevices(c.Request.Context(), mustTenant(c), c.Param("id"), after, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	next := 0
	if len(ds) == limit {
		next = ds[len(ds)-1].Seq
	}
	type linkedDevice struct {
		model.CampaignDevice
		webLink
	}
	out := make([]linkedDevice, len(ds))
	for i, d := range ds {
		out[i] = linkedDevice{d, s.webLink(mustTenant(c), d.WorkflowID, d.RunID)}
	}
	c.JSON(http.StatusOK, gin.H{"devices": out, "next_after_seq": next})
}
