package gate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/spec"
	"gantry.dev/gantry/internal/store/sqlite"
)

// world is a store with one run of one change, whose commit stage ran a
// test step.
type world struct {
	st   *sqlite.Store
	run  *gantry.Run
	opts Options
	now  time.Time
}

func newWorld(t *testing.T, rules string, testPassed bool) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC) // a Tuesday, in working hours
	run := &gantry.Run{ID: "20260303-100000.000-00000001", Pipeline: ".gantry.yml", PipelineDigest: gantry.DigestBytes([]byte("p")),
		Status: gantry.StatusRunning, CreatedAt: now, StartedAt: now,
		Trigger: gantry.Trigger{Event: "local", Branch: "feature", Commit: "c0ffee", Change: "c0ffee000000", Actor: "bob@example.com"}}
	if err := st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	status := gantry.StatusSucceeded
	if !testPassed {
		status = gantry.StatusFailed
	}
	step := &gantry.StepResult{RunID: run.ID, Stage: "commit", Name: "unit", Executor: "local", Status: status, Attempts: 1,
		StartedAt: now, FinishedAt: now}
	if err := st.PutStep(ctx, step); err != nil {
		t.Fatal(err)
	}
	env := []byte(`{"payload":"unit"}`)
	att := &gantry.Attestation{Digest: gantry.DigestBytes(env), RunID: run.ID, Stage: "commit", Step: "unit", Kind: gantry.KindTestResult,
		PredicateType: "https://in-toto.io/attestation/test-result/v0.1", Envelope: env, KeyHint: "k", CreatedAt: now,
		Subjects: []gantry.Subject{{Name: "unit", Digest: gantry.DigestBytes([]byte("unit"))}}}
	if err := st.PutAttestations(ctx, []*gantry.Attestation{att}); err != nil {
		t.Fatal(err)
	}
	c := &gantry.Change{ID: "c0ffee000000", Title: "a small fix", Author: "alice@example.com", Branch: "feature", BaseBranch: "main",
		Commits: []gantry.Commit{{SHA: "c0ffee", Author: "Alice", AuthorEmail: "alice@example.com"}},
		Lines:   12, Files: 1, Paths: []string{"cmd/app/main.go"}}
	if _, err := change.Record(ctx, st, c, run.ID, now); err != nil {
		t.Fatal(err)
	}
	cfg, err := change.ParseConfig("changes.yml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, run: run, now: now}
	w.opts = Options{Evidence: st, Now: func() time.Time { return now }, Changes: StoreChanges{st}, Config: cfg,
		Actor: change.Actor{Name: "bob@example.com", Role: gantry.RoleDeveloper}}
	return w
}

