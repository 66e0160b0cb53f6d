package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/app"
	"github.com/otaplane/ota/pkg/auditlog"
	"github.com/otaplane/ota/pkg/store"
)

const auditTargetsKey = "ota.audit.targets"

// audited runs the rest of a state-changing request inside one database transaction
// that also appends its audit row: the request's changes and the row commit together,
// or neither does. The response is held back until the commit, so a client is never
// told of a change that was then lost. A refused or failed request changed nothing and
// is recorded on its own.
func (s *Server) audited(c *gin.Context, caller app.Caller, rule routeRule) {
	body := peekJSONBody(c, s.cfg.HTTP.MaxBodySize)
	held := &heldResponse{ResponseWriter: c.Writer}
	c.Writer = held
	defer func() { c.Writer = held.ResponseWriter }() // a panic is answered directly
	outer := c.Request
	err := s.access.Audited(outer.Context(), func(ctx context.Context) (store.AuditEntry, bool) {
		c.Request = outer.WithContext(ctx)
		c.Next()
		inner := c.Request
		c.Request = outer
		e := actorEntry(caller, rule, c)
		e.TargetIDs = auditTargets(c, held)
		e.Summary = requestSummary(inner, body)
		e.Status = held.Status()
		e.Result = auditResult(e.Status)
		return e, e.Status < http.StatusBadRequest
	})
	c.Writer = held.ResponseWriter
	if err != nil && held.Status() < http.StatusBadRequest {
		s.log.Warn("audited request not kept", zap.String("route", rule.action), zap.Error(err))
		s.fail(c, err)
		return
	}
	if err != nil {
		// A refused call changed nothing: its answer stands even when its row could not
		// be written.
		s.log.Warn("refused request not recorded in the audit log", zap.String("route", rule.action), zap.Error(err))
	}
	held.release()
}

// recordRefusal writes the audit row of a call refused before it ran.
func (s *Server) recordRefusal(c *gin.Context, caller app.Caller, rule routeRule, status int) {
	body := peekJSONBody(c, s.cfg.HTTP.MaxBodySize)
	e := actorEntry(caller, rule, c)
	e.TargetIDs = auditTargets(c, nil)
	e.Summary = requestSummary(c.Request, body)
	e.Status, e.Result = status, auditResult(status)
	if err := s.access.RecordAudit(c.Request.Context(), e); err != nil {
		s.log.Warn("refused request not recorded in the audit log", zap.String("route", rule.action), zap.Error(err))
	}
}

func auditResult(status int) string {
	switch {
	case status >= http.StatusInternalServerError:
		return store.AuditFailed
	case status >= http.StatusBadRequest:
		return store.AuditRefused
	}
	return store.AuditSucceeded
}

// addAuditTargets names what a request acted on beyond its path's ids.
func addAuditTargets(c *gin.Context, ids ...string) {
	prev, _ := c.Get(auditTargetsKey)
	have, _ := prev.([]string)
	c.Set(auditTargetsKey, append(have, ids...))
}

// auditTargets are the path's ids, those the handler added, and the id of what a
// successful call answered with (a created device, campaign, key…).
func auditTargets(c *gin.Context, held *heldResponse) []string {
	var ids []string
	for _, p := range c.Params {
		ids = append(ids, p.Value)
	}
	if v, ok := c.Get(auditTargetsKey); ok {
		extra, _ := v.([]string)
		ids = append(ids, extra...)
	}
	if held != nil && held.Status() < http.StatusMultipleChoices {
		var created struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(held.body.Bytes(), &created) == nil && created.ID != "" {
			ids = append(ids, created.ID)
		}
	}
	out := ids[:0]
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] && id != "" {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// peekJSONBody reads a JSON body (up to limit bytes) for the audit summary and puts it
// back for the handler; other bodies are summarized from their parsed form.
func peekJSONBody(c *gin.Context, limit int64) []byte {
	if c.Request.Body == nil || !strings.HasPrefix(c.ContentType(), "application/json") {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(c.Request.Body, limit))
	c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), c.Request.Body))
	if err != nil {
		return nil
	}
	return b
}

func requestSummary(r *http.Request, body []byte) json.RawMessage {
	if r.MultipartForm != nil {
		sizes := map[string]int64{}
		for name, fhs := range r.MultipartForm.File {
			for _, fh := range fhs {
				sizes[name] += fh.Size
			}
		}
		return auditlog.SummarizeForm(r.MultipartForm.Value, sizes)
	}
	return auditlog.Summarize(body, r.URL.Query())
}

// heldResponse keeps a response in memory until the transaction behind it commits. It
// follows gin's writer: the status may change until the header is written.
type heldResponse struct {
	gin.ResponseWriter
	status  int
	written bool
	body    bytes.Buffer
}

func (w *heldResponse) WriteHeader(code int) {
	if code > 0 && !w.written {
		w.status = code
	}
}

func (w *heldResponse) WriteHeaderNow() { w.written = true }

func (w *heldResponse) Write(b []byte) (int, error) {
	w.written = true
	return w.body.Write(b)
}

func (w *heldResponse) WriteString(s string) (int, error) {
	w.written = true
	return w.body.WriteString(s)
}

func (w *heldResponse) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func (w *heldResponse) Size() int {
	if !w.written {
		return -1
	}
	return w.body.Len()
}

func (w *heldResponse) Written() bool { return w.written }

// Flush holds too: nothing leaves before the commit.
func (w *heldResponse) Flush() {}

func (w *heldResponse) release() {
	w.ResponseWriter.WriteHeader(w.Status())
	w.ResponseWriter.WriteHeaderNow()
	_, _ = w.ResponseWriter.Write(w.body.Bytes())
}
