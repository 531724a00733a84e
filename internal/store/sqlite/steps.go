package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// PutStage creates or replaces the stage of st.RunID named st.Name. Two
// stages of a run may not share an Index (EConflict).
func (s *Store) PutStage(ctx context.Context, st *gantry.StageResult) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckStage(st); err != nil {
		return err
	}
	gate, err := json.Marshal(st.Gate)
	if err != nil {
		return fmt.Errorf("put stage %s: %w", st.Name, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.upsertStage.ExecContext(ctx, st.RunID, st.Name, st.Index, st.Status, string(gate),
			timeArg(st.StartedAt), timeArg(st.FinishedAt))
		return err
	})
	switch {
	case isForeignKey(err):
		return gantry.Errorf(gantry.ENotFound, "put stage %s: run %s not found", st.Name, st.RunID)
	case isUnique(err):
		return gantry.Errorf(gantry.EConflict, "put stage %s: run %s has another stage at index %d", st.Name, st.RunID, st.Index)
	case err != nil:
		return wrap(err, "put stage %s", st.Name)
	}
	return nil
}

// Stages lists a run's stages by Index.
func (s *Store) Stages(ctx context.Context, run gantry.RunID) ([]*gantry.StageResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	stages, err := s.stages(ctx, run)
	if err != nil {
		return nil, wrap(err, "list stages of run %s", run)
	}
	return stages, nil
}

func (s *Store) stages(ctx context.Context, run gantry.RunID) ([]*gantry.StageResult, error) {
	rows, err := s.listStages.QueryContext(ctx, run)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var stages []*gantry.StageResult
	for rows.Next() {
		var (
			st                gantry.StageResult
			gate              string
			started, finished sql.NullInt64
		)
		if err := rows.Scan(&st.RunID, &st.Name, &st.Index, &st.Status, &gate, &started, &finished); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(gate), &st.Gate); err != nil {
			return nil, fmt.Errorf("stage %s: gate: %w", st.Name, err)
		}
		st.StartedAt, st.FinishedAt = timeOf(started), timeOf(finished)
		stages = append(stages, &st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(stages) == 0 {
		return nil, s.exists(ctx, run)
	}
	return stages, nil
}

const stepColumns = `run_id, name, stage, uses, executor, image, status, exit_code, attempts, reason,
	allow_failure, started_at, finished_at, command_digest, env_digest, inputs_json, outputs_json,
	log_digest, sandbox, meta_json`

// PutStep creates or replaces the result of the step of st.RunID named
// st.Name, and replaces the step's entries in the artifact index with its
// Outputs. A replaced step keeps its place in the insertion order.
func (s *Store) PutStep(ctx context.Context, st *gantry.StepResult) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckStep(st); err != nil {
		return err
	}
	if err := s.putStep(ctx, st); err != nil {
		if isForeignKey(err) {
			return gantry.Errorf(gantry.ENotFound, "put step %s: run %s not found", st.Name, st.RunID)
		}
		return wrap(err, "put step %s", st.Name)
	}
	return nil
}

func (s *Store) putStep(ctx context.Context, st *gantry.StepResult) error {
	inputs, err := jsonArg(st.Inputs)
	if err != nil {
		return err
	}
	outputs, err := jsonArg(st.Outputs)
	if err != nil {
		return err
	}
	meta, err := jsonMapArg(st.Meta)
	if err != nil {
		return err
	}
	upsert := func(ctx context.Context) error {
		_, err := s.upsertStep.ExecContext(ctx,
			st.RunID, st.Name, st.Stage, st.Uses, st.Executor, st.Image, st.Status, st.ExitCode, st.Attempts,
			st.Reason, st.AllowFail, timeArg(st.StartedAt), timeArg(st.FinishedAt), st.Command, st.EnvDigest,
			inputs, outputs, st.Log, st.Sandbox, meta)
		return err
	}
	if len(st.Outputs) == 0 {
		// One statement: the trigger steps_replaced drops old artifacts.
		return s.exclusive(ctx, upsert)
	}
	return s.write(ctx, func(ctx context.Context) error {
		if err := upsert(ctx); err != nil {
			return err
		}
		for _, a := range st.Outputs {
			if _, err := s.insertArtifact.ExecContext(ctx, st.RunID, st.Name, a.Path, a.Digest, a.Size); err != nil {
				return err
			}
		}
		return nil
	})
}

