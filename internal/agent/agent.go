// Package agent is Gantry's agent: it leases jobs from a server, checks
// out the exact commit, runs the pipeline with the engine and its own
// executors, streams logs and results back as they happen, uploads
// artifacts by digest, and signs every step's attestation with the key the
// server enrolled for it.
package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/cas"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/engine"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/forge"
	"gantry.dev/gantry/internal/gate"
	"gantry.dev/gantry/internal/spec"
)

// BuilderID is the SLSA builder ID of steps an agent runs.
const BuilderID = "https://gantry.dev/builders/agent/v1"

// Options configure an Agent.
type Options struct {
	Server      string // the server's base URL
	Token       string // the agent's token
	Name        string
	Labels      []string
	Concurrency int // jobs at once; default 1
	// WorkDir holds the jobs' checkouts and the artifact cache.
	WorkDir   string
	Signer    gantry.Signer // the enrolled key
	Executors map[string]gantry.Executor
	// Actions returns the built-in actions for a job.
	Actions func(workspace string) *action.Registry
	// LeaseWait is how long one lease request waits for a job.
	LeaseWait time.Duration
	// Heartbeat is how often a held job's lease is renewed; default 10s.
	Heartbeat time.Duration
	HTTP      *http.Client
	Logger    *slog.Logger
}

// Agent runs jobs. Make one with New.
type Agent struct {
	opts Options
	c    *client
}

// New returns an Agent.
func New(opts Options) *Agent {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.LeaseWait <= 0 {
		opts.LeaseWait = 20 * time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Actions == nil {
		opts.Actions = func(string) *action.Registry { return action.Builtins() }
	}
	return &Agent{opts: opts, c: &client{base: opts.Server, token: opts.Token, http: opts.HTTP}}
}

// Run leases and runs jobs until ctx is done, Concurrency at a time.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < a.opts.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.loop(ctx)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (a *Agent) loop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		l, err := a.Lease(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.opts.Logger.Warn("lease", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if l == nil {
			continue
		}
		if err := a.RunJob(ctx, l); err != nil {
			a.opts.Logger.Error("job", "job", l.Job.ID, "err", err)
		}
	}
}

// Lease asks the server for a job, waiting up to LeaseWait; nil when
// there was none.
func (a *Agent) Lease(ctx context.Context) (*agentproto.Lease, error) {
	var l agentproto.Lease
	none, err := a.c.do(ctx, "POST", "/api/v1/agent/lease",
		agentproto.LeaseRequest{Labels: a.opts.Labels, WaitMS: int(a.opts.LeaseWait / time.Millisecond)}, &l)
	if err != nil || none {
		return nil, err
	}
	return &l, nil
}

// RunJob runs a leased job through to the end and finishes it. While it
// runs, a heartbeat renews the lease; should the lease be lost (the
// server gave the job to another agent), the run is stopped.
func (a *Agent) RunJob(ctx context.Context, l *agentproto.Lease) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go a.heartbeat(ctx, l.Job.ID, cancel)

	err := a.runJob(ctx, l)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if _, ferr := a.c.do(context.WithoutCancel(ctx), "POST", "/api/v1/agent/jobs/"+string(l.Job.ID)+"/finish", nil, nil); ferr != nil {
		return errors.Join(err, fmt.Errorf("finish job %s: %w", l.Job.ID, ferr))
	}
	return err
}

var errLeaseLost = errors.New("the lease was lost: another agent runs the job")

func (a *Agent) heartbeat(ctx context.Context, job gantry.JobID, cancel context.CancelCauseFunc) {
	t := time.NewTicker(a.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, err := a.c.do(ctx, "POST", "/api/v1/agent/jobs/"+string(job)+"/heartbeat", nil, nil)
			if gantry.ErrorKind(err) == gantry.EConflict {
				cancel(errLeaseLost)
				return
			}
			if err != nil {
				a.opts.Logger.Warn("heartbeat", "job", job, "err", err)
			}
		}
	}
}

