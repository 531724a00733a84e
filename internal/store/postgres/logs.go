package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// AppendLogs appends lines to the run's log, all of them or none. Lines
// keep the order they are given in.
func (s *Store) AppendLogs(ctx context.Context, run gantry.RunID, lines []gantry.LogLine) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLogs(run, lines); err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	// One statement, whatever the number of lines: the lines go as one
	// array per column, and WITH ORDINALITY keeps their order, which the
	// identity column then records.
	var (
		steps   = make([]string, len(lines))
		seqs    = make([]int64, len(lines))
		times   = make([]*int64, len(lines))
		streams = make([]string, len(lines))
		texts   = make([][]byte, len(lines))
	)
	for i := range lines {
		l := &lines[i]
		steps[i], seqs[i], times[i], streams[i] = l.Step, l.Seq, timeArg(l.Time), string(l.Stream)
		texts[i] = []byte(l.Text)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO logs (run_id, step, seq, time, stream, text)
		SELECT $1, step, seq, time, stream, text
		FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bytea[])
			WITH ORDINALITY AS l (step, seq, time, stream, text, n)
		ORDER BY n`, run, steps, seqs, times, streams, texts)
	return mapError(err, fmt.Sprintf("append logs of run %s", run), reason{gantry.ENotFound, fmt.Sprintf("run %s not found", run)})
}

// Logs returns a step's lines, or every step's when step is "", in the
// order they were appended.
func (s *Store) Logs(ctx context.Context, run gantry.RunID, step string) ([]gantry.LogLine, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	lines, err := s.logs(ctx, run, step)
	if err != nil {
		if step == "" {
			return nil, mapError(err, fmt.Sprintf("read logs of run %s", run))
		}
		return nil, mapError(err, fmt.Sprintf("read logs of step %s of run %s", step, run))
	}
	return lines, nil
}

func (s *Store) logs(ctx context.Context, run gantry.RunID, step string) ([]gantry.LogLine, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if step == "" {
		rows, err = s.pool.Query(ctx, `SELECT step, seq, time, stream, text FROM logs WHERE run_id = $1 ORDER BY id`, run)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT step, seq, time, stream, text FROM logs WHERE run_id = $1 AND step = $2 ORDER BY id`, run, step)
	}
	if err != nil {
		return nil, err
	}
	lines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gantry.LogLine, error) {
		var (
			l    gantry.LogLine
			t    *int64
			text []byte
		)
		if err := row.Scan(&l.Step, &l.Seq, &t, &l.Stream, &text); err != nil {
			return l, err
		}
		l.Time, l.Text = timeOf(t), string(text)
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, s.runExists(ctx, run)
	}
	return lines, nil
}
