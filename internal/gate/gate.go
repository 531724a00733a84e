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
	Now         func() time.Time
	// Warn shows a policy's warnings.
	Warn func(string)
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
		if len(stage.Policies) == 0 || len(results) == 0 {
			return g
		}
		deny := func(reason string) gantry.Gate {
			g.Allowed = false
			g.Reasons = append(g.Reasons, "policy: "+reason)
			g.Decider = "steps+policy"
			return g
		}
		in, err := input(ctx, opts, stage.Name, results[0].RunID)
		if err != nil {
			return deny(gantry.ErrorMessageOrText(err))
		}
		paths := make([]string, len(stage.Policies))
		for i, p := range stage.Policies {
			paths[i] = filepath.Join(opts.Base, filepath.FromSlash(p))
		}
		srcs, err := policy.Load(paths)
		if err != nil {
			return deny(gantry.ErrorMessageOrText(err))
		}
		// Files are named relative to the pipeline's directory, so that
		// a policy's digest does not depend on where the checkout is.
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
}

// input reads the run's evidence so far.
func input(ctx context.Context, opts Options, stage string, id gantry.RunID) (*policy.Input, error) {
	ev := opts.Evidence
	run, err := ev.Run(ctx, id)
	if err != nil {
		return nil, err
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
	return policy.NewInput(stage, run, steps, findings, atts, policy.Facts{
		Now: opts.Now(), Config: policy.Config{TrustedKeys: opts.TrustedKeys},
	}), nil
}
