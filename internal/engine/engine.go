// Package engine runs a pipeline plan: stages in order, each stage's steps
// as a DAG under a concurrency limit, with timeouts, retries, cancellation,
// masked live logs, content-addressed artifacts and a gate after each stage.
// Everything that happens is reported as a stream of gantry.Events and
// recorded through the Store.
package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/secrets"
	"gantry.dev/gantry/internal/spec"
)

// GateFunc decides whether a run may go on after a stage. It gets the
// stage's step results; the default allows the run to go on only when every
// step passed. The policy engine plugs in here.
type GateFunc func(ctx context.Context, stage *spec.PlanStage, results []*gantry.StepResult) gantry.Gate

// AdmitFunc decides whether a run may enter a stage that deploys to an
// environment (stage.Environment is set), before any of its steps run:
// the environment's protection rules against the run's change. Reasons
// explain the decision either way; an allowed one is attested too. passed
// names the stages of the run whose gates allowed it so far.
type AdmitFunc func(ctx context.Context, stage *spec.PlanStage, run *gantry.Run, passed []string) gantry.Gate

// Attester records signed evidence of what a run does. The engine calls it
// as each step's result becomes final (before the result is stored, so
// that a step whose evidence could not be made is recorded as failed),
// with each stage's gate decision, and once when the run ends. Evidence
// that cannot be made fails what it was for: no evidence is not a pass.
type Attester interface {
	// AttestStep records a step that ran; kind is gantry.KindProvenance,
	// KindTestResult, KindVulns, KindScan or KindLink.
	AttestStep(ctx context.Context, run *gantry.Run, step *spec.PlanStep, res *gantry.StepResult, kind string) error
	// AttestGate records a stage's gate decision over its steps' results.
	AttestGate(ctx context.Context, run *gantry.Run, stage *gantry.StageResult, results []*gantry.StepResult) error
	// Seal makes the run's evidence provable: a signed checkpoint of the
	// ledger that holds it.
	Seal(ctx context.Context, run *gantry.Run) error
}

// Store is what the engine records a run through: a gantry.Store, or an
// agent's connection to its server.
type Store interface {
	CreateRun(ctx context.Context, r *gantry.Run) error
	UpdateRun(ctx context.Context, r *gantry.Run) error
	PutStage(ctx context.Context, s *gantry.StageResult) error
	PutStep(ctx context.Context, s *gantry.StepResult) error
	AppendLogs(ctx context.Context, run gantry.RunID, lines []gantry.LogLine) error
	PutFindings(ctx context.Context, run gantry.RunID, step string, findings []gantry.Finding) error
}

// Options configure an Engine.
type Options struct {
	// Executors by name ("local", "docker"). A step whose executor is
	// missing fails with a reason.
	Executors map[string]gantry.Executor
	Store     Store
	Blobs     gantry.BlobStore
	Actions   *action.Registry
	// Secrets are the values steps may name; a step gets only those it
	// names, and every value is masked in every log.
	Secrets map[string]string
	// BaseEnv is given to every step before its own env: the few host
	// variables a toolchain needs (PATH, HOME), in local mode.
	BaseEnv map[string]string
	// Workspace is the directory the steps share: the repository. Dir is
	// where they run, relative to it: the pipeline file's directory.
	// Outputs are relative to Dir.
	Workspace   string
	Dir         string
	Concurrency int           // steps at once; default: the number of CPUs
	Grace       time.Duration // how long a cancelled step may take to stop; default 10s
	Gate        GateFunc
	// Admit guards stages that deploy to an environment. Without it such
	// a stage is refused: no protection is not a pass.
	Admit    AdmitFunc
	Attester Attester // nil: no evidence is made
	// LogFlush, when set, writes a running step's log lines to the store
	// at least this often; otherwise every 512 lines and at the step's
	// end. An agent sets it, so its server shows logs live.
	LogFlush time.Duration
	Events   gantry.EventSink
	Now      func() time.Time
	Logger   *slog.Logger
}

// Engine runs plans.
type Engine struct {
	opts     Options
	kill     chan struct{}
	killOnce sync.Once
}

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.NumCPU()
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	if opts.Gate == nil {
		opts.Gate = StepsGate
	}
	if opts.Events == nil {
		opts.Events = gantry.EventFunc(func(gantry.Event) {})
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Actions == nil {
		opts.Actions = action.NewRegistry()
	}
	return &Engine{opts: opts, kill: make(chan struct{})}
}

// Kill stops every running step at once, without a grace period: what a
// second Ctrl-C asks for. The run's context must be cancelled as well.
func (e *Engine) Kill() { e.killOnce.Do(func() { close(e.kill) }) }

