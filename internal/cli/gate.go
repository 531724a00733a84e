package cli

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/engine"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/policy"
	"gantry.dev/gantry/internal/spec"
)

// policyGate is the gate of gantry run: every step of the stage passed,
// and, for a stage that names policies, they allow the run to go on. The
// policies see the run's evidence so far: its steps, findings and
// attestations (kept, and those of this stage just signed).
func policyGate(st gantry.Store, rec *evidence.Recorder, base string, keyHint string, now func() time.Time, warn func(string)) engine.GateFunc {
	return func(ctx context.Context, stage *spec.PlanStage, results []*gantry.StepResult) gantry.Gate {
		g := engine.StepsGate(ctx, stage, results)
		if len(stage.Policies) == 0 || len(results) == 0 {
			return g
		}
		runID := results[0].RunID
		deny := func(reason string) gantry.Gate {
			g.Allowed = false
			g.Reasons = append(g.Reasons, reason)
			g.Decider = "steps+policy"
			return g
		}
		run, err := st.Run(ctx, runID)
		if err != nil {
			return deny("policy: read the run: " + gantry.ErrorMessageOrText(err))
		}
		steps, err := st.Steps(ctx, runID)
		if err != nil {
			return deny("policy: read the steps: " + gantry.ErrorMessageOrText(err))
		}
		findings, err := st.Findings(ctx, runID, "")
		if err != nil {
			return deny("policy: read the findings: " + gantry.ErrorMessageOrText(err))
		}
		atts, err := st.Attestations(ctx, gantry.AttestationFilter{RunID: runID})
		if err != nil {
			return deny("policy: read the attestations: " + gantry.ErrorMessageOrText(err))
		}
		atts = append(atts, rec.Pending(runID)...)
		paths := make([]string, len(stage.Policies))
		for i, p := range stage.Policies {
			paths[i] = filepath.Join(base, filepath.FromSlash(p))
		}
		in := policy.NewInput(stage.Name, run, steps, findings, atts, policy.Facts{
			Now:    now(),
			Config: policy.Config{TrustedKeys: []string{keyHint}},
		})
		srcs, err := policy.Load(paths)
		if err != nil {
			return deny("policy: " + gantry.ErrorMessageOrText(err))
		}
		// Files are named relative to the pipeline's directory, so that
		// a policy's digest does not depend on where the checkout is.
		for i := range srcs {
			if rel, err := filepath.Rel(base, srcs[i].Name); err == nil {
				srcs[i].Name = filepath.ToSlash(rel)
			}
		}
		d, err := policy.Evaluate(ctx, srcs, stage.Name, in)
		if d == nil {
			return deny("policy: " + gantry.ErrorMessageOrText(err))
		}
		for _, w := range d.Warn {
			warn("policy warning in stage " + stage.Name + ": " + w)
		}
		g.Decider = "steps+policy " + string(d.PolicyDigest)
		if !d.Allowed {
			g.Allowed = false
			for _, r := range d.Deny {
				g.Reasons = append(g.Reasons, "policy: "+strings.TrimSpace(r))
			}
		}
		return g
	}
}
