package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/spec"
)

// recordingAttester remembers what the engine asked it to attest, and fails
// where told to.
type recordingAttester struct {
	mu       sync.Mutex
	kinds    map[string]string
	logs     map[string]gantry.Digest
	gates    []string
	sealed   int
	failStep string
	failGate bool
	failSeal bool
}

func (a *recordingAttester) AttestStep(_ context.Context, _ *gantry.Run, s *spec.PlanStep, res *gantry.StepResult, kind string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kinds[s.Name] = kind
	a.logs[s.Name] = res.Log
	if s.Name == a.failStep {
		return errors.New("signer unavailable")
	}
	return nil
}

func (a *recordingAttester) AttestGate(_ context.Context, _ *gantry.Run, st *gantry.StageResult, results []*gantry.StepResult) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gates = append(a.gates, st.Name)
	if a.failGate {
		return errors.New("ledger full")
	}
	return nil
}

func (a *recordingAttester) Seal(context.Context, *gantry.Run) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sealed++
	if a.failSeal {
		return errors.New("checkpoint key missing")
	}
	return nil
}

const attestPipeline = `version: 1
stages:
  - name: commit
    steps:
      - {name: build, run: write bin/app binary, outputs: [bin/app]}
      - {name: unit, run: write report.xml <testsuite/>, test-report: report.xml}
      - {name: declared, run: echo hi, kind: build}
      - {name: lint, run: echo ok}
      - {name: scan, uses: scan-thing}
  - name: deploy
    steps:
      - {name: ship, run: echo shipped}
`

func attestHarness(t *testing.T, a *recordingAttester) *harness {
	h := newHarness(t)
	a.kinds, a.logs = map[string]string{}, map[string]gantry.Digest{}
	h.opts.Attester = a
	h.opts.Actions = action.NewRegistry()
	h.opts.Actions.Register(action.Entry{Name: "scan-thing", Kind: gantry.KindVulns,
		Action: action.Func(func(context.Context, *action.Env) (int, error) { return 0, nil })})
	return h
}

func TestAttesterSeesEveryStepAndGate(t *testing.T) {
	a := &recordingAttester{}
	h := attestHarness(t, a)
	r, steps := h.run(context.Background(), attestPipeline)
	if r.Status != gantry.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Reason)
	}
	want := map[string]string{
		"build": gantry.KindProvenance, "unit": gantry.KindTestResult, "declared": gantry.KindProvenance,
		"lint": gantry.KindLink, "scan": gantry.KindVulns, "ship": gantry.KindLink,
	}
	for step, kind := range want {
		if a.kinds[step] != kind {
			t.Errorf("step %s attested as %q, want %q", step, a.kinds[step], kind)
		}
		if a.logs[step] != steps[step].Log || a.logs[step] == "" {
			t.Errorf("step %s attested with log %q, stored %q", step, a.logs[step], steps[step].Log)
		}
	}
	if strings.Join(a.gates, ",") != "commit,deploy" || a.sealed != 1 {
		t.Errorf("gates %v, sealed %d times; want commit,deploy and once", a.gates, a.sealed)
	}
	if out := steps["unit"].Outputs; len(out) != 1 || out[0].Path != "report.xml" {
		t.Errorf("unit's outputs = %+v, want its test report", out)
	}
}

func TestNoEvidenceIsNotAPass(t *testing.T) {
	t.Run("step", func(t *testing.T) {
		h := attestHarness(t, &recordingAttester{failStep: "lint"})
		r, steps := h.run(context.Background(), attestPipeline)
		if r.Status != gantry.StatusFailed || steps["lint"].Status != gantry.StatusFailed {
			t.Fatalf("run %s, lint %s; want both failed", r.Status, steps["lint"].Status)
		}
		if !strings.Contains(steps["lint"].Reason, "no evidence: signer unavailable") {
			t.Errorf("lint's reason = %q", steps["lint"].Reason)
		}
		if steps["ship"].Status != gantry.StatusSkipped {
			t.Errorf("ship %s, want skipped after the commit stage failed", steps["ship"].Status)
		}
	})
	t.Run("gate", func(t *testing.T) {
		h := attestHarness(t, &recordingAttester{failGate: true})
		r, _ := h.run(context.Background(), attestPipeline)
		if r.Status != gantry.StatusFailed || !strings.Contains(r.Reason, "no evidence of the gate decision: ledger full") {
			t.Errorf("run %s: %q", r.Status, r.Reason)
		}
	})
	t.Run("seal", func(t *testing.T) {
		h := attestHarness(t, &recordingAttester{failSeal: true})
		r, _ := h.run(context.Background(), attestPipeline)
		if r.Status != gantry.StatusFailed || r.Reason != "evidence: checkpoint key missing" {
			t.Errorf("run %s: %q", r.Status, r.Reason)
		}
	})
}

func TestFailedTestKeepsItsReport(t *testing.T) {
	h := attestHarness(t, &recordingAttester{})
	_, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: unit, run: "write report.xml <testsuite failures='1'/>\nexit 1", test-report: report.xml}
      - {name: nothing, run: echo forgot, test-report: missing.xml}
`)
	if s := steps["unit"]; s.Status != gantry.StatusFailed || len(s.Outputs) != 1 {
		t.Errorf("unit: %s with outputs %+v; want failed with its report", s.Status, s.Outputs)
	}
	if s := steps["nothing"]; s.Status != gantry.StatusFailed || !strings.Contains(s.Reason, `test-report: declared output "missing.xml" was not produced`) {
		t.Errorf("nothing: %s: %q", s.Status, s.Reason)
	}
}
