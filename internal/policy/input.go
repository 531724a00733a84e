package policy

import (
	"slices"
	"time"

	"gantry.dev/gantry"
)

// Input is the document a gate's policies see as `input`. Its JSON form is
// a contract with policy authors, described by docs/policy.input.schema.json:
// it is built from the root package's types but does not embed them, so that
// a field added there does not silently change what policies read.
type Input struct {
	Now          time.Time     `json:"now"`   // the time of the decision; policies use it, not time.now_ns
	Stage        string        `json:"stage"` // the stage whose gate is deciding
	Change       Change        `json:"change"`
	Run          Run           `json:"run"`
	Attestations []Attestation `json:"attestations"`
	Findings     []Finding     `json:"findings"`
	Waivers      []Waiver      `json:"waivers"`
	Approvals    []Approval    `json:"approvals"`
	Environment  *Environment  `json:"environment,omitempty"` // the deployment target, if the stage deploys
	Coverage     *Coverage     `json:"coverage,omitempty"`
	Config       Config        `json:"config"`
}

// Change is what is being delivered: its commits, author and review,
// from the root package's gantry.Change.
type Change struct {
	ID          string       `json:"id,omitempty"`
	Author      string       `json:"author"`           // the forge login or e-mail of who made the change
	Branch      string       `json:"branch,omitempty"` // the branch the change is built from
	BaseBranch  string       `json:"base_branch,omitempty"`
	Commits     []Commit     `json:"commits"`
	PullRequest *PullRequest `json:"pull_request,omitempty"`
	Reviews     []Review     `json:"reviews"`
	Title       string       `json:"title,omitempty"`
	// Lines and Files measure the diff against the base; Paths are the
	// files it touches.
	Lines int      `json:"lines"`
	Files int      `json:"files"`
	Paths []string `json:"paths"`
	// Urgent is why the change was declared urgent; empty when it was not.
	Urgent string `json:"urgent,omitempty"`
	// Class and Score are the change's latest classification, from an
	// earlier gate of the run; empty before the first.
	Class string  `json:"class,omitempty"`
	Score float64 `json:"score,omitempty"`
}

// Commit is one commit of a change.
type Commit struct {
	SHA     string    `json:"sha"`
	Author  string    `json:"author"`
	Message string    `json:"message,omitempty"` // the subject line
	Time    time.Time `json:"time,omitzero"`
}

// PullRequest is the forge's pull (merge) request of a change.
type PullRequest struct {
	Number int    `json:"number"`
	URL    string `json:"url,omitempty"`
	Title  string `json:"title,omitempty"`
	Base   string `json:"base"` // the branch it merges into
	Head   string `json:"head"` // the branch it merges from
}

// Review states.
const (
	ReviewApproved         = "approved"
	ReviewChangesRequested = "changes_requested"
	ReviewCommented        = "commented"
)

// Review is one reviewer's verdict on a change, from the forge or from a
// Reviewed-by git trailer (which counts as approved).
type Review struct {
	Reviewer string    `json:"reviewer"`
	State    string    `json:"state"` // approved, changes_requested or commented
	At       time.Time `json:"at,omitzero"`
	// Source is forge for a review on the forge's pull request, trailer
	// for a commit trailer (which the commit's author wrote).
	Source string `json:"source,omitempty"`
}

// Approval is a person's approval of a change for an environment, given
// through gantry approve.
type Approval struct {
	Approver    string    `json:"approver"`
	Role        string    `json:"role,omitempty"`
	Environment string    `json:"environment"`
	Kind        string    `json:"kind,omitempty"` // approval, or retrospective for an urgent change
	At          time.Time `json:"at"`
	// Exception marks a documented single-maintainer exception: the
	// approver is the author, recorded as such.
	Exception bool   `json:"exception,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Environment is where a stage deploys to.
type Environment struct {
	Name          string         `json:"name"`
	FreezeWindows []FreezeWindow `json:"freeze_windows"`
}

// FreezeWindow is a period in which nothing may be deployed: [Start, End).
type FreezeWindow struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason,omitempty"`
}

// Coverage is the test coverage of the run and of the base branch's last
// successful run, in percent (0–100). A nil Base means it is unknown.
type Coverage struct {
	Percent float64  `json:"percent"`
	Base    *float64 `json:"base,omitempty"`
}

// Config is what the installation trusts, for the built-in library.
type Config struct {
	TrustedKeys       []string `json:"trusted_keys"`       // key hints of the keys whose signatures count
	ProtectedBranches []string `json:"protected_branches"` // globs, "/" separating segments
}

