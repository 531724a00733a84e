package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const auditColumns = `id, time, actor, action, target, outcome, remote, detail_json, ledger_index`

// AppendAudit stores e and sets its ID; its LedgerIndex is -1 until
// SetAuditLedgerIndex records the ledger entry of its digest. IDs
// increase with each event.
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
	err = s.pool.QueryRow(ctx, `INSERT INTO audit_events (time, actor, action, target, outcome, remote, detail_json, ledger_index)
		VALUES ($1, $2, $3, $4, $5, $6, $7, -1) RETURNING id`,
		e.Time.UnixNano(), e.Actor, e.Action, e.Target, e.Outcome, e.Remote, detail).Scan(&id)
	if err != nil {
		return mapError(err, fmt.Sprintf("append audit event %s", e.Action))
	}
	e.ID, e.LedgerIndex = id, -1
	return nil
}

// SetAuditLedgerIndex records the ledger entry of event id. An index is
// set once: setting the same one again changes nothing (a retry), another
// one is an EConflict error. An unknown event is ErrNotFound.
func (s *Store) SetAuditLedgerIndex(ctx context.Context, id, index int64) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLedgerIndex("audit event's ledger", index); err != nil {
		return err
	}
	op := fmt.Sprintf("set ledger index of audit event %d", id)
	tag, err := s.pool.Exec(ctx, `UPDATE audit_events SET ledger_index = $2 WHERE id = $1 AND ledger_index IN (-1, $2)`, id, index)
	if err != nil {
		return mapError(err, op)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var one int
	err = s.pool.QueryRow(ctx, `SELECT 1 FROM audit_events WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return gantry.Errorf(gantry.ENotFound, "audit event %d not found", id)
	case err != nil:
		return mapError(err, op)
	}
	return gantry.Errorf(gantry.EConflict, "audit event %d is in the ledger at another index", id)
}

// AuditEvents lists events newest first (in the order they were
// appended, backwards), of an actor and an action when the filter says,
// at most f.Limit of them when it is above 0.
func (s *Store) AuditEvents(ctx context.Context, f gantry.AuditFilter) ([]*gantry.AuditEvent, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckAuditFilter(f); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if f.Actor != "" {
		args = append(args, f.Actor)
		where = append(where, "actor = $"+strconv.Itoa(len(args)))
	}
	if f.Action != "" {
		args = append(args, f.Action)
		where = append(where, "action = $"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	es, err := getAll(ctx, s.pool, scanAudit, q, args...)
	return es, mapError(err, "list audit events")
}

func scanAudit(row pgx.CollectableRow) (*gantry.AuditEvent, error) {
	var (
		e      gantry.AuditEvent
		t      int64
		detail *string
	)
	if err := row.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Remote, &detail, &e.LedgerIndex); err != nil {
		return nil, err
	}
	if err := unmarshalNull(detail, &e.Detail); err != nil {
		return nil, fmt.Errorf("audit event %d: detail: %w", e.ID, err)
	}
	e.Time = timeOf(&t)
	return &e, nil
}

const secretColumns = `project, env, name, ciphertext, key_id, updated_at, updated_by`

// PutSecret creates or replaces a secret of a stored project; an unknown
// project is ErrNotFound.
func (s *Store) PutSecret(ctx context.Context, sec *gantry.SecretRecord) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckSecret(sec); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO secrets (`+secretColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (project, env, name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id,
		updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		sec.Project, sec.Env, sec.Name, sec.Ciphertext, sec.KeyID, sec.UpdatedAt.UnixNano(), sec.UpdatedBy)
	return mapError(err, fmt.Sprintf("put secret %s", sec.Name),
		reason{gantry.ENotFound, fmt.Sprintf("project %s not found", sec.Project)})
}

// Secret returns a secret of a project and environment ("" for every
// environment).
func (s *Store) Secret(ctx context.Context, project, env, name string) (*gantry.SecretRecord, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	sec, err := getOne(ctx, s.pool, scanSecret, `SELECT `+secretColumns+` FROM secrets
		WHERE project = $1 AND env = $2 AND name = $3`, project, env, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "secret %s of %s not found", name, secretScope(project, env))
	}
	return sec, mapError(err, fmt.Sprintf("get secret %s of %s", name, secretScope(project, env)))
}

// Secrets lists a project's secrets, of all environments, by env and
// name.
func (s *Store) Secrets(ctx context.Context, project string) ([]*gantry.SecretRecord, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	ss, err := getAll(ctx, s.pool, scanSecret, `SELECT `+secretColumns+` FROM secrets WHERE project = $1
		ORDER BY env, name`, project)
	return ss, mapError(err, fmt.Sprintf("list secrets of project %s", project))
}

// DeleteSecret deletes a secret; an unknown one is ErrNotFound.
func (s *Store) DeleteSecret(ctx context.Context, project, env, name string) error {
	if err := s.check(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM secrets WHERE project = $1 AND env = $2 AND name = $3`, project, env, name)
	if err != nil {
		return mapError(err, fmt.Sprintf("delete secret %s of %s", name, secretScope(project, env)))
	}
	if tag.RowsAffected() == 0 {
		return gantry.Errorf(gantry.ENotFound, "delete secret %s of %s: secret not found", name, secretScope(project, env))
	}
	return nil
}

// secretScope names where a secret is, for messages.
func secretScope(project, env string) string {
	if env == "" {
		return "project " + project
	}
	return "project " + project + ", environment " + env
}

func scanSecret(row pgx.CollectableRow) (*gantry.SecretRecord, error) {
	var (
		sec     gantry.SecretRecord
		updated int64
	)
	if err := row.Scan(&sec.Project, &sec.Env, &sec.Name, &sec.Ciphertext, &sec.KeyID, &updated, &sec.UpdatedBy); err != nil {
		return nil, err
	}
	sec.UpdatedAt = timeOf(&updated)
	return &sec, nil
}
