package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/coverage"
	"gantry.dev/gantry/internal/spec"
)

// runStep runs one step through to its result. It returns an error only
// when the result could not be recorded.
func (rn *run) runStep(ctx context.Context, s *spec.PlanStep) error {
	o := rn.e.opts
	res := rn.newResult(s)
	defer func() {
		rn.mu.Lock()
		rn.results[s.Name] = res
		rn.mu.Unlock()
	}()

	if reason := rn.blockedBy(s); reason != "" {
		return rn.settle(res, gantry.StatusSkipped, reason)
	}
	if ctx.Err() != nil {
		return rn.settle(res, gantry.StatusCancelled, "the run was cancelled before the step started")
	}
	if s.When != nil {
		if ok, why := s.When.Match(rn.rec.Trigger); !ok {
			return rn.settle(res, gantry.StatusSkipped, "when: "+why)
		}
	}
	select {
	case rn.sem <- struct{}{}:
	case <-ctx.Done():
		return rn.settle(res, gantry.StatusCancelled, "the run was cancelled before the step started")
	}
	defer func() { <-rn.sem }()

	res.Status, res.StartedAt = gantry.StatusRunning, o.Now()
	if err := o.Store.PutStep(rn.store, res); err != nil {
		return fmt.Errorf("record step %s: %w", s.Name, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventStepStarted, Stage: s.Stage, Step: s.Name, Status: gantry.StatusRunning, Result: snapshotStep(res)})

	log := newStepLog(rn.rec.ID, s.Name, rn.mask, o.Now, rn.emit, func(lines []gantry.LogLine) error {
		return o.Store.AppendLogs(rn.store, rn.rec.ID, lines)
	}, o.LogFlush)
	rn.execute(ctx, s, res, log)
	digest, logErr := log.close()
	res.Log = digest
	res.FinishedAt = o.Now()
	if o.Attester != nil && logErr == nil {
		if err := o.Attester.AttestStep(rn.store, snapshot(rn.rec), s, res, rn.kind(s, res)); err != nil {
			res.Status = gantry.StatusFailed
			res.Reason = joinReason(res.Reason, "no evidence: "+gantry.ErrorMessageOrText(err))
		}
	}
	if err := o.Store.PutStep(rn.store, res); err != nil {
		return fmt.Errorf("record step %s: %w", s.Name, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventStepFinished, Stage: s.Stage, Step: s.Name, Status: res.Status, Result: snapshotStep(res)})
	if logErr != nil {
		return fmt.Errorf("record log of step %s: %w", s.Name, logErr)
	}
	return nil
}

// kind chooses what a step's attestation says it is: what the pipeline
// says, else a test when it has a test report, what its built-in action
// is, a build when it has outputs, and otherwise a plain link.
func (rn *run) kind(s *spec.PlanStep, res *gantry.StepResult) string {
	switch s.Kind {
	case spec.KindBuild:
		return gantry.KindProvenance
	case spec.KindTest:
		return gantry.KindTestResult
	case spec.KindScan:
		return gantry.KindScan
	case spec.KindOther:
		return gantry.KindLink
	}
	if s.TestReport != "" {
		return gantry.KindTestResult
	}
	if s.Uses != "" {
		if e, ok := rn.e.opts.Actions.Lookup(s.Uses); ok && e.Kind != "" {
			return e.Kind
		}
	}
	if len(res.Outputs) > 0 {
		return gantry.KindProvenance
	}
	return gantry.KindLink
}

// blockedBy says why a step cannot run because of what it needs, or "".
func (rn *run) blockedBy(s *spec.PlanStep) string {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	for _, n := range s.Needs {
		r := rn.results[n]
		switch {
		case r == nil:
			return fmt.Sprintf("needs %q, which did not run", n)
		case r.Status == gantry.StatusSucceeded, r.Passed() && r.Status != gantry.StatusSkipped:
		default:
			return fmt.Sprintf("needs %q, which %s", n, r.Status)
		}
	}
	return ""
}

// settle records a step that ends without running.
func (rn *run) settle(res *gantry.StepResult, status gantry.Status, reason string) error {
	now := rn.e.opts.Now()
	res.Status, res.Reason, res.StartedAt, res.FinishedAt = status, reason, now, now
	if err := rn.e.opts.Store.PutStep(rn.store, res); err != nil {
		return fmt.Errorf("record step %s: %w", res.Name, err)
	}
	rn.emit(gantry.Event{Type: gantry.EventStepFinished, Stage: res.Stage, Step: res.Name, Status: status, Message: reason, Result: snapshotStep(res)})
	return nil
}

func snapshotStep(r *gantry.StepResult) *gantry.StepResult {
	c := *r
	return &c
}

