package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/store"
)

// txKey carries the transaction of an audited call in its context.
type txKey struct{}

// Audited implements store.AuditStore. The transaction is not bound to the store's query
// timeout: an audited call may wait on Cadence between its statements.
func (s *Store) Audited(ctx context.Context, fn func(ctx context.Context) (store.AuditEntry, bool)) error {
	if _, nested := ctx.Value(txKey{}).(*gorm.DB); nested {
		return errors.New("audited call inside another audited call")
	}
	tx := s.db.WithContext(ctx).Begin(&sql.TxOptions{})
	if tx.Error != nil {
		return fmt.Errorf("audited: begin: %w", classify(tx.Error))
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	e, keep := fn(context.WithValue(ctx, txKey{}, tx))
	if !keep {
		tx.Rollback()
		committed = true // nothing left to undo
		return s.AppendAudit(ctx, e)
	}
	if err := insertAudit(tx.WithContext(ctx), e); err != nil {
		return s.auditedFailure(ctx, e, err)
	}
	if err := tx.Commit().Error; err != nil {
		return s.auditedFailure(ctx, e, err)
	}
	committed = true
	return nil
}

// auditedFailure records that a call's changes were lost at the end and returns why.
func (s *Store) auditedFailure(ctx context.Context, e store.AuditEntry, cause error) error {
	e.Result, e.Status = store.AuditFailed, 0
	if err := s.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("audited: %w (and its failure was not recorded: %v)", classify(cause), err)
	}
	return fmt.Errorf("audited: %w", classify(cause))
}

// AppendAudit implements store.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := insertAudit(s.conn(ctx), e); err != nil {
		return fmt.Errorf("append audit: %w", classify(err))
	}
	return nil
}

func insertAudit(db *gorm.DB, e store.AuditEntry) error {
	summary := []byte(e.Summary)
	if len(summary) == 0 {
		summary = []byte("{}")
	}
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	return db.Exec(`INSERT INTO audit_log (tenant_id, at, actor_key_id, actor_name, workflow_id, run_id, action,
		route, target_ids, summary, result, status) VALUES (?, ?, ?::uuid, ?, ?, ?, ?, ?, ?::text[], ?::jsonb, ?, ?)`,
		e.TenantID, at, nullable(e.ActorKeyID), e.ActorName, e.WorkflowID, e.RunID, e.Action, e.Route,
		textArray(nonNil(e.TargetIDs)), string(summary), e.Result, e.Status).Error
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type auditRow struct {
	ID         int64
	At         time.Time
	ActorKeyID *string
	ActorName  string
	WorkflowID string
	RunID      string
	Action     string
	Route      string
	TargetIDs  []byte // JSON array
	Summary    []byte
	Result     string
	Status     int
}

// ListAudit implements store.AuditStore: newest first, keyset-paged on id.
func (s *Store) ListAudit(ctx context.Context, tenantID string, f store.AuditFilter) ([]store.AuditEntry, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	q := s.conn(ctx).Table("audit_log").Select(`id, at, actor_key_id::text, actor_name, workflow_id, run_id, action,
		route, to_jsonb(target_ids) AS target_ids, summary, result, status`).Where("tenant_id = ?", tenantID)
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To)
	}
	if f.ActorKeyID != "" {
		q = q.Where("actor_key_id = ?::uuid", f.ActorKeyID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Target != "" {
		q = q.Where("target_ids @> ?::text[]", textArray([]string{f.Target}))
	}
	if f.BeforeID > 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	var rows []auditRow
	if err := q.Order("id DESC").Limit(f.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list audit: %w", classify(err))
	}
	out := make([]store.AuditEntry, len(rows))
	for i, r := range rows {
		var targets []string
		if err := json.Unmarshal(r.TargetIDs, &targets); err != nil {
			return nil, fmt.Errorf("list audit: row %d targets: %w", r.ID, err)
		}
		out[i] = store.AuditEntry{ID: r.ID, TenantID: tenantID, At: r.At, ActorKeyID: deref(r.ActorKeyID),
			ActorName: r.ActorName, WorkflowID: r.WorkflowID, RunID: r.RunID, Action: r.Action, Route: r.Route,
			TargetIDs: nonNil(targets), Summary: json.RawMessage(r.Summary), Result: r.Result, Status: r.Status}
	}
	return out, nil
}