// Run is the run being gated, with its stages and steps so far.
type Run struct {
	ID             string         `json:"id"`
	Project        string         `json:"project,omitempty"`
	Pipeline       string         `json:"pipeline"`
	PipelineDigest string         `json:"pipeline_digest"`
	Trigger        gantry.Trigger `json:"trigger"`
	Status         string         `json:"status"`
	CreatedAt      time.Time      `json:"created_at"`
	StartedAt      time.Time      `json:"started_at,omitzero"`
	Stages         []Stage        `json:"stages"`
	Steps          []Step         `json:"steps"`
}

// Stage is one stage of the run, as its steps say so far.
type Stage struct {
	Name string `json:"name"`
	// Status is running while any step is not final, succeeded when every
	// step passed (gantry.StepResult.Passed), failed otherwise.
	Status string   `json:"status"`
	Steps  []string `json:"steps"`
}

// Step is one step's result.
type Step struct {
	Name     string `json:"name"`
	Stage    string `json:"stage"`
	Uses     string `json:"uses,omitempty"`
	Kind     string `json:"kind,omitempty"` // the kind of its attestation, when it has one
	Executor string `json:"executor"`
	Image    string `json:"image,omitempty"`
	Status   string `json:"status"`
	// Passed is true when the step succeeded, was skipped, or failed and
	// was allowed to.
	Passed        bool              `json:"passed"`
	ExitCode      int               `json:"exit_code"`
	Attempts      int               `json:"attempts"`
	Reason        string            `json:"reason,omitempty"`
	AllowFailure  bool              `json:"allow_failure,omitempty"`
	StartedAt     time.Time         `json:"started_at,omitzero"`
	FinishedAt    time.Time         `json:"finished_at,omitzero"`
	CommandDigest string            `json:"command_digest,omitempty"`
	Inputs        []Artifact        `json:"inputs"`
	Outputs       []Artifact        `json:"outputs"`
	Meta          map[string]string `json:"meta,omitempty"`
}

// Artifact is a file a step produced or consumed.
type Artifact struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Step   string `json:"step,omitempty"`
}

// Attestation is a signed statement recorded so far in the run.
type Attestation struct {
	Digest        string    `json:"digest"`
	Stage         string    `json:"stage"`
	Step          string    `json:"step,omitempty"` // empty for a gate decision
	Kind          string    `json:"kind"`
	PredicateType string    `json:"predicate_type"`
	Subjects      []Subject `json:"subjects"`
	KeyHint       string    `json:"key_hint"`
	LedgerIndex   int64     `json:"ledger_index"`
	CreatedAt     time.Time `json:"created_at"`
}

// Subject is what an attestation is about.
type Subject struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// Finding is a security finding of the run.
type Finding struct {
	Step        string   `json:"step"`
	Tool        string   `json:"tool"`
	RuleID      string   `json:"rule_id"`
	Severity    string   `json:"severity"`
	Confidence  string   `json:"confidence,omitempty"`
	Location    Location `json:"location"`
	Message     string   `json:"message"`
	CWE         []string `json:"cwe,omitempty"`
	Fingerprint string   `json:"fingerprint"`
	New         bool     `json:"new"`
	// Waived is true when Waiver is active at Input.Now.
	Waived bool    `json:"waived"`
	Waiver *Waiver `json:"waiver,omitempty"`
}

