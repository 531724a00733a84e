package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gantry.Store { return openTemp(t) })
}

func TestPragmas(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	for _, tc := range []struct {
		db interface {
			QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		}
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "wal_autocheckpoint", "16384"},
		{s.w, "foreign_keys", "1"},
		{s.w, "synchronous", "1"}, // NORMAL
		{s.w, "busy_timeout", "5000"},
		{s.r, "journal_mode", "wal"},
		{s.r, "busy_timeout", "5000"},
		{s.r, "query_only", "1"},
	} {
		var got string
		if err := tc.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
}

func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(t.Context(), "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gantry.db")
	ctx := t.Context()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := &gantry.Run{ID: "r1", Status: gantry.StatusPending, CreatedAt: time.Now()}
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open again: %v", err)
		}
		if _, err := s.Run(ctx, "r1"); err != nil {
			t.Errorf("run after reopening: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schemaVersion(t, path), len(ms); got != want {
		t.Errorf("schema version %d, want %d", got, want)
	}
}

// Two processes (here: two stores) opening a new database at once must not
// both migrate it.
func TestOpenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gantry.db")
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			s, err := Open(t.Context(), path)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gantry.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(t.Context(),
		"INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	_, err = Open(t.Context(), path)
	if err == nil {
		t.Fatal("opened a database with a newer schema")
	}
	if gantry.ErrorKind(err) != gantry.EConflict || !strings.Contains(err.Error(), "schema version 999 is newer") {
		t.Errorf("error %q (kind %s), want a conflict naming the schema version", err, gantry.ErrorKind(err))
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %s has version %d, want %d", m.name, m.version, i+1)
		}
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory",
		filepath.Join(t.TempDir(), "no", "such", "dir", "gantry.db")} {
		if s, err := Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// Paths with characters that mean something in a URI stay paths.
func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d")
	path := filepath.Join(dir, "gantry.db")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at %s", path)
	}
}

// benchStep is what the engine writes for one tiny step: its result and
// a few log lines.
func benchStep(run gantry.RunID, i int, now time.Time) (*gantry.StepResult, []gantry.LogLine) {
	name := fmt.Sprintf("step-%d", i)
	st := &gantry.StepResult{
		RunID: run, Stage: "commit", Name: name, Executor: "local", Status: gantry.StatusSucceeded,
		Attempts: 1, StartedAt: now, FinishedAt: now.Add(time.Millisecond),
		Command: gantry.DigestBytes([]byte(name)), Sandbox: "namespaces",
		Meta: map[string]string{"pid": "4242"},
	}
	lines := []gantry.LogLine{
		{Step: name, Seq: 1, Time: now, Stream: gantry.System, Text: "$ echo hello"},
		{Step: name, Seq: 2, Time: now, Stream: gantry.Stdout, Text: "hello"},
		{Step: name, Seq: 3, Time: now, Stream: gantry.System, Text: "exit 0"},
	}
	return st, lines
}