// StepsGate allows the run to go on when every step of the stage passed.
func StepsGate(_ context.Context, stage *spec.PlanStage, results []*gantry.StepResult) gantry.Gate {
	g := gantry.Gate{Allowed: true, Decider: "steps"}
	for _, r := range results {
		if !r.Passed() {
			g.Allowed = false
			reason := fmt.Sprintf("step %q %s", r.Name, r.Status)
			if r.Reason != "" {
				reason += ": " + r.Reason
			}
			g.Reasons = append(g.Reasons, reason)
		}
	}
	return g
}

// errTimeout is the cause of a step context that ran out of time.
var errTimeout = errors.New("step timed out")

// run is the state of one run of a plan.
type run struct {
	e       *Engine
	plan    *spec.Plan
	rec     *gantry.Run
	mask    *secrets.Masker
	sem     chan struct{}
	store   context.Context // for store writes that must happen even after cancel
	results map[string]*gantry.StepResult
	passed  []string // stages whose gates allowed the run, in order
	mu      sync.Mutex
}

// Run runs plan as the run r (whose ID, Trigger and Pipeline the caller
// sets), records it, and returns it finished. The returned error is for
// failures of Gantry itself (the store is gone); a failed or cancelled run is
// a Run with that status and no error.
func (e *Engine) Run(ctx context.Context, plan *spec.Plan, r *gantry.Run) (*gantry.Run, error) {
	o := e.opts
	values := make([]string, 0, len(o.Secrets))
	for _, v := range o.Secrets {
		values = append(values, v)
	}
	rn := &run{
		e:       e,
		plan:    plan,
		rec:     r,
		mask:    secrets.NewMasker(values...),
		sem:     make(chan struct{}, o.Concurrency),
		store:   context.WithoutCancel(ctx),
		results: map[string]*gantry.StepResult{},
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = o.Now()
	}
	r.Pipeline, r.PipelineDigest = plan.File, plan.Digest
	r.Status = gantry.StatusRunning
	r.StartedAt = o.Now()
	if err := o.Store.CreateRun(rn.store, r); err != nil {
		return r, fmt.Errorf("record run %s: %w", r.ID, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventRunStarted, Run: snapshot(r)})

	if missing := rn.missingSecrets(); len(missing) > 0 {
		return rn.finish(gantry.StatusFailed, missing)
	}

	status, reason := gantry.StatusSucceeded, ""
	for _, st := range plan.Stages {
		if status != gantry.StatusSucceeded {
			if err := rn.skipStage(st, reason); err != nil {
				return r, err
			}
			continue
		}
		gate, err := rn.runStage(ctx, st)
		if err != nil {
			return r, err
		}
		switch {
		case ctx.Err() != nil:
			status, reason = gantry.StatusCancelled, "cancelled"
		case gate.Allowed:
			rn.passed = append(rn.passed, st.Name)
		case !gate.Allowed:
			status = gantry.StatusFailed
			reason = fmt.Sprintf("stage %q: %s", st.Name, strings.Join(gate.Reasons, "; "))
		}
	}
	if status == gantry.StatusSucceeded && ctx.Err() != nil {
		status, reason = gantry.StatusCancelled, "cancelled"
	}
	return rn.finish(status, reason)
}

func (rn *run) finish(status gantry.Status, reason string) (*gantry.Run, error) {
	r := rn.rec
	if a := rn.e.opts.Attester; a != nil {
		if err := a.Seal(rn.store, snapshot(r)); err != nil && status != gantry.StatusCancelled {
			status, reason = gantry.StatusFailed, joinReason(reason, "evidence: "+gantry.ErrorMessageOrText(err))
		}
	}
	r.Status, r.Reason, r.FinishedAt = status, reason, rn.e.opts.Now()
	if err := rn.e.opts.Store.UpdateRun(rn.store, r); err != nil {
		return r, fmt.Errorf("record run %s: %w", r.ID, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventRunFinished, Status: status, Message: reason, Run: snapshot(r)})
	return r, nil
}

// joinReason adds more to a reason.
func joinReason(reason, more string) string {
	if reason == "" {
		return more
	}
	return reason + "; " + more
}

func snapshot(r *gantry.Run) *gantry.Run {
	c := *r
	return &c
}

func (rn *run) emit(ev gantry.Event) {
	if ev.Time.IsZero() {
		ev.Time = rn.e.opts.Now()
	}
	ev.RunID = rn.rec.ID
	rn.e.opts.Events.Emit(ev)
}