// Steps lists a run's step results in the order they started: by
// StartedAt, then in the order they were first put; steps that never
// started come last.
func (s *Store) Steps(ctx context.Context, run gantry.RunID) ([]*gantry.StepResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	steps, err := s.steps(ctx, run)
	if err != nil {
		return nil, wrap(err, "list steps of run %s", run)
	}
	return steps, nil
}

func (s *Store) steps(ctx context.Context, run gantry.RunID) ([]*gantry.StepResult, error) {
	rows, err := s.listSteps.QueryContext(ctx, run)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var steps []*gantry.StepResult
	for rows.Next() {
		var (
			st                    gantry.StepResult
			started, finished     sql.NullInt64
			inputs, outputs, meta sql.NullString
		)
		if err := rows.Scan(&st.RunID, &st.Name, &st.Stage, &st.Uses, &st.Executor, &st.Image, &st.Status,
			&st.ExitCode, &st.Attempts, &st.Reason, &st.AllowFail, &started, &finished, &st.Command,
			&st.EnvDigest, &inputs, &outputs, &st.Log, &st.Sandbox, &meta); err != nil {
			return nil, err
		}
		st.StartedAt, st.FinishedAt = timeOf(started), timeOf(finished)
		if err := unmarshalNull(inputs, &st.Inputs); err != nil {
			return nil, fmt.Errorf("step %s: inputs: %w", st.Name, err)
		}
		if err := unmarshalNull(outputs, &st.Outputs); err != nil {
			return nil, fmt.Errorf("step %s: outputs: %w", st.Name, err)
		}
		if err := unmarshalNull(meta, &st.Meta); err != nil {
			return nil, fmt.Errorf("step %s: meta: %w", st.Name, err)
		}
		steps = append(steps, &st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(steps) == 0 {
		return nil, s.exists(ctx, run)
	}
	return steps, nil
}

// Artifacts lists the artifacts that steps recorded as outputs. With a
// RunID, they come in the order of the run's Steps and of each step's
// Outputs; with a Digest alone, from every run, newest run first.
func (s *Store) Artifacts(ctx context.Context, f gantry.ArtifactFilter) ([]gantry.ArtifactRecord, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckArtifactFilter(f); err != nil {
		return nil, err
	}
	recs, err := s.artifacts(ctx, f)
	if err != nil {
		what := "run " + string(f.RunID)
		if f.RunID == "" {
			what = "digest " + string(f.Digest)
		}
		return nil, wrap(err, "list artifacts of %s", what)
	}
	return recs, nil
}

func artifactsQuery(f gantry.ArtifactFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.RunID != "" {
		where, args = append(where, "a.run_id = ?"), append(args, f.RunID)
	}
	if f.Digest != "" {
		where, args = append(where, "a.digest = ?"), append(args, f.Digest)
	}
	return `SELECT a.run_id, a.step, a.path, a.digest, a.size
		FROM artifacts a
		JOIN steps s ON s.run_id = a.run_id AND s.name = a.step
		JOIN runs r ON r.id = a.run_id
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY r.created_at DESC, r.id DESC, s.started_at NULLS LAST, s.id, a.id`, args
}

func (s *Store) artifacts(ctx context.Context, f gantry.ArtifactFilter) ([]gantry.ArtifactRecord, error) {
	q, args := artifactsQuery(f)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []gantry.ArtifactRecord
	for rows.Next() {
		var a gantry.ArtifactRecord
		if err := rows.Scan(&a.RunID, &a.Step, &a.Path, &a.Digest, &a.Size); err != nil {
			return nil, err
		}
		recs = append(recs, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(recs) == 0 && f.RunID != "" {
		return nil, s.exists(ctx, f.RunID)
	}
	return recs, nil
}
