package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// PutFindings replaces the findings of a step of a run, all at once.
func (s *Store) PutFindings(ctx context.Context, run gantry.RunID, step string, findings []gantry.Finding) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckFindings(run, step, findings); err != nil {
		return err
	}
	var (
		tools        = make([]string, len(findings))
		rules        = make([]string, len(findings))
		severities   = make([]int32, len(findings))
		fingerprints = make([]string, len(findings))
		paths        = make([]string, len(findings))
		lines        = make([]int32, len(findings))
		jsons        = make([]string, len(findings))
	)
	for i, f := range findings {
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("put findings of step %s: %w", step, err)
		}
		tools[i], rules[i], severities[i], fingerprints[i] = f.Tool, f.RuleID, int32(f.Severity.Rank()), f.Fingerprint
		paths[i], lines[i], jsons[i] = f.Location.Path, int32(f.Location.Line), string(b)
	}
	// The run is locked against deletion while its findings change, and
	// checked for: with no findings, no foreign key would tell.
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM runs WHERE id = $1 FOR KEY SHARE`, run).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return gantry.Errorf(gantry.ENotFound, "put findings: run %s not found", run)
		}
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM findings WHERE run_id = $1 AND step = $2`, run, step)
		if len(findings) > 0 {
			b.Queue(`INSERT INTO findings (run_id, step, tool, rule_id, severity, fingerprint, path, line, json)
				SELECT $1, $2, tool, rule_id, severity, fingerprint, path, line, json
				FROM unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[], $9::text[])
					WITH ORDINALITY AS f (tool, rule_id, severity, fingerprint, path, line, json, n)
				ORDER BY n`, run, step, tools, rules, severities, fingerprints, paths, lines, jsons)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return mapError(err, fmt.Sprintf("put findings of step %s", step))
}

// Findings lists a run's findings (one step's when step is set), most
// severe first, then by tool, path and line.
func (s *Store) Findings(ctx context.Context, run gantry.RunID, step string) ([]gantry.FindingRecord, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if run == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "list findings: no run ID")
	}
	recs, err := s.findings(ctx, run, step)
	return recs, mapError(err, fmt.Sprintf("list findings of run %s", run))
}

func (s *Store) findings(ctx context.Context, run gantry.RunID, step string) ([]gantry.FindingRecord, error) {
	q := `SELECT step, json FROM findings WHERE run_id = $1`
	args := []any{run}
	if step != "" {
		q += ` AND step = $2`
		args = append(args, step)
	}
	q += ` ORDER BY severity DESC, tool, path, line, id`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gantry.FindingRecord, error) {
		rec := gantry.FindingRecord{RunID: run}
		var js string
		if err := row.Scan(&rec.Step, &js); err != nil {
			return rec, err
		}
		err := json.Unmarshal([]byte(js), &rec.Finding)
		return rec, err
	})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		if err := s.runExists(ctx, run); err != nil {
			return nil, err
		}
	}
	return recs, nil
}
