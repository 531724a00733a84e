package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

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
	_, err = s.pool.Exec(ctx, `INSERT INTO stages (run_id, name, idx, status, gate_json, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (run_id, name) DO UPDATE SET idx = excluded.idx, status = excluded.status,
		gate_json = excluded.gate_json, started_at = excluded.started_at, finished_at = excluded.finished_at`,
		st.RunID, st.Name, st.Index, st.Status, string(gate), timeArg(st.StartedAt), timeArg(st.FinishedAt))
	return mapError(err, fmt.Sprintf("put stage %s", st.Name),
		reason{gantry.ENotFound, fmt.Sprintf("run %s not found", st.RunID)},
		reason{gantry.EConflict, fmt.Sprintf("run %s has another stage at index %d", st.RunID, st.Index)})
}

// Stages lists a run's stages by Index.
func (s *Store) Stages(ctx context.Context, run gantry.RunID) ([]*gantry.StageResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	stages, err := s.stages(ctx, run)
	return stages, mapError(err, fmt.Sprintf("list stages of run %s", run))
}

func (s *Store) stages(ctx context.Context, run gantry.RunID) ([]*gantry.StageResult, error) {
	rows, err := s.pool.Query(ctx, `SELECT run_id, name, idx, status, gate_json, started_at, finished_at
		FROM stages WHERE run_id = $1 ORDER BY idx`, run)
	if err != nil {
		return nil, err
	}
	stages, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gantry.StageResult, error) {
		var (
			st                gantry.StageResult
			gate              string
			started, finished *int64
		)
		if err := row.Scan(&st.RunID, &st.Name, &st.Index, &st.Status, &gate, &started, &finished); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(gate), &st.Gate); err != nil {
			return nil, fmt.Errorf("stage %s: gate: %w", st.Name, err)
		}
		st.StartedAt, st.FinishedAt = timeOf(started), timeOf(finished)
		return &st, nil
	})
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, s.runExists(ctx, run)
	}
	return stages, nil
}

const stepColumns = `run_id, name, stage, uses, executor, image, status, exit_code, attempts, reason,
	allow_failure, started_at, finished_at, command_digest, env_digest, inputs_json, outputs_json,
	log_digest, sandbox, meta_json`