// missingSecrets names every secret a step asks for that has no value,
// before anything runs.
func (rn *run) missingSecrets() string {
	var missing []string
	seen := map[string]bool{}
	for _, st := range rn.plan.Stages {
		for _, s := range st.Steps {
			for _, name := range secrets.Missing(rn.e.opts.Secrets, s.Secrets) {
				if !seen[name] {
					seen[name] = true
					missing = append(missing, fmt.Sprintf("%s (step %q)", name, s.Name))
				}
			}
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("secrets with no value: %s; %s", strings.Join(missing, ", "), secrets.Describe("<NAME>"))
}

// skipStage records a stage that did not run, and its steps.
func (rn *run) skipStage(st *spec.PlanStage, reason string) error {
	now := rn.e.opts.Now()
	sr := &gantry.StageResult{RunID: rn.rec.ID, Index: st.Index, Name: st.Name, Status: gantry.StatusSkipped,
		Gate: gantry.Gate{Reasons: []string{"not run: " + reason}, Decider: "engine"}}
	if err := rn.e.opts.Store.PutStage(rn.store, sr); err != nil {
		return fmt.Errorf("record stage %s: %w", st.Name, err)
	}
	for _, s := range st.Steps {
		res := rn.newResult(s)
		res.Status, res.Reason, res.StartedAt, res.FinishedAt = gantry.StatusSkipped, "an earlier stage did not pass", now, now
		if err := rn.e.opts.Store.PutStep(rn.store, res); err != nil {
			return fmt.Errorf("record step %s: %w", s.Name, err)
		}
		rn.emit(gantry.Event{Type: gantry.EventStepFinished, Stage: st.Name, Step: s.Name, Status: gantry.StatusSkipped, Message: res.Reason, Result: snapshotStep(res)})
	}
	rn.emit(gantry.Event{Type: gantry.EventStageFinished, Stage: st.Name, Status: gantry.StatusSkipped, StageResult: sr})
	return nil
}

// runStage runs a stage's steps as a DAG and returns the stage's gate.
func (rn *run) runStage(ctx context.Context, st *spec.PlanStage) (gantry.Gate, error) {
	o := rn.e.opts
	sr := &gantry.StageResult{RunID: rn.rec.ID, Index: st.Index, Name: st.Name, Status: gantry.StatusRunning, StartedAt: o.Now()}
	if err := o.Store.PutStage(rn.store, sr); err != nil {
		return gantry.Gate{}, fmt.Errorf("record stage %s: %w", st.Name, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventStageStarted, Stage: st.Name, StageResult: snapshotStage(sr)})

	if st.Environment != "" {
		if gate, admitted, err := rn.admit(ctx, st, sr); !admitted || err != nil {
			return gate, err
		}
	}

	// Steps of this stage that wait for others of this stage.
	inStage := map[string]bool{}
	for _, s := range st.Steps {
		inStage[s.Name] = true
	}
	waiting := map[string]int{}
	dependents := map[string][]*spec.PlanStep{}
	var ready []*spec.PlanStep
	for _, s := range st.Steps {
		for _, n := range s.Needs {
			if inStage[n] {
				waiting[s.Name]++
				dependents[n] = append(dependents[n], s)
			}
		}
		if waiting[s.Name] == 0 {
			ready = append(ready, s)
		}
	}

	type done struct {
		step *spec.PlanStep
		err  error
	}
	finished := make(chan done)
	running := 0
	var storeErr error
	start := func(s *spec.PlanStep) {
		running++
		go func() {
			err := rn.runStep(ctx, s)
			finished <- done{s, err}
		}()
	}
	for _, s := range ready {
		start(s)
	}
	for running > 0 {
		d := <-finished
		running--
		if d.err != nil && storeErr == nil {
			storeErr = d.err
		}
		for _, dep := range dependents[d.step.Name] {
			waiting[dep.Name]--
			if waiting[dep.Name] == 0 {
				start(dep)
			}
		}
	}
	if storeErr != nil {
		return gantry.Gate{}, storeErr
	}

	results := make([]*gantry.StepResult, 0, len(st.Steps))
	rn.mu.Lock()
	for _, s := range st.Steps {
		results = append(results, rn.results[s.Name])
	}
	rn.mu.Unlock()
	var gate gantry.Gate
	if ctx.Err() != nil {
		gate = gantry.Gate{Allowed: false, Reasons: []string{"the run was cancelled"}, Decider: "engine"}
	} else {
		gate = o.Gate(ctx, st, results)
		gate.Environment = st.Environment
	}
	sr.Gate, sr.FinishedAt = gate, o.Now()
	if o.Attester != nil && ctx.Err() == nil {
		if err := o.Attester.AttestGate(rn.store, snapshot(rn.rec), snapshotStage(sr), results); err != nil {
			gate.Allowed = false
			gate.Reasons = append(gate.Reasons, "no evidence of the gate decision: "+gantry.ErrorMessageOrText(err))
			sr.Gate = gate
		}
	}
	switch {
	case ctx.Err() != nil:
		sr.Status = gantry.StatusCancelled
	case gate.Allowed:
		sr.Status = gantry.StatusSucceeded
	default:
		sr.Status = gantry.StatusFailed
	}
	if err := o.Store.PutStage(rn.store, sr); err != nil {
		return gate, fmt.Errorf("record stage %s: %w", st.Name, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventStageFinished, Stage: st.Name, Status: sr.Status, StageResult: snapshotStage(sr)})
	return gate, nil
}

// admit asks whether the run may enter a stage that deploys to an
// environment, and attests the answer. A refused stage is finished here:
// failed, with the refusal as its gate, and its steps skipped.
func (rn *run) admit(ctx context.Context, st *spec.PlanStage, sr *gantry.StageResult) (gantry.Gate, bool, error) {
	o := rn.e.opts
	decider := "environment " + st.Environment
	var g gantry.Gate
	if o.Admit == nil {
		g = gantry.Gate{Reasons: []string{"environment " + st.Environment + ": no protection rules are configured to admit a deployment"}}
	} else {
		g = o.Admit(ctx, st, snapshot(rn.rec), slices.Clone(rn.passed))
	}
	g.Decider = cmp.Or(g.Decider, decider)
	decision := snapshotStage(sr)
	decision.Gate, decision.FinishedAt = g, o.Now()
	if o.Attester != nil && ctx.Err() == nil {
		if err := o.Attester.AttestGate(rn.store, snapshot(rn.rec), decision, nil); err != nil {
			g.Allowed = false
			g.Reasons = append(g.Reasons, "no evidence of the admission decision: "+gantry.ErrorMessageOrText(err))
		}
	}
	if g.Allowed && ctx.Err() == nil {
		return g, true, nil
	}
	if ctx.Err() != nil {
		g = gantry.Gate{Allowed: false, Reasons: []string{"the run was cancelled"}, Decider: "engine"}
	}
	now := o.Now()
	for _, s := range st.Steps {
		res := rn.newResult(s)
		res.Status, res.Reason, res.StartedAt, res.FinishedAt = gantry.StatusSkipped, "not admitted to "+st.Environment, now, now
		if err := o.Store.PutStep(rn.store, res); err != nil {
			return g, false, fmt.Errorf("record step %s: %w", s.Name, err)
		}
		rn.emit(gantry.Event{Type: gantry.EventStepFinished, Stage: st.Name, Step: s.Name, Status: gantry.StatusSkipped, Message: res.Reason, Result: snapshotStep(res)})
	}
	sr.Gate, sr.FinishedAt = g, now
	sr.Status = gantry.StatusFailed
	if ctx.Err() != nil {
		sr.Status = gantry.StatusCancelled
	}
	if err := o.Store.PutStage(rn.store, sr); err != nil {
		return g, false, fmt.Errorf("record stage %s: %w", st.Name, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventStageFinished, Stage: st.Name, Status: sr.Status, StageResult: snapshotStage(sr)})
	return g, false, nil
}

func snapshotStage(s *gantry.StageResult) *gantry.StageResult {
	c := *s
	return &c
}

func (rn *run) newResult(s *spec.PlanStep) *gantry.StepResult {
	ex := s.Executor
	if s.Uses != "" {
		ex = "builtin"
	}
	img := ""
	if ex == "docker" {
		img = s.Image
	}
	return &gantry.StepResult{RunID: rn.rec.ID, Stage: s.Stage, Name: s.Name, Uses: s.Uses, Executor: ex, Image: img,
		Status: gantry.StatusPending, ExitCode: -1, AllowFail: s.ContinueOnError}
}

// envDigest is a digest of an environment with secret values replaced by
// their names, so the evidence says what a step saw without the secrets.
func envDigest(env map[string]string, secretNames []string) gantry.Digest {
	isSecret := map[string]bool{}
	for _, n := range secretNames {
		isSecret[n] = true
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		v := env[k]
		if isSecret[k] {
			v = "<secret " + k + ">"
		}
		fmt.Fprintf(h, "%s=%q\n", k, v)
	}
	return gantry.NewDigest(h.Sum(nil))
}

func newHasher() hash.Hash { return sha256.New() }
