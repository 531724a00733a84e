package gate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/engine"
	"gantry.dev/gantry/internal/policy"
	"gantry.dev/gantry/internal/spec"
)

// Changes is where a gate reads the run's change and records its
// classification: a store, or an agent's connection to its server.
type Changes interface {
	// ChangeState returns a change with its approvals, its author's
	// recent history and its project's recent incidents, since then.
	ChangeState(ctx context.Context, project, id string, since time.Time) (*change.State, error)
	PutChange(ctx context.Context, c *gantry.Change) error
}

// ChangeStore is a store a gate reads and records changes in.
type ChangeStore interface {
	change.StateStore
	PutChange(ctx context.Context, c *gantry.Change) error
}

// StoreChanges are the Changes of a store: gantry run's.
type StoreChanges struct{ Store ChangeStore }

// ChangeState loads a change's state from the store.
func (s StoreChanges) ChangeState(ctx context.Context, project, id string, since time.Time) (*change.State, error) {
	return change.LoadState(ctx, s.Store, project, id, since)
}

// PutChange records a change in the store.
func (s StoreChanges) PutChange(ctx context.Context, c *gantry.Change) error {
	return s.Store.PutChange(ctx, c)
}

// changeState reads the run's change, or says why there is none.
func changeState(ctx context.Context, opts Options, run *gantry.Run) (*change.State, error) {
	if opts.Changes == nil || opts.Config == nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "change management is not configured")
	}
	if run.Trigger.Change == "" {
		return nil, gantry.Errorf(gantry.ENotFound, "the run belongs to no change (is the workspace a git repository?)")
	}
	since := opts.Now().AddDate(0, 0, -opts.Config.HistoryDays)
	return opts.Changes.ChangeState(ctx, run.Project, run.Trigger.Change, since)
}

// classify classifies the run's change on the evidence in `in` and records
// the classification.
func classify(ctx context.Context, opts Options, run *gantry.Run, st *change.State, in *policy.Input, env string, denials []string) (*gantry.Classification, error) {
	f := change.Facts{
		Change:        st.Change,
		History:       st.History,
		Incidents:     st.Incidents,
		PolicyDenials: denials,
		Now:           in.Now,
		RunID:         run.ID,
	}
	for _, s := range in.Run.Steps {
		if s.Kind != gantry.KindTestResult {
			continue
		}
		f.TestsRan = true
		if !s.Passed {
			f.TestsFailed = append(f.TestsFailed, s.Name)
		}
	}
	if in.Coverage != nil {
		f.Coverage, f.BaseCoverage = &in.Coverage.Percent, in.Coverage.Base
	}
	for _, fi := range in.Findings {
		if fi.Waived {
			continue
		}
		if fi.Tool == "secrets" || strings.HasPrefix(fi.Tool, "gitleaks") {
			f.UnwaivedSecrets++
		}
		if fi.New && (fi.Severity == string(gantry.SeverityHigh) || fi.Severity == string(gantry.SeverityCritical)) {
			f.NewSevereFindings++
		}
	}
	if env != "" {
		f.Freezes = opts.Config.Freezes(env, in.Now)
	} else {
		for _, e := range opts.Config.Environments {
			f.Freezes = append(f.Freezes, opts.Config.Freezes(e.Name, in.Now)...)
		}
	}
	cls := change.Classify(opts.Config, f)
	c := *st.Change
	c.Classification = &cls
	c.UpdatedAt = in.Now
	if err := opts.Changes.PutChange(ctx, &c); err != nil {
		return nil, fmt.Errorf("record the classification of change %s: %w", c.ID, err)
	}
	st.Change = &c
	return &cls, nil
}