// upsertStepSQL puts a step, keeping its id (its place in the insertion
// order) when it replaces one.
const upsertStepSQL = `INSERT INTO steps (` + stepColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
	ON CONFLICT (run_id, name) DO UPDATE SET stage = excluded.stage, uses = excluded.uses,
	executor = excluded.executor, image = excluded.image, status = excluded.status,
	exit_code = excluded.exit_code, attempts = excluded.attempts, reason = excluded.reason,
	allow_failure = excluded.allow_failure, started_at = excluded.started_at,
	finished_at = excluded.finished_at, command_digest = excluded.command_digest,
	env_digest = excluded.env_digest, inputs_json = excluded.inputs_json,
	outputs_json = excluded.outputs_json, log_digest = excluded.log_digest,
	sandbox = excluded.sandbox, meta_json = excluded.meta_json`

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
	inputs, err := jsonArg(st.Inputs)
	if err != nil {
		return fmt.Errorf("put step %s: %w", st.Name, err)
	}
	outputs, err := jsonArg(st.Outputs)
	if err != nil {
		return fmt.Errorf("put step %s: %w", st.Name, err)
	}
	meta, err := jsonMapArg(st.Meta)
	if err != nil {
		return fmt.Errorf("put step %s: %w", st.Name, err)
	}
	// One batch is one implicit transaction and one round trip: the
	// step, then its artifacts in place of the old ones.
	b := &pgx.Batch{}
	b.Queue(upsertStepSQL,
		st.RunID, st.Name, st.Stage, st.Uses, st.Executor, st.Image, st.Status, st.ExitCode, st.Attempts,
		st.Reason, st.AllowFail, timeArg(st.StartedAt), timeArg(st.FinishedAt), st.Command, st.EnvDigest,
		inputs, outputs, st.Log, st.Sandbox, meta)
	b.Queue(`DELETE FROM artifacts WHERE run_id = $1 AND step = $2`, st.RunID, st.Name)
	if len(st.Outputs) > 0 {
		paths := make([]string, len(st.Outputs))
		digests := make([]string, len(st.Outputs))
		sizes := make([]int64, len(st.Outputs))
		for i, a := range st.Outputs {
			paths[i], digests[i], sizes[i] = a.Path, string(a.Digest), a.Size
		}
		b.Queue(`INSERT INTO artifacts (run_id, step, path, digest, size)
			SELECT $1, $2, path, digest, size FROM unnest($3::text[], $4::text[], $5::bigint[])
				WITH ORDINALITY AS a (path, digest, size, n)
			ORDER BY n`, st.RunID, st.Name, paths, digests, sizes)
	}
	err = s.pool.SendBatch(ctx, b).Close()
	return mapError(err, fmt.Sprintf("put step %s", st.Name), reason{gantry.ENotFound, fmt.Sprintf("run %s not found", st.RunID)})
}

// Steps lists a run's step results in the order they started: by
// StartedAt, then in the order they were first put; steps that never
// started come last.
func (s *Store) Steps(ctx context.Context, run gantry.RunID) ([]*gantry.StepResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	steps, err := s.steps(ctx, run)
	return steps, mapError(err, fmt.Sprintf("list steps of run %s", run))
}

func (s *Store) steps(ctx context.Context, run gantry.RunID) ([]*gantry.StepResult, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+stepColumns+` FROM steps WHERE run_id = $1
		ORDER BY started_at NULLS LAST, id`, run)
	if err != nil {
		return nil, err
	}
	steps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gantry.StepResult, error) {
		var (
			st                    gantry.StepResult
			started, finished     *int64
			inputs, outputs, meta *string
		)
		if err := row.Scan(&st.RunID, &st.Name, &st.Stage, &st.Uses, &st.Executor, &st.Image, &st.Status,
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
		return &st, nil
	})
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, s.runExists(ctx, run)
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
		return nil, mapError(err, "list artifacts of "+what)
	}
	return recs, nil
}

func (s *Store) artifacts(ctx context.Context, f gantry.ArtifactFilter) ([]gantry.ArtifactRecord, error) {
	var (
		where []string
		args  []any
	)
	if f.RunID != "" {
		args = append(args, f.RunID)
		where = append(where, fmt.Sprintf("a.run_id = $%d", len(args)))
	}
	if f.Digest != "" {
		args = append(args, f.Digest)
		where = append(where, fmt.Sprintf("a.digest = $%d", len(args)))
	}
	rows, err := s.pool.Query(ctx, `SELECT a.run_id, a.step, a.path, a.digest, a.size
		FROM artifacts a
		JOIN steps s ON s.run_id = a.run_id AND s.name = a.step
		JOIN runs r ON r.id = a.run_id
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY r.created_at DESC, r.id DESC, s.started_at NULLS LAST, s.id, a.id`, args...)
	if err != nil {
		return nil, err
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gantry.ArtifactRecord, error) {
		var a gantry.ArtifactRecord
		err := row.Scan(&a.RunID, &a.Step, &a.Path, &a.Digest, &a.Size)
		return a, err
	})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 && f.RunID != "" {
		return nil, s.runExists(ctx, f.RunID)
	}
	return recs, nil
}

// jsonArg encodes v, or returns NULL for an empty slice, so that the
// common empty case costs nothing.
func jsonArg[T any](v []T) (*string, error) {
	if len(v) == 0 {
		return nil, nil
	}
	return marshal(v)
}

// jsonMapArg is jsonArg for a map.
func jsonMapArg(m map[string]string) (*string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	return marshal(m)
}

func marshal(v any) (*string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	js := string(b)
	return &js, nil
}

func unmarshalNull(s *string, v any) error {
	if s == nil {
		return nil
	}
	return json.Unmarshal([]byte(*s), v)
}
