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

const runColumns = `id, project, pipeline, pipeline_digest, trigger_json, status, reason, created_at, started_at, finished_at`

// CreateRun stores a new run. A run with the same ID is an EConflict error.
func (s *Store) CreateRun(ctx context.Context, r *gantry.Run) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return err
	}
	trigger, err := json.Marshal(r.Trigger)
	if err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.insertRun.ExecContext(ctx, r.ID, r.Project, r.Pipeline, r.PipelineDigest, string(trigger),
			r.Status, r.Reason, r.CreatedAt.UnixNano(), timeArg(r.StartedAt), timeArg(r.FinishedAt))
		return err
	})
	if isUnique(err) {
		return gantry.Errorf(gantry.EConflict, "create run %s: run exists already", r.ID)
	}
	if err != nil {
		return wrap(err, "create run %s", r.ID)
	}
	return nil
}

// UpdateRun replaces the stored run that has r's ID with r.
func (s *Store) UpdateRun(ctx context.Context, r *gantry.Run) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return err
	}
	trigger, err := json.Marshal(r.Trigger)
	if err != nil {
		return fmt.Errorf("update run %s: %w", r.ID, err)
	}
	var n int64
	err = s.exclusive(ctx, func(ctx context.Context) error {
		res, err := s.updateRun.ExecContext(ctx, r.Project, r.Pipeline, r.PipelineDigest, string(trigger),
			r.Status, r.Reason, r.CreatedAt.UnixNano(), timeArg(r.StartedAt), timeArg(r.FinishedAt), r.ID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return wrap(err, "update run %s", r.ID)
	}
	if n == 0 {
		return gantry.Errorf(gantry.ENotFound, "update run %s: run not found", r.ID)
	}
	return nil
}

// Run returns the run with the given ID, or an ErrNotFound error.
func (s *Store) Run(ctx context.Context, id gantry.RunID) (*gantry.Run, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	r, err := scanRun(s.getRun.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "run %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// Runs lists runs newest first (by CreatedAt, then ID), at most
// filter.Limit of them when it is above zero.
func (s *Store) Runs(ctx context.Context, filter gantry.RunFilter) ([]*gantry.Run, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckRunFilter(filter); err != nil {
		return nil, err
	}
	q, args := runsQuery(filter)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var runs []*gantry.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

func runsQuery(f gantry.RunFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.Project != "" {
		where, args = append(where, "project = ?"), append(args, f.Project)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.Branch != "" {
		where, args = append(where, "json_extract(trigger_json, '$.branch') = ?"), append(args, f.Branch)
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}

type scanner interface{ Scan(dest ...any) error }

func scanRun(sc scanner) (*gantry.Run, error) {
	var (
		r                   gantry.Run
		trigger             string
		created             int64
		started, finished   sql.NullInt64
		status, pipelineDig string
	)
	if err := sc.Scan(&r.ID, &r.Project, &r.Pipeline, &pipelineDig, &trigger, &status, &r.Reason,
		&created, &started, &finished); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(trigger), &r.Trigger); err != nil {
		return nil, fmt.Errorf("run %s: trigger: %w", r.ID, err)
	}
	r.PipelineDigest = gantry.Digest(pipelineDig)
	r.Status = gantry.Status(status)
	r.CreatedAt = timeOf(sql.NullInt64{Int64: created, Valid: true})
	r.StartedAt, r.FinishedAt = timeOf(started), timeOf(finished)
	return &r, nil
}
