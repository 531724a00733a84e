// Package gate is the stage gate of runs, locally and on agents alike:
// every step of the stage passed, and, for a stage that names policies,
// they allow the run to go on, judged on the run's evidence so far.
package gate

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/engine"
	"gantry.dev/gantry/internal/policy"
	"gantry.dev/gantry/internal/spec"
)

// Evidence is what a gate reads of its run: a store, or an agent's
// connection to its server.
type Evidence interface {
	Run(ctx context.Context, id gantry.RunID) (*gantry.Run, error)
	Steps(ctx context.Context, run gantry.RunID) ([]*gantry.StepResult, error)
	Findings(ctx context.Context, run gantry.RunID, step string) ([]gantry.FindingRecord, error)
	Attestations(ctx context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error)
}

// Options configure a gate.
type Options struct {
	Evidence Evidence
	// Pending returns the attestations signed but not kept yet: those of
	// the stage being gated.
	Pending func(gantry.RunID) []*gantry.Attestation
	// Base is the directory policies are named relative to: the
	// pipeline file's.
	Base string
	// TrustedKeys are the hints of the keys whose signatures count.
	TrustedKeys []string
	// ProtectedBranches are the branch globs the forge protects: the
	// project's, on a server; the base branch, locally.
	ProtectedBranches []string
	Now               func() time.Time
	// Warn shows a policy's warnings.
	Warn func(string)

	// Changes and Config turn on change management: each gate classifies
	// the run's change on the evidence so far, and Admit guards the
	// stages that deploy. Actor is who deploys.
	Changes Changes
	Config  *change.Config
	Actor   change.Actor
}

// New returns the gate function of the engine.
func New(opts Options) engine.GateFunc {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Warn == nil {
		opts.Warn = func(string) {}
	}
	return func(ctx context.Context, stage *spec.PlanStage, results []*gantry.StepResult) gantry.Gate {
		g := engine.StepsGate(ctx, stage, results)
		if len(results) == 0 {
			return g
		}
		id := results[0].RunID
		// The change is classified at every gate, on the evidence so far
		// and what the stage's policies decided, and the classification
		// goes into the gate's notes, attested with it. A change that
		// cannot be read is classified by no gate but the admission, which
		// fails closed.
		var st *change.State
		var run *gantry.Run
		if opts.Changes != nil {
			var err error
			if run, err = opts.Evidence.Run(ctx, id); err == nil {
				st, _ = changeState(ctx, opts, run)
			}
		}
		if len(stage.Policies) == 0 && st == nil {
			return g
		}
		in, err := input(ctx, opts, stage.Name, id, run, st, stage.Environment)
		if err != nil {
			if len(stage.Policies) > 0 {
				g.Allowed = false
				g.Reasons = append(g.Reasons, "policy: "+gantry.ErrorMessageOrText(err))
				g.Decider = "steps+policy"
			}
			return g
		}
		if len(stage.Policies) > 0 {
			g = policies(ctx, opts, stage, in, g)
		}
		if st != nil {
			cls, err := classify(ctx, opts, run, st, in, stage.Environment, stepDenials(g))
			if err != nil {
				opts.Warn(gantry.ErrorMessageOrText(err))
			} else {
				g.Notes = append(g.Notes, describe(st.Change.ID, cls)...)
			}
		}
		return g
	}
}

// policies adds the stage's policies' decision to g.
func policies(ctx context.Context, opts Options, stage *spec.PlanStage, in *policy.Input, g gantry.Gate) gantry.Gate {
	deny := func(reason string) gantry.Gate {
		g.Allowed = false
		g.Reasons = append(g.Reasons, "policy: "+reason)
		g.Decider = "steps+policy"
		return g
	}
	paths := make([]string, len(stage.Policies))
	for i, p := range stage.Policies {
		paths[i] = filepath.Join(opts.Base, filepath.FromSlash(p))
	}
	srcs, err := policy.Load(paths)
	if err != nil {
		return deny(gantry.ErrorMessageOrText(err))
	}
	// Files are named relative to the pipeline's directory, so that a
	// policy's digest does not depend on where the checkout is.
	for i := range srcs {
		if rel, err := filepath.Rel(opts.Base, srcs[i].Name); err == nil {
			srcs[i].Name = filepath.ToSlash(rel)
		}
	}
	d, err := policy.Evaluate(ctx, srcs, stage.Name, in)
	if d == nil {
		return deny(gantry.ErrorMessageOrText(err))
	}
	for _, w := range d.Warn {
		opts.Warn("policy warning in stage " + stage.Name + ": " + w)
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

// stepDenials are a gate's reasons when it did not allow the run.
func stepDenials(g gantry.Gate) []string {
	if g.Allowed {
		return nil
	}
	return g.Reasons
}

// input reads the run's evidence so far, with its change when st is set
// and the environment it deploys to when env is. run is the run when the
// caller has it already; nil reads it.
func input(ctx context.Context, opts Options, stage string, id gantry.RunID, run *gantry.Run, st *change.State, env string) (*policy.Input, error) {
	ev := opts.Evidence
	if run == nil {
		var err error
		if run, err = ev.Run(ctx, id); err != nil {
			return nil, err
		}
	}
	steps, err := ev.Steps(ctx, id)
	if err != nil {
		return nil, err
	}
	findings, err := ev.Findings(ctx, id, "")
	if err != nil {
		return nil, err
	}
	atts, err := ev.Attestations(ctx, gantry.AttestationFilter{RunID: id})
	if err != nil {
		return nil, err
	}
	if opts.Pending != nil {
		atts = append(atts, opts.Pending(id)...)
	}
	now := opts.Now()
	f := policy.Facts{Now: now, Config: policy.Config{TrustedKeys: opts.TrustedKeys, ProtectedBranches: opts.ProtectedBranches}}
	if st != nil {
		f.Change = policyChange(st.Change)
		f.Approvals = policyApprovals(st.Approvals)
	}
	if cov := change.RunCoverage(steps); cov != nil {
		f.Coverage = &policy.Coverage{Percent: *cov}
		if st != nil {
			f.Coverage.Base = st.BaseCoverage
		}
	}
	f.Environment = policyEnvironment(opts.Config, env, now)
	return policy.NewInput(stage, run, steps, findings, atts, f), nil
}