// Location is where a finding is.
type Location struct {
	Path   string `json:"path"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// Waiver accepts findings, for a reason, until it expires.
type Waiver struct {
	Fingerprint string    `json:"fingerprint,omitempty"`
	Rule        string    `json:"rule,omitempty"`
	Path        string    `json:"path,omitempty"`
	Reason      string    `json:"reason"`
	Owner       string    `json:"owner"`
	Expires     time.Time `json:"expires"`
	Active      bool      `json:"active"` // not expired at Input.Now
}

// Facts are what a gate needs beyond the run's own records: they come from
// the forge, the server's configuration and the deployment target.
type Facts struct {
	Now         time.Time
	Change      Change
	Approvals   []Approval
	Environment *Environment
	// Waivers in force for the project; those attached to findings are
	// added to them.
	Waivers  []gantry.Waiver
	Coverage *Coverage
	Config   Config
}

// NewInput builds the input of stage's gate from a run, its step results,
// findings and attestations so far, and the other facts. Nil slices become
// empty ones so that policies can iterate without checking.
func NewInput(stage string, run *gantry.Run, steps []*gantry.StepResult, findings []gantry.FindingRecord, atts []*gantry.Attestation, f Facts) *Input {
	in := &Input{
		Now:          f.Now.UTC(),
		Stage:        stage,
		Change:       f.Change,
		Attestations: []Attestation{},
		Findings:     []Finding{},
		Waivers:      []Waiver{},
		Approvals:    nonNil(f.Approvals),
		Environment:  f.Environment,
		Coverage:     f.Coverage,
		Config:       f.Config,
	}
	in.Change.Commits = nonNil(in.Change.Commits)
	in.Change.Reviews = nonNil(in.Change.Reviews)
	in.Change.Paths = nonNil(in.Change.Paths)
	in.Config.TrustedKeys = nonNil(in.Config.TrustedKeys)
	in.Config.ProtectedBranches = nonNil(in.Config.ProtectedBranches)
	if in.Environment != nil {
		env := *in.Environment
		env.FreezeWindows = nonNil(env.FreezeWindows)
		in.Environment = &env
	}

	kinds := map[string]string{} // step name → attestation kind
	for _, a := range atts {
		if a == nil {
			continue
		}
		subjects := make([]Subject, 0, len(a.Subjects))
		for _, s := range a.Subjects {
			subjects = append(subjects, Subject{Name: s.Name, Digest: string(s.Digest)})
		}
		in.Attestations = append(in.Attestations, Attestation{
			Digest: string(a.Digest), Stage: a.Stage, Step: a.Step, Kind: a.Kind,
			PredicateType: a.PredicateType, Subjects: subjects, KeyHint: a.KeyHint,
			LedgerIndex: a.LedgerIndex, CreatedAt: a.CreatedAt.UTC(),
		})
		if a.Step != "" && a.Kind != gantry.KindGate {
			kinds[a.Step] = a.Kind
		}
	}

	in.Run = Run{Stages: []Stage{}, Steps: []Step{}}
	if run != nil {
		in.Run.ID = string(run.ID)
		in.Run.Project = run.Project
		in.Run.Pipeline = run.Pipeline
		in.Run.PipelineDigest = string(run.PipelineDigest)
		in.Run.Trigger = run.Trigger
		in.Run.Status = string(run.Status)
		in.Run.CreatedAt = run.CreatedAt.UTC()
		in.Run.StartedAt = run.StartedAt.UTC()
		if in.Change.Branch == "" {
			in.Change.Branch = run.Trigger.Branch
		}
	}
	stageAt := map[string]int{}
	for _, s := range steps {
		if s == nil {
			continue
		}
		in.Run.Steps = append(in.Run.Steps, Step{
			Name: s.Name, Stage: s.Stage, Uses: s.Uses, Kind: kinds[s.Name],
			Executor: s.Executor, Image: s.Image, Status: string(s.Status), Passed: s.Passed(),
			ExitCode: s.ExitCode, Attempts: s.Attempts, Reason: s.Reason, AllowFailure: s.AllowFail,
			StartedAt: s.StartedAt.UTC(), FinishedAt: s.FinishedAt.UTC(),
			CommandDigest: string(s.Command),
			Inputs:        artifacts(s.Inputs), Outputs: artifacts(s.Outputs), Meta: s.Meta,
		})
		i, ok := stageAt[s.Stage]
		if !ok {
			i = len(in.Run.Stages)
			stageAt[s.Stage] = i
			in.Run.Stages = append(in.Run.Stages, Stage{Name: s.Stage, Status: string(gantry.StatusSucceeded), Steps: []string{}})
		}
		st := &in.Run.Stages[i]
		st.Steps = append(st.Steps, s.Name)
		switch {
		case !s.Status.Terminal():
			st.Status = string(gantry.StatusRunning)
		case !s.Passed() && st.Status != string(gantry.StatusRunning):
			st.Status = string(gantry.StatusFailed)
		}
	}

	seen := map[Waiver]bool{}
	addWaiver := func(w *gantry.Waiver) Waiver {
		iw := Waiver{
			Fingerprint: w.Fingerprint, Rule: w.RuleID, Path: w.Path, Reason: w.Reason,
			Owner: w.Owner, Expires: w.Expires.UTC(), Active: w.Active(in.Now),
		}
		if !seen[iw] {
			seen[iw] = true
			in.Waivers = append(in.Waivers, iw)
		}
		return iw
	}
	for i := range f.Waivers {
		addWaiver(&f.Waivers[i])
	}
	for _, r := range findings {
		fi := Finding{
			Step: r.Step, Tool: r.Tool, RuleID: r.RuleID, Severity: string(r.Severity),
			Confidence: r.Confidence, Message: r.Message, CWE: r.CWE,
			Fingerprint: r.Fingerprint, New: r.New,
			Location: Location{Path: r.Location.Path, Line: r.Location.Line, Column: r.Location.Column, Commit: r.Location.Commit},
		}
		if r.Waiver != nil {
			w := addWaiver(r.Waiver)
			fi.Waiver = &w
			fi.Waived = w.Active
		}
		in.Findings = append(in.Findings, fi)
	}
	return in
}

func artifacts(as []gantry.Artifact) []Artifact {
	out := make([]Artifact, 0, len(as))
	for _, a := range as {
		out = append(out, Artifact{Path: a.Path, Digest: string(a.Digest), Size: a.Size, Step: a.Step})
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}