func (w *world) change(t *testing.T) *gantry.Change {
	t.Helper()
	c, err := w.st.Change(context.Background(), "", "c0ffee000000")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const production = `environments:
  - name: production
    required_approvals: 1
    required_gates: [commit]
`

func TestEveryGateClassifiesTheChange(t *testing.T) {
	w := newWorld(t, production, true)
	steps, err := w.st.Steps(context.Background(), w.run.ID)
	if err != nil {
		t.Fatal(err)
	}
	g := New(w.opts)(context.Background(), &spec.PlanStage{Name: "commit"}, steps)
	if !g.Allowed {
		t.Fatalf("gate %+v", g)
	}
	// The classification is in the gate's notes, which are attested.
	if len(g.Notes) == 0 || !strings.HasPrefix(g.Notes[0], "change c0ffee000000 is standard: risk ") {
		t.Errorf("notes %q", g.Notes)
	}
	cl := w.change(t).Classification
	if cl == nil || cl.Class != gantry.ClassStandard || cl.RunID != w.run.ID || len(cl.Factors) != len(change.Factors) {
		t.Fatalf("classification %+v", cl)
	}

	// A stage that fails makes the change normal: the gate's reasons are
	// a policy's denials as far as classification goes.
	w = newWorld(t, production, false)
	steps, _ = w.st.Steps(context.Background(), w.run.ID)
	g = New(w.opts)(context.Background(), &spec.PlanStage{Name: "commit"}, steps)
	if g.Allowed {
		t.Fatal("a failed step passed the gate")
	}
	cl = w.change(t).Classification
	if cl == nil || cl.Class != gantry.ClassNormal || !slices.ContainsFunc(cl.Reasons, func(r string) bool { return strings.Contains(r, `step "unit" failed`) }) {
		t.Fatalf("classification %+v", cl)
	}
	if len(g.Notes) == 0 || g.Notes[0] != "change c0ffee000000 is normal: risk 41.0 (normal from 40)" {
		t.Errorf("notes %q", g.Notes)
	}
	// A change under the threshold is normal only for a denial: said so.
	low := describe("abc", &gantry.Classification{Class: gantry.ClassNormal, Score: 12, Threshold: 40,
		Factors: []gantry.RiskFactor{{Name: "size", Weight: 20, Score: 2, Detail: "21 lines"}, {Name: "tests", Weight: 40}}})
	want := []string{"change abc is normal: risk 12.0 (normal from 40), and not standard because a gate or policy did not allow it", "risk factor size 2.0 of 20: 21 lines"}
	if !slices.Equal(low, want) {
		t.Errorf("describe = %q, want %q", low, want)
	}
}

func TestAdmit(t *testing.T) {
	ctx := context.Background()
	stage := &spec.PlanStage{Name: "deploy", Environment: "production"}
	t.Run("standard change, gate passed", func(t *testing.T) {
		w := newWorld(t, production, true)
		g := Admit(w.opts)(ctx, stage, w.run, []string{"commit"})
		if !g.Allowed || len(g.Reasons) != 0 {
			t.Fatalf("refused: %+v", g)
		}
		if !slices.Contains(g.Notes, "standard change: pre-approved") || !strings.HasPrefix(g.Notes[0], "change c0ffee000000 is standard: risk ") {
			t.Errorf("notes %q", g.Notes)
		}
	})
	t.Run("required gate not passed", func(t *testing.T) {
		w := newWorld(t, production, true)
		g := Admit(w.opts)(ctx, stage, w.run, nil)
		if g.Allowed || !slices.Contains(g.Reasons, `stage "commit" has not passed in this run`) {
			t.Fatalf("gate %+v", g)
		}
	})
	t.Run("normal change needs someone else's approval", func(t *testing.T) {
		// A change to the delivery rules is sensitive: normal.
		w := newWorld(t, production, true)
		c := w.change(t)
		c.Paths = []string{".gantry/changes.yml"}
		if err := w.st.PutChange(ctx, c); err != nil {
			t.Fatal(err)
		}
		g := Admit(w.opts)(ctx, stage, w.run, []string{"commit"})
		if g.Allowed || !strings.HasPrefix(g.Reasons[0], "needs 1 approval for production") {
			t.Fatalf("gate %+v", g)
		}
		if !slices.ContainsFunc(g.Notes, func(n string) bool {
			return strings.HasPrefix(n, "risk factor sensitive_paths 40.0 of 40: touches delivery")
		}) {
			t.Errorf("notes %q", g.Notes)
		}
		cfg := w.opts.Config
		if _, err := change.Approve(cfg, w.change(t), "production", "", change.Approver{Name: "alice@example.com", Role: gantry.RoleAdmin}, w.now, ""); gantry.ErrorKind(err) != gantry.EForbidden {
			t.Fatalf("the author approved: %v", err)
		}
		a, err := change.Approve(cfg, w.change(t), "production", "", change.Approver{Name: "carol", Role: gantry.RoleApprover}, w.now, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.st.PutApproval(ctx, a); err != nil {
			t.Fatal(err)
		}
		if g := Admit(w.opts)(ctx, stage, w.run, []string{"commit"}); !g.Allowed {
			t.Fatalf("refused after carol's approval: %+v", g)
		}
	})
	t.Run("fail closed", func(t *testing.T) {
		w := newWorld(t, production, true)
		noChange := *w.run
		noChange.Trigger.Change = ""
		if g := Admit(w.opts)(ctx, stage, &noChange, []string{"commit"}); g.Allowed || !strings.Contains(g.Reasons[0], "belongs to no change") {
			t.Errorf("a run without a change: %+v", g)
		}
		unknown := *w.run
		unknown.Trigger.Change = "0123456789ab"
		if g := Admit(w.opts)(ctx, stage, &unknown, []string{"commit"}); g.Allowed {
			t.Errorf("a run of an unknown change: %+v", g)
		}
		bare := w.opts
		bare.Changes = nil
		if g := Admit(bare)(ctx, stage, w.run, []string{"commit"}); g.Allowed || !strings.Contains(g.Reasons[0], "not configured") {
			t.Errorf("no change management: %+v", g)
		}
	})
}

// TestPoliciesSeeTheChange checks that a deploy stage's policies read the
// change, its approvals and the environment with its freeze windows.
func TestPoliciesSeeTheChange(t *testing.T) {
	w := newWorld(t, `environments:
  - name: production
    freeze:
      - {start: 2026-03-01T00:00:00Z, end: 2026-03-08T00:00:00Z, reason: launch week}
`, true)
	dir := t.TempDir()
	rego := `package gantry.gates.deploy

deny contains sprintf("%s by %s in %s, %d freeze", [input.change.id, input.change.author, input.environment.name, count(input.environment.freeze_windows)]) if true
`
	if err := os.WriteFile(filepath.Join(dir, "deploy.rego"), []byte(rego), 0o600); err != nil {
		t.Fatal(err)
	}
	w.opts.Base = dir
	steps, _ := w.st.Steps(context.Background(), w.run.ID)
	g := New(w.opts)(context.Background(), &spec.PlanStage{Name: "deploy", Environment: "production", Policies: []string{"deploy.rego"}}, steps)
	want := "policy: c0ffee000000 by alice@example.com in production, 1 freeze"
	if g.Allowed || !slices.Contains(g.Reasons, want) {
		t.Errorf("gate %+v, want the reason %q", g, want)
	}
}
