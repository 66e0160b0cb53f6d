package httpapi

import "github.com/otaplane/ota/pkg/model"

// webLink is embedded in answers that name a workflow: its run's page in Cadence Web,
// when cadence.web_url is configured.
type webLink struct {
	CadenceWebURL string `json:"cadence_web_url,omitempty"`
}

func (s *Server) webLink(t model.Tenant, workflowID, runID string) webLink {
	return webLink{CadenceWebURL: s.web.Run(t.CadenceDomain, workflowID, runID)}
}
