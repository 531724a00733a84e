package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const auditColumns = `id, time, actor, action, target, outcome, remote, detail_json, ledger_index`

// The audit statements. A ledger index is set once: setting the same one
// again changes nothing and is no error (a retry), another one is a
// conflict.
const (
	appendAuditSQL = `INSERT INTO audit_events (time, actor, action, target, outcome, remote, detail_json, ledger_index)
		VALUES (?, ?, ?, ?, ?, ?, ?, -1)`
	setLedgerIndexSQL = `UPDATE audit_events SET ledger_index = ?2 WHERE id = ?1 AND ledger_index IN (-1, ?2)`
	auditExistsSQL    = `SELECT 1 FROM audit_events WHERE id = ?`
)

// AppendAudit stores an event, not yet in the ledger, and sets its ID and
// its LedgerIndex, -1. IDs increase with each event.
func (s *Store) AppendAudit(ctx context.Context, e *gantry.AuditEvent) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckAuditEvent(e); err != nil {
		return err
	}
	detail, err := jsonMapArg(e.Detail)
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.Action, err)
	}
	var id int64
	err = s.exclusive(ctx, func(ctx context.Context) error {
		res, err := s.server.appendAudit.ExecContext(ctx, e.Time.UnixNano(), e.Actor, e.Action, e.Target, e.Outcome,
			e.Remote, detail)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return wrap(err, "append audit event %s", e.Action)
	}
	e.ID, e.LedgerIndex = id, -1
	return nil
}

// SetAuditLedgerIndex records the ledger entry of event id. An unknown
// event is ErrNotFound; one whose index is set to another already, an
// EConflict error.
func (s *Store) SetAuditLedgerIndex(ctx context.Context, id, index int64) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLedgerIndex("audit event's ledger", index); err != nil {
		return err
	}
	n, err := s.execCount(ctx, s.server.setLedgerIndex, id, index)
	if err != nil {
		return wrap(err, "set ledger index of audit event %d", id)
	}
	if n > 0 {
		return nil
	}
	ok, err := rowExists(ctx, s.server.auditExists, id)
	switch {
	case err != nil:
		return fmt.Errorf("set ledger index of audit event %d: %w", id, err)
	case !ok:
		return gantry.Errorf(gantry.ENotFound, "audit event %d not found", id)
	}
	return gantry.Errorf(gantry.EConflict, "audit event %d is in the ledger at another index", id)
}

// AuditEvents lists events newest first (by ID, descending), of an actor
// and an action when the filter says, at most f.Limit of them when it is
// above 0.
func (s *Store) AuditEvents(ctx context.Context, f gantry.AuditFilter) ([]*gantry.AuditEvent, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckAuditFilter(f); err != nil {
		return nil, err
	}
	q, args := auditQuery(f)
	rows, err := s.r.QueryContext(ctx, q, args...)
	es, err := scanRows(rows, err, scanAuditEvent)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return es, nil
}

func auditQuery(f gantry.AuditFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}

func scanAuditEvent(sc scanner) (*gantry.AuditEvent, error) {
	var (
		e      gantry.AuditEvent
		t      int64
		detail sql.NullString
	)
	if err := sc.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Remote, &detail, &e.LedgerIndex); err != nil {
		return nil, err
	}
	if err := unmarshalNull(detail, &e.Detail); err != nil {
		return nil, fmt.Errorf("audit event %d: detail: %w", e.ID, err)
	}
	e.Time = timeAt(t)
	return &e, nil
}
