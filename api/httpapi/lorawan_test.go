package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/otaflow"
)

// loraService answers every create with out and err.
type loraService struct {
	app.LoRaWANService
	out app.LoRaWANOutcome
	err error
}

func (f loraService) CreateDevice(context.Context, model.Tenant, app.NewLoRaWANDevice) (app.LoRaWANOutcome, error) {
	return f.out, f.err
}

func TestLoRaWANAnswers(t *testing.T) {
	cfg, err := config.Load("")
	require.NoError(t, err)
	ref := app.WorkflowRef{WorkflowID: "lorawan-device:d1", RunID: "r1"}
	for _, tt := range []struct {
		name   string
		svc    loraService
		status int
		code   string
		field  string
	}{
		{"created", loraService{out: app.LoRaWANOutcome{Done: true, Device: &model.LoRaWANDeviceRecord{}}}, http.StatusCreated, "", ""},
		{"still running", loraService{out: app.LoRaWANOutcome{Workflow: ref}}, http.StatusAccepted, "", ""},
		{"rejected", loraService{err: &app.LoRaWANError{Reason: otaflow.LoRaWANFailRejected, Field: "device_profile_id",
			Message: "ChirpStack rejected", Workflow: ref}}, http.StatusUnprocessableEntity, "chirpstack_rejected", "device_profile_id"},
		{"unreachable", loraService{err: &app.LoRaWANError{Reason: otaflow.LoRaWANFailUnavailable, Message: "down", Workflow: ref}},
			http.StatusServiceUnavailable, "chirpstack_unavailable", ""},
		{"not configured", loraService{err: &app.LoRaWANError{Reason: otaflow.LoRaWANFailNotConfigured, Field: "settings"}},
			http.StatusConflict, "not_configured", "settings"},
		{"busy", loraService{err: &app.LoRaWANError{Reason: app.ReasonOperationInProgress, Workflow: ref}},
			http.StatusConflict, "operation_in_progress", ""},
		{"bad input", loraService{err: model.Fieldf("dev_eui", "bad")}, http.StatusBadRequest, "invalid_argument", "dev_eui"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{lorawan: tt.svc, cfg: cfg, log: zap.NewNop()}
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			r.Use(func(c *gin.Context) { c.Set(callerKey, app.Caller{Tenant: model.Tenant{ID: "t1"}}) })
			s.registerLoRaWANRoutes(r)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/lorawan/devices", strings.NewReader(`{}`)))
			require.Equal(t, tt.status, w.Code, w.Body.String())
			var body struct {
				Error      errorBody `json:"error"`
				WorkflowID string    `json:"workflow_id"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			assert.Equal(t, tt.code, body.Error.Code)
			assert.Equal(t, tt.field, body.Error.Field)
			if tt.svc.err != nil || !tt.svc.out.Done {
				if le, ok := tt.svc.err.(*app.LoRaWANError); tt.svc.err == nil || (ok && le.Workflow.WorkflowID != "") {
					assert.Equal(t, ref.WorkflowID, body.WorkflowID, "the run to follow or inspect")
				}
			}
			if tt.status == http.StatusServiceUnavailable {
				assert.Equal(t, "5", w.Header().Get("Retry-After"))
			}
		})
	}
}
