package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/spec"
)

const deployPipeline = `version: 1
stages:
  - name: commit
    steps:
      - {name: build, run: echo built}
  - name: production
    environment: production
    steps:
      - {name: ship, run: echo shipped}
`

func TestAStageThatDeploysIsAdmittedFirst(t *testing.T) {
	for _, tc := range []struct {
		name    string
		admit   AdmitFunc
		ships   bool
		reasons string
	}{
		{name: "admitted", ships: true, admit: func(_ context.Context, _ *spec.PlanStage, _ *gantry.Run, passed []string) gantry.Gate {
			if !slices.Equal(passed, []string{"commit"}) {
				return gantry.Gate{Reasons: []string{"passed: " + strings.Join(passed, ",")}}
			}
			return gantry.Gate{Allowed: true, Reasons: []string{"standard change: pre-approved"}}
		}},
		{name: "refused", admit: func(_ context.Context, st *spec.PlanStage, _ *gantry.Run, _ []string) gantry.Gate {
			return gantry.Gate{Reasons: []string{"needs 1 approval for " + st.Environment, "inside freeze window year-end"}}
		}, reasons: "needs 1 approval for production; inside freeze window year-end"},
		{name: "no protection configured", reasons: "environment production: no protection rules are configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &recordingAttester{}
			h := attestHarness(t, a)
			h.opts.Admit = tc.admit
			r, steps := h.run(context.Background(), deployPipeline)
			ran := slices.Contains(h.fake.startOrder(), "ship")
			if ran != tc.ships {
				t.Fatalf("ship ran = %v, want %v (run %s %q)", ran, tc.ships, r.Status, r.Reason)
			}
			// The admission is attested as a gate of the stage, before its
			// own gate when it runs.
			wantGates := []string{"commit", "production"}
			if tc.ships {
				wantGates = append(wantGates, "production")
			}
			if !slices.Equal(a.gates, wantGates) {
				t.Errorf("attested gates %v, want %v", a.gates, wantGates)
			}
			if tc.ships {
				if r.Status != gantry.StatusSucceeded {
					t.Errorf("run %s %q", r.Status, r.Reason)
				}
				return
			}
			if r.Status != gantry.StatusFailed || !strings.Contains(r.Reason, `stage "production": `+tc.reasons) {
				t.Errorf("run = %s %q, want the reasons %q", r.Status, r.Reason, tc.reasons)
			}
			if s := steps["ship"]; s == nil || s.Status != gantry.StatusSkipped || s.Reason != "not admitted to production" {
				t.Errorf("ship = %+v", s)
			}
			stages, err := h.store.Stages(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(stages) != 2 || stages[1].Status != gantry.StatusFailed || stages[1].Gate.Decider != "environment production" {
				t.Errorf("stages %+v", stages)
			}
		})
	}
}

func TestCoverageIsRecorded(t *testing.T) {
	h := newHarness(t)
	_, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: unit, run: 'write cover.xml <coverage lines-covered="3" lines-valid="4"/>', coverage: cover.xml}
      - {name: none, run: 'write junk.xml <testsuite/>', coverage: junk.xml}
      - {name: missing, run: 'echo no report', coverage: absent.out}
`)
	if s := steps["unit"]; s.Status != gantry.StatusSucceeded || s.Meta[gantry.MetaCoverage] != "75.0" || len(s.Outputs) != 1 || s.Outputs[0].Path != "cover.xml" {
		t.Errorf("unit = %s %q, meta %v, outputs %v", s.Status, s.Reason, s.Meta, s.Outputs)
	}
	// No coverage is not full coverage: a report that cannot be read, or
	// none, fails the step.
	if s := steps["none"]; s.Status != gantry.StatusFailed || !strings.Contains(s.Reason, "coverage: coverage report (cobertura): the root element is <testsuite>") {
		t.Errorf("none = %s %q", s.Status, s.Reason)
	}
	if s := steps["missing"]; s.Status != gantry.StatusFailed || !strings.HasPrefix(s.Reason, "coverage: ") {
		t.Errorf("missing = %s %q", s.Status, s.Reason)
	}
}
