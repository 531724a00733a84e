package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
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

func TestServerStore(t *testing.T) {
	storetest.RunServer(t, func(t *testing.T) gantry.ServerStore { return openTemp(t) })
	// Two stores on one file, as two servers (or two processes) share it.
	storetest.RunServerShared(t, func(t *testing.T) (gantry.ServerStore, gantry.ServerStore) {
		path := filepath.Join(t.TempDir(), "gantry.db")
		a, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(t.Context(), path)
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		return a, b
	})
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
		if m.Version != i+1 {
			t.Errorf("migration %s has version %d, want %d", m.Name, m.Version, i+1)
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
	// The server's reads neither scan nor sort: each walks an index in
	// the order it returns.
	local := len(queries)
	queries = append(queries, leaseJobSQL, renewLeaseSQL, finishJobSQL, getJobSQL, jobExistsSQL,
		getProjectSQL, getUserSQL, userExistsSQL, userGrantsSQL, projectGrantsSQL,
		grantSQL, tokenByHashSQL, listTokensSQL, setLedgerIndexSQL, auditExistsSQL, getSecretSQL,
		listSecretsSQL, getAgentSQL)
	for _, f := range []gantry.JobFilter{{}, {Status: gantry.JobQueued}, {Status: gantry.JobLeased, Limit: 5},
		{Status: gantry.JobFinished}, {RunID: "r"}, {RunID: "r", Status: gantry.JobQueued}} {
		q, _ := jobsQuery(f)
		queries = append(queries, q)
	}
	for _, f := range []gantry.AuditFilter{{Actor: "a"}, {Action: "login", Limit: 5}, {Actor: "a", Action: "b"}} {
		q, _ := auditQuery(f)
		queries = append(queries, q)
	}
	// The lists of a whole table scan it, in the order of its key.
	all, _ := auditQuery(gantry.AuditFilter{Limit: 10})
	lists := []string{listProjectsSQL, listUsersSQL, listAgentsSQL, all}
	for i, q := range append(queries, lists...) {
		plan := queryPlan(t, s, q)
		for _, step := range plan {
			scan := strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "INDEX") && i < len(queries)
			sort := strings.Contains(step, "TEMP B-TREE") && i >= local
			if scan || sort {
				t.Errorf("query scans a table or sorts:\n%s\nplan:\n  %s", q, strings.Join(plan, "\n  "))
			}
		}
	}
	// A lease reads jobs_leasable alone until it has found its job.
	if plan := strings.Join(queryPlan(t, s, leaseJobSQL), "\n"); !strings.Contains(plan, "SCAN jobs USING COVERING INDEX jobs_leasable") {
		t.Errorf("the lease does not scan jobs_leasable alone:\n%s", plan)
	}
}

// queryPlan returns the steps of q's plan.
func queryPlan(t *testing.T, s *Store, q string) []string {
	t.Helper()
	n := strings.Count(q, "?")
	for i := 1; strings.Contains(q, fmt.Sprintf("?%d", i)); i++ {
		n = i // numbered parameters: as many as the highest
	}
	rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, make([]any, n)...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// BenchmarkLeaseJob is an agent's pickup of a job from a queue of 1,000
// jobs, as the store sees it.
//
// "lease" is one LeaseJob alone: the clock moves on by a nanosecond a
// lease, and each lease lasts one, so that the oldest jobs expire and are
// leased again, and the queue stays 1,000 long. The others are a whole
// pickup: one LeaseJob (lease-ns), one FinishJob, and a new job queued at
// the back. "labels" has every job need two labels, which the agent has
// among three; "4-agents" has four agents at it at once; "behind-finished"
// has 10,000 finished jobs older than the queue.
func BenchmarkLeaseJob(b *testing.B) {
	for _, bc := range []struct {
		name     string
		labels   []string // each job's
		have     []string // the agent's
		agents   int
		finished int
	}{
		{name: "lease"},
		{name: "pickup", agents: 1},
		{name: "labels", labels: []string{"linux", "docker"}, have: []string{"arm64", "docker", "linux"}, agents: 1},
		{name: "4-agents", agents: 4},
		{name: "behind-finished", agents: 1, finished: 10000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openTemp(b)
			defer s.Close()
			ctx := b.Context()
			run := benchRun(b, s)
			now := time.Now()
			var seq atomic.Int64
			enqueue := func() {
				i := seq.Add(1)
				j := &gantry.Job{ID: gantry.JobID(fmt.Sprintf("job-%09d", i)), RunID: run, Project: "shop",
					Labels: bc.labels, CreatedAt: now.Add(time.Duration(i))}
				if err := s.EnqueueJob(ctx, j); err != nil {
					b.Fatal(err)
				}
			}
			for range bc.finished {
				enqueue()
				j, err := s.LeaseJob(ctx, "setup", bc.have, now, time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.FinishJob(ctx, j.ID, "setup", now); err != nil {
					b.Fatal(err)
				}
			}
			for range 1000 {
				enqueue()
			}
			var leaseNs atomic.Int64
			pickup := func(agent string) {
				start := time.Now()
				j, err := s.LeaseJob(ctx, agent, bc.have, now, time.Minute)
				leaseNs.Add(int64(time.Since(start)))
				if err != nil {
					b.Fatal(err)
				}
				if err := s.FinishJob(ctx, j.ID, agent, now); err != nil {
					b.Fatal(err)
				}
				enqueue()
			}
			cpu := processCPU()
			switch bc.agents {
			case 0:
				t := now
				for b.Loop() {
					t = t.Add(time.Nanosecond)
					if _, err := s.LeaseJob(ctx, "agent-1", bc.have, t, time.Nanosecond); err != nil {
						b.Fatal(err)
					}
				}
				leaseNs.Store(b.Elapsed().Nanoseconds())
			case 1:
				for b.Loop() {
					pickup("agent-1")
				}
			default:
				b.SetParallelism((bc.agents + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				var agents atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					agent := fmt.Sprintf("agent-%d", agents.Add(1))
					for pb.Next() {
						pickup(agent)
					}
				})
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(leaseNs.Load())/float64(b.N), "lease-ns")
		})
	}
}
