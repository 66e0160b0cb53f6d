// Package cadenceweb builds links into Cadence Web, the Cadence UI, for the workflows the
// API names: a run's page, or a domain's workflow list.
package cadenceweb

import (
	"net/url"
	"strings"
)

// Links builds addresses under one Cadence Web base URL; with no base it builds none.
type Links struct {
	base string
}

// New returns Links under base (e.g. http://127.0.0.1:8088); an empty base disables them.
func New(base string) Links { return Links{base: strings.TrimRight(base, "/")} }

// Enabled reports whether links are built.
func (l Links) Enabled() bool { return l.base != "" }

// Domain is the workflow list of a domain, or "" when disabled.
func (l Links) Domain(domain string) string {
	if !l.Enabled() || domain == "" {
		return ""
	}
	return l.base + "/domains/" + url.PathEscape(domain) + "/workflows"
}

// Run is a workflow run's summary page. Without a run id it is the domain's list
// filtered to that workflow id, which shows its latest run first. "" when disabled or
// when domain or workflow id is missing.
func (l Links) Run(domain, workflowID, runID string) string {
	list := l.Domain(domain)
	if list == "" || workflowID == "" {
		return ""
	}
	if runID == "" {
		return list + "?" + url.Values{"workflowId": {workflowID}, "range": {"last-30-days"}}.Encode()
	}
	return list + "/" + url.PathEscape(workflowID) + "/" + url.PathEscape(runID) + "/summary"
}