// Admit returns the engine's admission of stages that deploy: the
// environment's protection rules over the run's change, classified on the
// evidence so far. Every reason against is given, and notes say why the
// change is what it is and what counted for it.
func Admit(opts Options) engine.AdmitFunc {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return func(ctx context.Context, stage *spec.PlanStage, run *gantry.Run, passed []string) gantry.Gate {
		deny := func(err error) gantry.Gate {
			return gantry.Gate{Reasons: []string{"environment " + stage.Environment + ": " + gantry.ErrorMessageOrText(err)}}
		}
		st, err := changeState(ctx, opts, run)
		if err != nil {
			return deny(err)
		}
		in, err := input(ctx, opts, stage.Name, run.ID, run, st, stage.Environment)
		if err != nil {
			return deny(err)
		}
		cls, err := classify(ctx, opts, run, st, in, stage.Environment, nil)
		if err != nil {
			return deny(err)
		}
		gates := map[string]bool{}
		for _, p := range passed {
			gates[p] = true
		}
		adm := change.Admit(opts.Config, stage.Environment, st.Change, st.Approvals, gates, opts.Actor, in.Now)
		g := gantry.Gate{Allowed: adm.Allowed, Reasons: adm.Reasons}
		g.Notes = append(describe(st.Change.ID, cls), adm.Notes...)
		return g
	}
}

// describe explains a classification: its class and score, then each
// factor that added to the score, a line each.
func describe(id string, c *gantry.Classification) []string {
	head := fmt.Sprintf("change %s is %s: risk %.1f (normal from %.0f)", id, c.Class, c.Score, c.Threshold)
	if c.Class == gantry.ClassNormal && c.Score < c.Threshold {
		head += ", and not standard because a gate or policy did not allow it"
	}
	out := []string{head}
	for _, f := range c.Factors {
		if f.Score > 0 {
			out = append(out, fmt.Sprintf("risk factor %s %.1f of %.0f: %s", f.Name, f.Score, f.Weight, f.Detail))
		}
	}
	return out
}

// policyChange is the change as policies read it.
func policyChange(c *gantry.Change) policy.Change {
	pc := policy.Change{
		ID: c.ID, Author: c.Author, Branch: c.Branch, BaseBranch: c.BaseBranch,
		Title: c.Title, Lines: c.Lines, Files: c.Files, Paths: slices.Clone(c.Paths), Urgent: c.Urgent,
	}
	for _, cm := range c.Commits {
		pc.Commits = append(pc.Commits, policy.Commit{SHA: cm.SHA, Author: cmp.Or(cm.AuthorEmail, cm.Author), Message: cm.Subject, Time: cm.Time.UTC()})
	}
	if pr := c.PullRequest; pr != nil {
		pc.PullRequest = &policy.PullRequest{Number: pr.Number, URL: pr.URL, Title: c.Title, Base: pr.Base, Head: pr.Head}
	}
	for _, r := range c.Reviews {
		pc.Reviews = append(pc.Reviews, policy.Review{Reviewer: r.Reviewer, State: r.State, At: r.At.UTC(), Source: r.Source})
	}
	if cl := c.Classification; cl != nil {
		pc.Class = string(cl.Class)
		pc.Score = cl.Score
	}
	return pc
}

func policyApprovals(as []*gantry.Approval) []policy.Approval {
	out := []policy.Approval{}
	for _, a := range as {
		out = append(out, policy.Approval{
			Approver: a.Approver, Role: string(a.Role), Environment: a.Environment, Kind: a.Kind,
			At: a.At.UTC(), Exception: a.Exception != "", Reason: a.Exception,
		})
	}
	return out
}

func policyEnvironment(cfg *change.Config, name string, now time.Time) *policy.Environment {
	if name == "" || cfg == nil {
		return nil
	}
	env := &policy.Environment{Name: name, FreezeWindows: []policy.FreezeWindow{}}
	for _, w := range cfg.Freezes(name, now) {
		env.FreezeWindows = append(env.FreezeWindows, policy.FreezeWindow{Start: w.Start.UTC(), End: w.End.UTC(), Reason: w.Reason})
	}
	return env
}