// execute runs the step's attempts and fills in res.
func (rn *run) execute(ctx context.Context, s *spec.PlanStep, res *gantry.StepResult, log *stepLog) {
	o := rn.e.opts
	env := rn.env(s)
	res.EnvDigest = envDigest(env, s.Secrets)
	if s.Uses != "" {
		res.Command = gantry.DigestBytes([]byte("uses: " + s.Uses + "\n" + canonical(s.With)))
	} else {
		res.Command = gantry.DigestBytes([]byte(s.Script))
	}

	res.Inputs = rn.inputs(s)
	if err := ensureInputs(ctx, o.Blobs, filepath.Join(o.Workspace, o.Dir), res.Inputs); err != nil {
		res.Status, res.Reason = gantry.StatusFailed, err.Error()
		log.systemf("%s", res.Reason)
		return
	}

	stdout, stderr := log.writer(gantry.Stdout), log.writer(gantry.Stderr)
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		if attempt > 1 {
			log.systemf("retrying: attempt %d of %d", attempt, s.Retry.Count+1)
			rn.emit(gantry.Event{Type: gantry.EventStepRetrying, Stage: s.Stage, Step: s.Name, Attempt: attempt})
		}
		res.Status, res.ExitCode, res.Reason = rn.attempt(ctx, s, res, env, stdout, stderr)
		stdout.close()
		stderr.close()
		if !rn.retryable(ctx, s, res, attempt) {
			break
		}
	}
	if s.TestReport != "" && (res.Status == gantry.StatusSucceeded || res.Status == gantry.StatusFailed) {
		// A failed test run's report is what says which tests failed.
		report, err := collectOutputs(rn.store, o.Blobs, o.Workspace, o.Dir, s.Name, []string{s.TestReport})
		switch {
		case err != nil && res.Status == gantry.StatusSucceeded:
			res.Status, res.Reason = gantry.StatusFailed, "test-report: "+err.Error()
		case err != nil:
			log.systemf("test-report: %s", err)
		}
		res.Outputs = append(res.Outputs, report...)
	}
	if s.Coverage != "" && (res.Status == gantry.StatusSucceeded || res.Status == gantry.StatusFailed) {
		if err := rn.coverage(s, res); err != nil {
			if res.Status == gantry.StatusSucceeded {
				res.Status, res.Reason = gantry.StatusFailed, "coverage: "+err.Error()
			} else {
				log.systemf("coverage: %s", err)
			}
		}
	}
	outputs := slices.DeleteFunc(slices.Clone(s.Outputs), func(p string) bool { return p == s.TestReport || p == s.Coverage })
	if res.Status == gantry.StatusSucceeded && len(outputs) > 0 {
		outs, err := collectOutputs(rn.store, o.Blobs, o.Workspace, o.Dir, s.Name, outputs)
		if err != nil {
			res.Status, res.Reason = gantry.StatusFailed, err.Error()
		}
		res.Outputs = append(res.Outputs, outs...)
	}
	if res.Reason != "" {
		log.systemf("%s", res.Reason)
	}
}

// attempt runs the step once.
func (rn *run) attempt(ctx context.Context, s *spec.PlanStep, res *gantry.StepResult, env map[string]string, stdout, stderr *lineWriter) (gantry.Status, int, string) {
	o := rn.e.opts
	stepCtx, cancel := context.WithTimeoutCause(ctx, s.Timeout, errTimeout)
	defer cancel()

	var code int
	var err error
	if s.Uses != "" {
		var made []gantry.Artifact
		code, made, err = rn.runAction(stepCtx, s, env, stdout, stderr)
		res.Outputs = append(res.Outputs, made...)
	} else {
		ex, ok := o.Executors[s.Executor]
		if !ok {
			return gantry.StatusFailed, -1, fmt.Sprintf("no %s executor is configured", s.Executor)
		}
		var exit gantry.Exit
		exit, err = ex.Run(stepCtx, &gantry.Task{
			RunID: rn.rec.ID, Step: s.Name, Script: s.Script, Env: env, Workspace: o.Workspace, Dir: o.Dir,
			Image: s.Image, Network: s.Network, Stdout: stdout, Stderr: stderr,
			Kill: rn.e.kill, Grace: o.Grace,
		})
		code = exit.Code
		res.Sandbox = exit.Sandbox
		if len(exit.Meta) > 0 {
			res.Meta = exit.Meta
		}
		if exit.Signal != "" && err == nil {
			return gantry.StatusFailed, code, "killed by " + exit.Signal
		}
	}
	switch {
	case ctx.Err() != nil:
		return gantry.StatusCancelled, code, "cancelled"
	case errors.Is(context.Cause(stepCtx), errTimeout):
		return gantry.StatusTimedOut, code, fmt.Sprintf("timed out after %s", s.Timeout)
	case err != nil:
		return gantry.StatusFailed, code, gantry.ErrorMessageOrText(err)
	case code != 0:
		return gantry.StatusFailed, code, fmt.Sprintf("exit code %d", code)
	}
	return gantry.StatusSucceeded, 0, ""
}

