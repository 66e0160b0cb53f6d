package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/pkg/model"
)

// webLink is embedded in answers that name a workflow: its run's page in Cadence Web,
// when cadence.web_url is configured.
type webLink struct {
	CadenceWebURL string `json:"cadence_web_url,omitempty"`
}

func (s *Server) webLink(t model.Tenant, workflowID, runID string) webLink {
	return webLink{CadenceWebURL: s.web.Run(t.CadenceDomain, workflowID, runID)}
}

// linkRun adds cadence_web_url to an error or progress answer that names a run of the
// request's tenant.
func (s *Server) linkRun(c *gin.Context, body gin.H, workflowID, runID string) gin.H {
	if link := s.webLink(mustTenant(c), workflowID, runID).CadenceWebURL; link != "" {
		body["cadence_web_url"] = link
	}
	return body
}
