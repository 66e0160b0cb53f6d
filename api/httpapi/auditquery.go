package httpapi

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

var auditParams = map[string]bool{"from": true, "to": true, "actor": true, "target": true, "action": true,
	"before": true, "limit": true}

// parseAuditFilter reads GET /audit's query: from and to (RFC 3339), actor (a key id),
// target, action, before (the next_before of the previous page) and limit.
func parseAuditFilter(q url.Values) (store.AuditFilter, *model.FieldError) {
	f := store.AuditFilter{Limit: defaultPageLimit}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // the same bad query names the same parameter every time
	for _, name := range names {
		if name == "" {
			return f, &model.FieldError{Field: "query", Message: "a query parameter has no name"}
		}
		if !auditParams[name] {
			return f, &model.FieldError{Field: name, Message: "unknown query parameter"}
		}
		if len(q[name]) != 1 {
			return f, &model.FieldError{Field: name, Message: "must be given once"}
		}
	}
	var err error
	if f.From, err = queryTime(q, "from"); err != nil {
		return f, &model.FieldError{Field: "from", Message: err.Error()}
	}
	if f.To, err = queryTime(q, "to"); err != nil {
		return f, &model.FieldError{Field: "to", Message: err.Error()}
	}
	f.ActorKeyID, f.Target, f.Action = q.Get("actor"), q.Get("target"), q.Get("action")
	if raw := q.Get("before"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return f, &model.FieldError{Field: "before", Message: "must be a positive integer (next_before of the previous page)"}
		}
		f.BeforeID = n
	}
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageLimit {
			return f, &model.FieldError{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", maxPageLimit)}
		}
		f.Limit = n
	}
	return f, nil
}

func queryTime(q url.Values, name string) (time.Time, error) {
	raw := q.Get(name)
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}