func (rn *run) retryable(ctx context.Context, s *spec.PlanStep, res *gantry.StepResult, attempt int) bool {
	if ctx.Err() != nil || attempt > s.Retry.Count {
		return false
	}
	if res.Status != gantry.StatusFailed && res.Status != gantry.StatusTimedOut {
		return false
	}
	return len(s.Retry.ExitCodes) == 0 || slices.Contains(s.Retry.ExitCodes, res.ExitCode)
}

// runAction runs a built-in action and returns its exit code and the
// artifacts it made.
func (rn *run) runAction(ctx context.Context, s *spec.PlanStep, env map[string]string, stdout, stderr *lineWriter) (int, []gantry.Artifact, error) {
	o := rn.e.opts
	entry, ok := o.Actions.Lookup(s.Uses)
	if !ok {
		return -1, nil, gantry.Errorf(gantry.EInvalid, "unknown built-in action %q", s.Uses)
	}
	if entry.Action == nil {
		return -1, nil, gantry.Errorf(gantry.EUnavailable, "built-in action %q (%s) is not available in this version of Gantry", s.Uses, entry.Summary)
	}
	var mu sync.Mutex
	var made []gantry.Artifact
	code, err := entry.Action.Run(ctx, &action.Env{
		RunID: rn.rec.ID, Step: s.Name, Workspace: filepath.Join(o.Workspace, o.Dir),
		With: s.With, Env: env, Stdout: stdout, Stderr: stderr, Trigger: rn.rec.Trigger,
		Findings: func(ctx context.Context, findings []gantry.Finding) error {
			return o.Store.PutFindings(context.WithoutCancel(ctx), rn.rec.ID, s.Name, findings)
		},
		Artifact: func(ctx context.Context, name string, r io.Reader) (gantry.Artifact, error) {
			d, n, err := o.Blobs.Put(ctx, r)
			if err != nil {
				return gantry.Artifact{}, fmt.Errorf("store %s: %w", name, err)
			}
			a := gantry.Artifact{Path: name, Digest: d, Size: n, Step: s.Name}
			mu.Lock()
			made = append(made, a)
			mu.Unlock()
			return a, nil
		},
	})
	return code, made, err
}

// env builds a step's whole environment: the base (local executor only),
// the step's own, Gantry's, and the secrets the step names.
func (rn *run) env(s *spec.PlanStep) map[string]string {
	o := rn.e.opts
	env := map[string]string{}
	if s.Executor == "local" || s.Uses != "" {
		for k, v := range o.BaseEnv {
			env[k] = v
		}
	}
	for k, v := range s.Env {
		env[k] = v
	}
	t := rn.rec.Trigger
	for k, v := range map[string]string{
		"GANTRY":           "true",
		"GANTRY_RUN_ID":    string(rn.rec.ID),
		"GANTRY_STAGE":     s.Stage,
		"GANTRY_STEP":      s.Name,
		"GANTRY_WORKSPACE": o.Workspace, // an executor that mounts it elsewhere says where
		"GANTRY_EVENT":     t.Event,
		"GANTRY_BRANCH":    t.Branch,
		"GANTRY_COMMIT":    t.Commit,
	} {
		if v != "" {
			env[k] = v
		}
	}
	for _, n := range s.Secrets {
		env[n] = o.Secrets[n]
	}
	return env
}

// inputs are the artifacts of the steps s needs.
func (rn *run) inputs(s *spec.PlanStep) []gantry.Artifact {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var in []gantry.Artifact
	for _, n := range s.Needs {
		if r := rn.results[n]; r != nil {
			in = append(in, r.Outputs...)
		}
	}
	return in
}

func canonical(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// Unavailable returns an executor that fails every task with err: what the
// engine gets for an executor that could not be set up, so that only the
// steps that need it fail, each with the reason.
func Unavailable(name string, err error) gantry.Executor { return unavailable{name, err} }

type unavailable struct {
	name string
	err  error
}

func (u unavailable) Name() string { return u.name }

func (u unavailable) Run(context.Context, *gantry.Task) (gantry.Exit, error) {
	return gantry.Exit{Code: -1}, u.err
}

// coverage keeps a step's coverage report as an output and records its
// total in the step's Meta.
func (rn *run) coverage(s *spec.PlanStep, res *gantry.StepResult) error {
	o := rn.e.opts
	outs, err := collectOutputs(rn.store, o.Blobs, o.Workspace, o.Dir, s.Name, []string{s.Coverage})
	if err != nil {
		return err
	}
	res.Outputs = append(res.Outputs, outs...)
	rc, err := o.Blobs.Open(rn.store, outs[0].Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, coverage.MaxReport+1))
	if err != nil {
		return err
	}
	total, err := coverage.Parse(data)
	if err != nil {
		return errors.New(gantry.ErrorMessageOrText(err))
	}
	if res.Meta == nil {
		res.Meta = map[string]string{}
	}
	res.Meta[gantry.MetaCoverage] = strconv.FormatFloat(total.Percent(), 'f', 1, 64)
	return nil
}
