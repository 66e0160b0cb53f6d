package store

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry is one row of a tenant's audit log: who (a key, or a workflow run), did
// what, to which targets, with what result.
type AuditEntry struct {
	ID         int64           `json:"id"`
	TenantID   string          `json:"-"`
	At         time.Time       `json:"at"`
	ActorKeyID string          `json:"actor_key_id,omitempty"`
	ActorName  string          `json:"actor_name"`
	WorkflowID string          `json:"workflow_id,omitempty"`
	RunID      string          `json:"run_id,omitempty"`
	Action     string          `json:"action"`
	Route      string          `json:"route,omitempty"`
	TargetIDs  []string        `json:"target_ids"`
	Summary    json.RawMessage `json:"summary"`
	Result     string          `json:"result"`
	Status     int             `json:"status,omitempty"`
}

// Audit results.
const (
	AuditSucceeded = "succeeded"
	AuditRefused   = "refused"
	AuditFailed    = "failed"
)

// AuditFilter selects audit rows, newest first; zero fields do not filter.
type AuditFilter struct {
	From, To   time.Time
	ActorKeyID string
	Target     string
	Action     string
	// BeforeID pages: only rows older than this id.
	BeforeID int64
	Limit    int
}

// AuditStore keeps the append-only audit log.
type AuditStore interface {
	// Audited runs fn in one transaction that every store call made with fn's context
	// joins, and appends the entry fn returns to it, so the changes and their audit row
	// commit together or not at all. When fn says not to keep its changes, they are
	// rolled back and the entry is appended alone. An error means the changes were not
	// kept (the failure is then recorded on its own when possible).
	Audited(ctx context.Context, fn func(ctx context.Context) (e AuditEntry, keep bool)) error
	// AppendAudit appends one entry in its own transaction (or in the one ctx carries).
	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, tenantID string, f AuditFilter) ([]AuditEntry, error)
}
