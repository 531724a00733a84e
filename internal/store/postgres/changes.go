package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

var _ gantry.ChangeStore = (*Store)(nil)

const changeColumns = `opened_at, updated_at, doc`

// PutChange creates a change or replaces the one with its project and ID,
// which keeps its Opened: reads give back opened_at, whatever the
// document says.
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
	_, err = s.pool.Exec(ctx, `INSERT INTO changes (project, id, opened_at, updated_at, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (project, id) DO UPDATE SET updated_at = excluded.updated_at, doc = excluded.doc`,
		c.Project, c.ID, c.Opened.UnixNano(), c.UpdatedAt.UnixNano(), string(doc))
	return mapError(err, "put change "+name)
}

// Change returns the change of project with the ID id.
func (s *Store) Change(ctx context.Context, project, id string) (*gantry.Change, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	c, err := getOne(ctx, s.pool, scanChange, `SELECT `+changeColumns+` FROM changes WHERE project = $1 AND id = $2`, project, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "change %s not found", gantry.ChangeName(project, id))
	}
	return c, mapError(err, "get change "+gantry.ChangeName(project, id))
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
		args = append(args, f.Project)
		where = append(where, "project = $"+strconv.Itoa(len(args)))
	}
	if !f.From.IsZero() {
		args = append(args, f.From.UnixNano())
		where = append(where, "opened_at >= $"+strconv.Itoa(len(args)))
	}
	if !f.To.IsZero() {
		args = append(args, f.To.UnixNano())
		where = append(where, "opened_at < $"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + changeColumns + ` FROM changes`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY opened_at DESC, id DESC, project DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	cs, err := getAll(ctx, s.pool, scanChange, q, args...)
	return cs, mapError(err, "list changes")
}

func scanChange(row pgx.CollectableRow) (*gantry.Change, error) {
	var (
		opened, updated int64
		doc             string
		c               gantry.Change
	)
	if err := row.Scan(&opened, &updated, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return nil, fmt.Errorf("change document: %w", err)
	}
	c.Opened, c.UpdatedAt = timeOf(&opened), timeOf(&updated)
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
	_, err = s.pool.Exec(ctx, `INSERT INTO approvals (project, change_id, environment, kind, approver, at, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.Project, a.Change, a.Environment, a.Kind, a.Approver, a.At.UnixNano(), string(doc))
	return mapError(err, "put approval of change "+name,
		reason{gantry.ENotFound, "change not found"},
		reason{gantry.EConflict, fmt.Sprintf("%s gave the %s for %s already", a.Approver, a.Kind, a.Environment)})
}

// Approvals lists the approvals of a change, oldest first, then in the
// order they were put; an unknown change has none.
func (s *Store) Approvals(ctx context.Context, project, change string) ([]*gantry.Approval, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	as, err := getAll(ctx, s.pool, scanApproval, `SELECT at, doc FROM approvals
		WHERE project = $1 AND change_id = $2 ORDER BY at, id`, project, change)
	return as, mapError(err, "list approvals of change "+gantry.ChangeName(project, change))
}

func scanApproval(row pgx.CollectableRow) (*gantry.Approval, error) {
	var (
		at  int64
		doc string
		a   gantry.Approval
	)
	if err := row.Scan(&at, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return nil, fmt.Errorf("approval document: %w", err)
	}
	a.At = timeOf(&at)
	return &a, nil
}
