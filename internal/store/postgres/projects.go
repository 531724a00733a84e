package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const projectColumns = `name, repo_url, default_branch, pipeline_path, protected, changes, created_at`

// PutProject creates a project or replaces the one of that name, which
// keeps its CreatedAt.
func (s *Store) PutProject(ctx context.Context, p *gantry.Project) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckProject(p); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO projects (`+projectColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (name) DO UPDATE SET repo_url = excluded.repo_url, default_branch = excluded.default_branch,
		pipeline_path = excluded.pipeline_path, protected = excluded.protected, changes = excluded.changes`,
		p.Name, p.RepoURL, p.DefaultBranch, p.PipelinePath, textArray(p.ProtectedBranches), p.Changes, p.CreatedAt.UnixNano())
	return mapError(err, fmt.Sprintf("put project %s", p.Name))
}

// Project returns the project named name.
func (s *Store) Project(ctx context.Context, name string) (*gantry.Project, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	p, err := getOne(ctx, s.pool, scanProject, `SELECT `+projectColumns+` FROM projects WHERE name = $1`, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "project %s not found", name)
	}
	return p, mapError(err, fmt.Sprintf("get project %s", name))
}

// Projects lists every project by name.
func (s *Store) Projects(ctx context.Context) ([]*gantry.Project, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	ps, err := getAll(ctx, s.pool, scanProject, `SELECT `+projectColumns+` FROM projects ORDER BY name`)
	return ps, mapError(err, "list projects")
}

func scanProject(row pgx.CollectableRow) (*gantry.Project, error) {
	var (
		p       gantry.Project
		created int64
	)
	if err := row.Scan(&p.Name, &p.RepoURL, &p.DefaultBranch, &p.PipelinePath, &p.ProtectedBranches, &p.Changes, &created); err != nil {
		return nil, err
	}
	p.ProtectedBranches = nilIfEmpty(p.ProtectedBranches)
	p.CreatedAt = timeOf(&created)
	return &p, nil
}

const agentColumns = `name, labels, concurrency, public_key, last_seen, created_at`

// PutAgent enrols an agent or replaces the one of that name, which keeps
// its CreatedAt.
func (s *Store) PutAgent(ctx context.Context, a *gantry.Agent) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckAgent(a); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO agents (`+agentColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO UPDATE SET labels = excluded.labels, concurrency = excluded.concurrency,
		public_key = excluded.public_key, last_seen = excluded.last_seen`,
		a.Name, textArray(a.Labels), a.Concurrency, nilIfEmpty(a.PublicKey), timeArg(a.LastSeen), a.CreatedAt.UnixNano())
	return mapError(err, fmt.Sprintf("put agent %s", a.Name))
}

// Agent returns the agent named name.
func (s *Store) Agent(ctx context.Context, name string) (*gantry.Agent, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	a, err := getOne(ctx, s.pool, scanAgent, `SELECT `+agentColumns+` FROM agents WHERE name = $1`, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "agent %s not found", name)
	}
	return a, mapError(err, fmt.Sprintf("get agent %s", name))
}

// Agents lists every agent by name.
func (s *Store) Agents(ctx context.Context) ([]*gantry.Agent, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	as, err := getAll(ctx, s.pool, scanAgent, `SELECT `+agentColumns+` FROM agents ORDER BY name`)
	return as, mapError(err, "list agents")
}

func scanAgent(row pgx.CollectableRow) (*gantry.Agent, error) {
	var (
		a         gantry.Agent
		last      *int64
		createdAt int64
	)
	if err := row.Scan(&a.Name, &a.Labels, &a.Concurrency, &a.PublicKey, &last, &createdAt); err != nil {
		return nil, err
	}
	a.Labels, a.PublicKey = nilIfEmpty(a.Labels), nilIfEmpty(a.PublicKey)
	a.LastSeen, a.CreatedAt = timeOf(last), timeOf(&createdAt)
	return &a, nil
}

// getOne returns the one row q selects, scanned with scan, or
// pgx.ErrNoRows.
func getOne[T any](ctx context.Context, db querier, scan pgx.RowToFunc[T], q string, args ...any) (T, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	return pgx.CollectExactlyOneRow(rows, scan)
}

// getAll returns the rows q selects, scanned with scan; none is nil.
func getAll[T any](ctx context.Context, db querier, scan pgx.RowToFunc[T], q string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, scan)
	return nilIfEmpty(list), err
}