// runJob checks out the commit, loads its pipeline and runs it. A run
// that cannot start (no such commit, a broken pipeline file) is recorded
// as failed with the reason.
func (a *Agent) runJob(ctx context.Context, l *agentproto.Lease) error {
	jc := &client{base: a.opts.Server, token: l.Token, http: a.opts.HTTP}
	rem := &remote{c: jc, run: l.Run.ID}
	var err error
	if rem.local, err = cas.New(filepath.Join(a.opts.WorkDir, "artifacts")); err != nil {
		return err
	}
	dir := filepath.Join(a.opts.WorkDir, "jobs", string(l.Job.ID))
	_ = removeAll(dir)
	defer removeAll(dir)
	repoURL, gitEnv := l.Project.RepoURL, []string(nil)
	if co := l.Checkout; co != nil {
		ft, _ := forge.ParseType(co.Forge)
		cu, err := forge.NewCloneURL(ft, repoURL, co.Token)
		if err != nil {
			return a.fail(ctx, rem, l.Run, "checkout: "+gantry.ErrorMessageOrText(err))
		}
		// The credential goes to git as a header, so it is neither in
		// .git/config nor in any URL a step could read.
		repoURL, gitEnv = cu.Plain(), cu.GitEnv()
	}
	commit, err := checkout(ctx, repoURL, gitEnv, l.Run.Trigger.Branch, l.Run.Trigger.Commit, dir)
	if err != nil {
		return a.fail(ctx, rem, l.Run, "checkout: "+gantry.ErrorMessageOrText(err))
	}
	run := *l.Run
	run.Trigger.Commit = commit

	p, err := spec.Load(filepath.Join(dir, filepath.FromSlash(l.Project.PipelinePath)), spec.Options{})
	if err != nil {
		return a.fail(ctx, rem, &run, gantry.ErrorMessageOrText(err))
	}
	plan, err := p.Plan()
	if err != nil {
		return a.fail(ctx, rem, &run, gantry.ErrorMessageOrText(err))
	}
	if rel, err := filepath.Rel(dir, p.File); err == nil {
		plan.File = filepath.ToSlash(rel)
	}
	pipelineDir, _ := filepath.Rel(dir, filepath.Dir(p.File))
	var names []string
	for _, st := range plan.Stages {
		for _, s := range st.Steps {
			names = append(names, s.Secrets...)
		}
	}
	secretValues, err := rem.secrets(ctx, names)
	if err != nil {
		return a.fail(ctx, rem, &run, "secrets: "+gantry.ErrorMessageOrText(err))
	}
	recorder := evidence.NewRecorder(evidence.RecorderOptions{
		Signer: a.opts.Signer, Findings: rem, Blobs: rem, Keeper: rem,
		Repo: "git+" + l.Project.RepoURL, BuilderID: BuilderID,
	})
	hint, err := evidence.KeyHint(a.opts.Signer.Public())
	if err != nil {
		return err
	}
	cfg, err := change.ParseConfig("project "+l.Project.Name+" changes", []byte(l.Project.Changes))
	if err != nil {
		return a.fail(ctx, rem, &run, gantry.ErrorMessageOrText(err))
	}
	gateOpts := gate.Options{Evidence: rem, Pending: recorder.Pending, Base: filepath.Join(dir, pipelineDir),
		TrustedKeys: []string{hint}, Warn: func(msg string) { a.opts.Logger.Warn(msg, "job", l.Job.ID) },
		ProtectedBranches: protectedBranches(l.Project),
		Changes:           a.recordChange(ctx, rem, l, &run, dir), Config: cfg,
		Actor: change.Actor{Name: run.Trigger.Actor, Role: l.ActorRole},
	}
	eng := engine.New(engine.Options{
		Gate:      gate.New(gateOpts),
		Admit:     gate.Admit(gateOpts),
		Executors: a.opts.Executors, Store: rem, Blobs: rem, Actions: a.opts.Actions(dir),
		Secrets: secretValues, BaseEnv: map[string]string{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME")},
		Workspace: dir, Dir: pipelineDir, Attester: recorder, Logger: a.opts.Logger, LogFlush: 200 * time.Millisecond,
	})
	_, err = eng.Run(ctx, plan, &run)
	return err
}

// recordChange records the run's change as the checkout shows it, where
// the server knows better with what it knows (the change's ID, its pull
// request, the forge login that pushed it), and returns the gates' view of
// it. A change that cannot be recorded is noted; the gates then refuse
// every stage that deploys.
func (a *Agent) recordChange(ctx context.Context, rem *remote, l *agentproto.Lease, run *gantry.Run, dir string) gate.Changes {
	t := &run.Trigger
	if t.Change == "" {
		t.Change = change.ID(*t) // a run of a branch: the commit checked out
	}
	// What the server recorded when the run was triggered, if anything.
	var known *gantry.Change
	if st, err := rem.ChangeState(ctx, run.Project, t.Change, time.Time{}); err == nil {
		known = st.Change
	}
	base := l.Project.DefaultBranch
	if known != nil && known.PullRequest != nil && known.PullRequest.Base != "" {
		base = known.PullRequest.Base
	}
	c, err := change.FromGit(ctx, dir, base, time.Now())
	if err == nil {
		c.ID, c.Project = t.Change, run.Project
		c.Branch = cmp.Or(t.Branch, c.Branch)
		if known != nil && known.PullRequest != nil {
			c.PullRequest = known.PullRequest
			c.Title = cmp.Or(known.Title, c.Title)
		}
		if c.PullRequest == nil && t.PullRequest > 0 {
			c.PullRequest = &gantry.PullRequest{Number: t.PullRequest, Base: base, Head: t.Branch}
		}
		if t.Forge != "" && t.Actor != "" {
			c.Author = t.Actor // the forge's login, not what git was told
		}
		err = rem.PutChange(ctx, c)
	}
	if err != nil {
		a.opts.Logger.Warn("the run's change could not be recorded; stages that deploy will be refused",
			"job", l.Job.ID, "change", t.Change, "err", err)
		return unrecorded{err}
	}
	return rem
}

// fail records a run that could not start.
func (a *Agent) fail(ctx context.Context, rem *remote, run *gantry.Run, reason string) error {
	now := time.Now()
	r := *run
	r.StartedAt = now
	if err := rem.CreateRun(ctx, &r); err != nil {
		return err
	}
	r.Status, r.Reason, r.FinishedAt = gantry.StatusFailed, reason, now
	return rem.UpdateRun(ctx, &r)
}

// checkout clones repo into dir and checks out commit (or the head of
// branch), returning the commit checked out. Credentials in the URL are
// the job's read-only ones, given as git configuration in gitEnv; git is
// told not to ask for others.
func checkout(ctx context.Context, repo string, gitEnv []string, branch, commit, dir string) (string, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env = append(append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true"), gitEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %s", args[0], redact(strings.TrimSpace(string(out)), repo))
		}
		return strings.TrimSpace(string(out)), nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	args := []string{"clone", "--quiet", "--no-checkout"}
	if branch != "" && commit == "" {
		args = append(args, "--branch", branch)
	}
	if _, err := git(append(args, "--", repo, dir)...); err != nil {
		return "", err
	}
	ref := commit
	if ref == "" {
		ref = "HEAD"
	}
	if _, err := git("-C", dir, "checkout", "--quiet", "--detach", ref); err != nil {
		return "", err
	}
	return git("-C", dir, "rev-parse", "HEAD")
}

// redact removes the credentials of a repository URL from text.
func redact(text, repo string) string {
	if i := strings.Index(repo, "://"); i >= 0 {
		if at := strings.Index(repo[i+3:], "@"); at >= 0 {
			text = strings.ReplaceAll(text, repo[i+3:i+3+at], "***")
		}
	}
	return text
}

// protectedBranches are the branches a project's gates treat as protected:
// its own list, or its default branch.
func protectedBranches(p *gantry.Project) []string {
	if len(p.ProtectedBranches) > 0 {
		return p.ProtectedBranches
	}
	if p.DefaultBranch != "" {
		return []string{p.DefaultBranch}
	}
	return nil
}
