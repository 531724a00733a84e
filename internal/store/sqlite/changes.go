package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

var _ gantry.ChangeStore = (*Store)(nil)

// The change statements. A replaced change keeps its opened_at, which
// reads give back as Opened whatever the document says.
const (
	putChangeSQL = `INSERT INTO changes (project, id, opened_at, updated_at, doc) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (project, id) DO UPDATE SET updated_at = excluded.updated_at, doc = excluded.doc`
	getChangeSQL     = `SELECT ` + changeColumns + ` FROM changes WHERE project = ? AND id = ?`
	putApprovalSQL   = `INSERT INTO approvals (project, change_id, environment, kind, approver, at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)`
	listApprovalsSQL = `SELECT at, doc FROM approvals WHERE project = ? AND change_id = ? ORDER BY at, id`
	changeColumns    = `opened_at, updated_at, doc`
)

// PutChange creates a change or replaces the one with its project and ID,
// which keeps its Opened.
func (s *Store) PutChange(ctx context.Context, c *gantry.Change) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckChange(c); err != nil {
		return err
	}
	name := gantry.ChangeName(c.Project, c.ID)
	doc, err := json.Marshal(store.CanonicalChange(c))
	if err != nil {
		return fmt.Errorf("put change %s: %w", name, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.putChange.ExecContext(ctx, c.Project, c.ID, c.Opened.UnixNano(), c.UpdatedAt.UnixNano(), string(doc))
		return err
	})
	if err != nil {
		return wrap(err, "put change %s", name)
	}
	return nil
}

// Change returns the change of project with the ID id.
func (s *Store) Change(ctx context.Context, project, id string) (*gantry.Change, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	c, err := scanChange(s.server.change.QueryRowContext(ctx, project, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "change %s not found", gantry.ChangeName(project, id))
	}
	if err != nil {
		return nil, fmt.Errorf("get change %s: %w", gantry.ChangeName(project, id), err)
	}
	return c, nil
}

// Changes lists the changes f selects, newest opened first, then by ID
// descending.
func (s *Store) Changes(ctx context.Context, f gantry.ChangeFilter) ([]*gantry.Change, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckChangeFilter(f); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if f.Project != "" {
		where, args = append(where, "project = ?"), append(args, f.Project)
	}
	if !f.From.IsZero() {
		where, args = append(where, "opened_at >= ?"), append(args, f.From.UnixNano())
	}
	if !f.To.IsZero() {
		where, args = append(where, "opened_at < ?"), append(args, f.To.UnixNano())
	}
	q := `SELECT ` + changeColumns + ` FROM changes`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY opened_at DESC, id DESC, project DESC`
	if f.Limit > 0 {
		q, args = q+` LIMIT ?`, append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	cs, err := scanRows(rows, err, scanChange)
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	return cs, nil
}

func scanChange(sc scanner) (*gantry.Change, error) {
	var (
		opened, updated int64
		doc             string
		c               gantry.Change
	)
	if err := sc.Scan(&opened, &updated, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return nil, fmt.Errorf("change document: %w", err)
	}
	c.Opened, c.UpdatedAt = timeAt(opened), timeAt(updated)
	return &c, nil
}

// PutApproval records an approval of a stored change: of an unknown
// change it is ErrNotFound, a second one by the same approver, of the
// same kind and environment, EConflict.
func (s *Store) PutApproval(ctx context.Context, a *gantry.Approval) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckApproval(a); err != nil {
		return err
	}
	name := gantry.ChangeName(a.Project, a.Change)
	doc, err := json.Marshal(store.CanonicalApproval(a))
	if err != nil {
		return fmt.Errorf("put approval of change %s: %w", name, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.putApproval.ExecContext(ctx, a.Project, a.Change, a.Environment, a.Kind, a.Approver,
			a.At.UnixNano(), string(doc))
		return err
	})
	switch {
	case isForeignKey(err):
		return gantry.Errorf(gantry.ENotFound, "put approval: change %s not found", name)
	case isUnique(err):
		return gantry.Errorf(gantry.EConflict, "put approval of change %s: %s gave the %s for %s already",
			name, a.Approver, a.Kind, a.Environment)
	case err != nil:
		return wrap(err, "put approval of change %s", name)
	}
	return nil
}

// Approvals lists the approvals of a change, oldest first, then in the
// order they were put; an unknown change has none.
func (s *Store) Approvals(ctx context.Context, project, change string) ([]*gantry.Approval, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.server.approvals.QueryContext(ctx, project, change)
	as, err := scanRows(rows, err, scanApproval)
	if err != nil {
		return nil, fmt.Errorf("list approvals of change %s: %w", gantry.ChangeName(project, change), err)
	}
	return as, nil
}

func scanApproval(sc scanner) (*gantry.Approval, error) {
	var (
		at  int64
		doc string
		a   gantry.Approval
	)
	if err := sc.Scan(&at, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return nil, fmt.Errorf("approval document: %w", err)
	}
	a.At = timeAt(at)
	return &a, nil
}
