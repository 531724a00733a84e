package sqlite

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// AppendLogs inserts lines with statements of 1, 2, 4, … logBatch rows,
// the largest that fits first: ten lines take two statements, a thousand
// ten. Each statement costs some microseconds of its own; 128 rows stay
// well under SQLite's limit of bound parameters.
const (
	logBatchBits = 7
	logBatch     = 1 << logBatchBits
	logFields    = 6 // bound parameters per row
)

// insertLogsSQL returns an INSERT of n lines. (Binding the run ID once, as
// ?1 in every row, made the driver slower: it looks numbered parameters
// up one by one.)
func insertLogsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO logs (run_id, step, seq, time, stream, text) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?)`)
	}
	return b.String()
}

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
	if err := s.appendLogs(ctx, run, lines); err != nil {
		if isForeignKey(err) {
			return gantry.Errorf(gantry.ENotFound, "append logs: run %s not found", run)
		}
		return wrap(err, "append logs of run %s", run)
	}
	return nil
}

func (s *Store) appendLogs(ctx context.Context, run gantry.RunID, lines []gantry.LogLine) error {
	args := make([]any, 0, min(len(lines), logBatch)*logFields)
	insert := func(ctx context.Context) error {
		for len(lines) > 0 {
			k := min(bits.Len(uint(len(lines)))-1, logBatchBits)
			args = args[:0]
			for i := range lines[:1<<k] {
				l := &lines[i]
				args = append(args, string(run), l.Step, l.Seq, timeArg(l.Time), string(l.Stream), l.Text)
			}
			if _, err := s.insertLogs[k].ExecContext(ctx, args...); err != nil {
				return err
			}
			lines = lines[1<<k:]
		}
		return nil
	}
	if len(lines) <= logBatch && bits.OnesCount(uint(len(lines))) == 1 {
		return s.exclusive(ctx, insert) // one statement needs no BEGIN and COMMIT
	}
	return s.write(ctx, insert)
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
			return nil, wrap(err, "read logs of run %s", run)
		}
		return nil, wrap(err, "read logs of step %s of run %s", step, run)
	}
	return lines, nil
}

func (s *Store) logs(ctx context.Context, run gantry.RunID, step string) ([]gantry.LogLine, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if step == "" {
		rows, err = s.runLogs.QueryContext(ctx, run)
	} else {
		rows, err = s.stepLogs.QueryContext(ctx, run, step)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []gantry.LogLine
	for rows.Next() {
		var (
			l gantry.LogLine
			t sql.NullInt64
		)
		if err := rows.Scan(&l.Step, &l.Seq, &t, &l.Stream, &l.Text); err != nil {
			return nil, err
		}
		l.Time = timeOf(t)
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(lines) == 0 {
		return nil, s.exists(ctx, run)
	}
	return lines, nil
}