// reportCPU reports the process CPU time per op since start, when known.
func reportCPU(b *testing.B, start int64) {
	if start > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

func benchRun(b testing.TB, s *Store) gantry.RunID {
	b.Helper()
	r := &gantry.Run{ID: gantry.NewRunID(time.Now()), Status: gantry.StatusRunning, CreatedAt: time.Now()}
	if err := s.CreateRun(b.Context(), r); err != nil {
		b.Fatal(err)
	}
	return r.ID
}

// BenchmarkPutStep is the store time of one tiny step as the engine writes
// it: the step's result when it starts, its log lines, its result when it
// ends.
func BenchmarkPutStep(b *testing.B) {
	s := openTemp(b)
	defer s.Close()
	ctx := b.Context()
	run := benchRun(b, s)
	now := time.Now()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		st, lines := benchStep(run, i, now)
		i++
		st.Status = gantry.StatusRunning
		if err := s.PutStep(ctx, st); err != nil {
			b.Fatal(err)
		}
		if err := s.AppendLogs(ctx, run, lines); err != nil {
			b.Fatal(err)
		}
		st.Status = gantry.StatusSucceeded
		if err := s.PutStep(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkRun100Steps is a whole run of 100 tiny steps as the engine
// stores it; step-ns is the store time per step.
func BenchmarkRun100Steps(b *testing.B) {
	const steps = 100
	s := openTemp(b)
	defer s.Close()
	ctx := b.Context()
	now := time.Now()
	cpu := processCPU()
	for b.Loop() {
		r := &gantry.Run{ID: gantry.NewRunID(now), Pipeline: ".gantry.yml", Status: gantry.StatusRunning, CreatedAt: now}
		if err := s.CreateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
		stage := &gantry.StageResult{RunID: r.ID, Name: "commit", Status: gantry.StatusRunning, StartedAt: now}
		if err := s.PutStage(ctx, stage); err != nil {
			b.Fatal(err)
		}
		for i := range steps {
			st, lines := benchStep(r.ID, i, now)
			st.Status = gantry.StatusRunning
			if err := s.PutStep(ctx, st); err != nil {
				b.Fatal(err)
			}
			if err := s.AppendLogs(ctx, r.ID, lines); err != nil {
				b.Fatal(err)
			}
			st.Status = gantry.StatusSucceeded
			if err := s.PutStep(ctx, st); err != nil {
				b.Fatal(err)
			}
		}
		stage.Status, stage.Gate.Allowed = gantry.StatusSucceeded, true
		if err := s.PutStage(ctx, stage); err != nil {
			b.Fatal(err)
		}
		r.Status, r.FinishedAt = gantry.StatusSucceeded, now
		if err := s.UpdateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "step-ns")
	if cpu > 0 {
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*steps), "step-cpu-ns")
	}
}

// BenchmarkPutStepOnly is one PutStep of a new step.
func BenchmarkPutStepOnly(b *testing.B) {
	s := openTemp(b)
	defer s.Close()
	run := benchRun(b, s)
	now := time.Now()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		st, _ := benchStep(run, i, now)
		i++
		if err := s.PutStep(b.Context(), st); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkAppendLogs appends batches of n lines; ns/op is per batch.
func BenchmarkAppendLogs(b *testing.B) {
	for _, n := range []int{1, 10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := openTemp(b)
			defer s.Close()
			run := benchRun(b, s)
			now := time.Now()
			lines := make([]gantry.LogLine, n)
			for i := range lines {
				lines[i] = gantry.LogLine{Step: "build", Seq: int64(i + 1), Time: now, Stream: gantry.Stdout,
					Text: "ok  \tgantry.dev/gantry/internal/store/sqlite\t0.412s"}
			}
			cpu := processCPU()
			for b.Loop() {
				if err := s.AppendLogs(b.Context(), run, lines); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
		})
	}
}

// Every read finds its rows through an index: none scans a whole table.
// (Scanning an index in order, as the newest runs do, is fine.)
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	queries := []string{getRunSQL, runExistsSQL, listStagesSQL, listStepsSQL, stepLogsSQL, runLogsSQL}
	for _, f := range []gantry.RunFilter{{}, {Project: "p"}, {Status: "failed"}, {Project: "p", Status: "failed", Limit: 3}} {
		q, _ := runsQuery(f)
		queries = append(queries, q)
	}
	d := gantry.DigestBytes(nil)
	for _, f := range []gantry.ArtifactFilter{{RunID: "r"}, {Digest: d}, {RunID: "r", Digest: d}} {
		q, _ := artifactsQuery(f)
		queries = append(queries, q)
	}
	for _, q := range queries {
		n := strings.Count(q, "?")
		rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, make([]any, n)...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "INDEX") {
				t.Errorf("query scans a table:\n%s\nplan:\n  %s", q, strings.Join(plan, "\n  "))
			}
		}
	}
}
