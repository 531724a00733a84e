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
	_, err = s.pool.Exec(ctx, `INSERT INTO runs (`+runColumns+`, branch)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.ID, r.Project, r.Pipeline, r.PipelineDigest, string(trigger), r.Status, r.Reason,
		r.CreatedAt.UnixNano(), timeArg(r.StartedAt), timeArg(r.FinishedAt), r.Trigger.Branch)
	return mapError(err, fmt.Sprintf("create run %s", r.ID), reason{gantry.EConflict, "run exists already"})
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
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET project = $2, pipeline = $3, pipeline_digest = $4,
		trigger_json = $5, status = $6, reason = $7, created_at = $8, started_at = $9, finished_at = $10,
		branch = $11 WHERE id = $1`,
		r.ID, r.Project, r.Pipeline, r.PipelineDigest, string(trigger), r.Status, r.Reason,
		r.CreatedAt.UnixNano(), timeArg(r.StartedAt), timeArg(r.FinishedAt), r.Trigger.Branch)
	if err != nil {
		return mapError(err, fmt.Sprintf("update run %s", r.ID))
	}
	if tag.RowsAffected() == 0 {
		return gantry.Errorf(gantry.ENotFound, "update run %s: run not found", r.ID)
	}
	return nil
}

// Run returns the run with the given ID, or an ErrNotFound error.
func (s *Store) Run(ctx context.Context, id gantry.RunID) (*gantry.Run, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "run %s not found", id)
	}
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("get run %s", id))
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
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapError(err, "list runs")
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gantry.Run, error) { return scanRun(row) })
	if err != nil {
		return nil, mapError(err, "list runs")
	}
	return runs, nil
}

func runsQuery(f gantry.RunFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+" = $"+strconv.Itoa(len(args)))
	}
	if f.Project != "" {
		add("project", f.Project)
	}
	if f.Status != "" {
		add("status", string(f.Status))
	}
	if f.Branch != "" {
		add("branch", f.Branch)
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	return q, args
}

func scanRun(row pgx.Row) (*gantry.Run, error) {
	var (
		r                 gantry.Run
		trigger           string
		created           int64
		started, finished *int64
	)
	if err := row.Scan(&r.ID, &r.Project, &r.Pipeline, &r.PipelineDigest, &trigger, &r.Status, &r.Reason,
		&created, &started, &finished); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(trigger), &r.Trigger); err != nil {
		return nil, fmt.Errorf("run %s: trigger: %w", r.ID, err)
	}
	r.CreatedAt = timeOf(&created)
	r.StartedAt, r.FinishedAt = timeOf(started), timeOf(finished)
	return &r, nil
}
