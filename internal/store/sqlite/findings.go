package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

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
	err := s.write(ctx, func(ctx context.Context) error {
		var exists int
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id = ?`, run).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return gantry.Errorf(gantry.ENotFound, "put findings: run %s not found", run)
		}
		if _, err := s.w.ExecContext(ctx, `DELETE FROM findings WHERE run_id = ? AND step = ?`, run, step); err != nil {
			return err
		}
		for _, f := range findings {
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if _, err := s.w.ExecContext(ctx, `INSERT INTO findings (run_id, step, tool, rule_id, severity, fingerprint, path, line, json)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, run, step, f.Tool, f.RuleID, f.Severity.Rank(), f.Fingerprint,
				f.Location.Path, f.Location.Line, string(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if gantry.ErrorKind(err) == gantry.ENotFound {
		return err
	}
	if err != nil {
		return wrap(err, "put findings of step %s", step)
	}
	return nil
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
	var exists int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id = ?`, run).Scan(&exists); err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	if exists == 0 {
		return nil, gantry.Errorf(gantry.ENotFound, "list findings: run %s not found", run)
	}
	q := `SELECT step, json FROM findings WHERE run_id = ?`
	args := []any{run}
	if step != "" {
		q += ` AND step = ?`
		args = append(args, step)
	}
	q += ` ORDER BY severity DESC, tool, path, line, id`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	out := []gantry.FindingRecord{}
	for rows.Next() {
		var rec gantry.FindingRecord
		var js string
		if err := rows.Scan(&rec.Step, &js); err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		if err := json.Unmarshal([]byte(js), &rec.Finding); err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		rec.RunID = run
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	return out, nil
}
