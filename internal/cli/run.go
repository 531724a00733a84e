package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/cas"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/engine"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/executor/docker"
	"gantry.dev/gantry/internal/executor/local"
	"gantry.dev/gantry/internal/gate"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/scanstep"
	"gantry.dev/gantry/internal/secrets"
	"gantry.dev/gantry/internal/spec"
	"gantry.dev/gantry/internal/store/sqlite"
	"gantry.dev/gantry/internal/vcs"
)

// localBuilderID is the SLSA builder ID of steps run by gantry run.
const localBuilderID = "https://gantry.dev/builders/local/v1"

// passEnv are the host variables a local step gets besides its declared
// env: what toolchains need to find themselves and their caches. Nothing
// else of the host environment (tokens, credentials, agent sockets) is
// passed.
var passEnv = []string{"PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ"}

type runFlags struct {
	json        bool
	plain       bool
	concurrency int
	secretsFile string
	sandbox     string
	event       string
	grace       time.Duration
	baseBranch  string
	vulnDB      string
	urgent      string
}

func newRunCmd(e *env, g *globals) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the pipeline here: live progress, a summary, exit code 0 only on success",
		Long: `Run the pipeline in this repository, as CI would.

Steps run in a sandbox (new namespaces, no network unless a step asks for
it) or in Docker containers. Secrets come from GANTRY_SECRET_<NAME>
variables or --secrets-file, and reach only the steps that name them.
Ctrl-C stops every step and records the run as cancelled; a second Ctrl-C
kills them at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPipeline(cmd.Context(), e, g, f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the run's events as JSON lines")
	fl.BoolVar(&f.plain, "plain", false, "plain line output even on a terminal")
	fl.IntVarP(&f.concurrency, "concurrency", "j", runtime.NumCPU(), "run at most `N` steps at once")
	fl.StringVar(&f.secretsFile, "secrets-file", "", "read secrets from `FILE` (NAME=value lines)")
	fl.StringVar(&f.sandbox, "sandbox", "auto", "local sandbox: auto, required or off")
	fl.StringVar(&f.event, "event", "local", "the trigger event `when:` conditions see")
	fl.DurationVar(&f.grace, "grace", 10*time.Second, "how long a cancelled step may take to stop before it is killed")
	fl.StringVar(&f.baseBranch, "base-branch", "main", "the `BRANCH` whose last successful run decides which findings are new")
	fl.StringVar(&f.urgent, "urgent", "", "declare the change urgent, for `REASON`: it may deploy at once and owes a retrospective review")
	fl.StringVar(&f.vulnDB, "vulndb", "", "the offline vulnerability `DIR` of deps steps (default: GANTRY_VULNDB, then the user cache)")
	return cmd
}

func runPipeline(ctx context.Context, e *env, g *globals, f *runFlags) error {
	started := time.Now()
	p, plan, err := loadPlan(e, g)
	if err != nil {
		return err
	}
	// The change rules are checked before anything is made, as the
	// pipeline file is.
	repo, err := g.repo(e)
	if err != nil {
		return err
	}
	changeCfg, err := loadChangeRules(e, repo)
	if err != nil {
		return err
	}
	// The workspace is the repository, so that steps see all of it (a Go
	// module root above the pipeline, say); they run in the pipeline
	// file's directory. Outside git, the pipeline's directory is both.
	pipelineDir := filepath.Dir(p.File)
	workspace, dir := pipelineDir, ""
	head, root, inGit := vcs.ReadHead(pipelineDir)
	if inGit {
		if rel, err := filepath.Rel(root, pipelineDir); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			workspace, dir = root, rel
		}
	}
	if rel, err := filepath.Rel(workspace, p.File); err == nil {
		plan.File = rel // runs record the pipeline relative to the workspace
	}
	stateDir, err := g.state(e)
	if err != nil {
		return err
	}

	secretValues := secrets.FromEnviron(e.environ)
	if f.secretsFile != "" {
		fromFile, err := secrets.LoadFile(f.secretsFile)
		if err != nil {
			return err
		}
		for k, v := range fromFile {
			secretValues[k] = v
		}
	}

	if g.stateDir == "" {
		if err := ignoreState(pipelineDir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("make state directory: %w", err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(stateDir, "gantry.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	blobs, err := cas.New(filepath.Join(stateDir, "artifacts"))
	if err != nil {
		return err
	}

	keys, err := loadKeys(e, repo, stateDir, true)
	if err != nil {
		return err
	}
	log, err := ledger.Open(ctx, store, keys.ledger, nil)
	if err != nil {
		return err
	}
	recorder := evidence.NewRecorder(evidence.RecorderOptions{
		Signer: keys.signer, Findings: store, Blobs: blobs, Keeper: evidence.LedgerKeeper{Log: log, Store: store},
		Repo: vcs.SourceURI(workspace), BuilderID: localBuilderID,
	})

	keyHint, err := evidence.KeyHint(keys.signer.Public())
	if err != nil {
		return err
	}
	ui := newRenderer(e, f, plan, started)
	executors, err := setUpExecutors(ctx, plan, f, stateDir, ui)
	if err != nil {
		return err
	}
	defer func() {
		for _, ex := range executors {
			if c, ok := ex.(io.Closer); ok {
				c.Close()
			}
		}
	}()

	trigger := gantry.Trigger{Event: f.event}
	if inGit {
		trigger.Branch, trigger.Commit = head.Branch, head.Commit
		if needsChangedPaths(plan) {
			if changed, err := vcs.Changed(ctx, root); err == nil {
				trigger.Changed = changed
			} else {
				ui.notice(fmt.Sprintf("cannot list changed paths (%v); paths conditions match everything", err))
			}
		}
	}

	r := &gantry.Run{ID: gantry.NewRunID(time.Now()), Trigger: trigger}
	if inGit {
		r.Trigger.Actor = gitUser(ctx, root)
		read := change.FromGit
		if r.Trigger.Dirty = change.Dirty(ctx, root); r.Trigger.Dirty {
			read = change.FromWorkTree
		}
		c, err := read(ctx, root, f.baseBranch, time.Now())
		if err != nil {
			ui.notice(fmt.Sprintf("cannot read the change from git (%v); stages that deploy will be refused", gantry.ErrorMessageOrText(err)))
		} else {
			if f.urgent != "" {
				c.Urgent = f.urgent
			}
			if _, err := change.Record(ctx, store, c, r.ID, time.Now()); err != nil {
				return err
			}
			r.Trigger.Change = c.ID
		}
	} else if f.urgent != "" {
		return gantry.Errorf(gantry.EInvalid, "--urgent: the workspace is not a git repository, so the run belongs to no change")
	}
	gateOpts := gate.Options{Evidence: store, Pending: recorder.Pending, Base: filepath.Join(workspace, dir),
		TrustedKeys: []string{keyHint}, Warn: ui.notice,
		// Locally, the base branch stands for the protected one.
		ProtectedBranches: []string{f.baseBranch},
		Changes:           gate.StoreChanges{Store: store}, Config: changeCfg,
		// On this machine, whoever runs gantry is the project's admin.
		Actor: change.Actor{Name: r.Trigger.Actor, Role: gantry.RoleAdmin},
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	actions := action.Builtins()
	scanstep.Register(actions, scanners(scanConfig{vulnDB: vulnDBDir(e, f.vulnDB)}), scanstep.Options{
		Version:  Version,
		Baseline: baseline(store, f.baseBranch),
		ChangeBase: func(ctx context.Context, dir string) string {
			return vcs.ChangeBase(ctx, dir, f.baseBranch)
		},
	})
	eng := engine.New(engine.Options{
		Executors:   executors,
		Store:       store,
		Blobs:       blobs,
		Actions:     actions,
		Secrets:     secretValues,
		BaseEnv:     baseEnv(e.environ),
		Workspace:   workspace,
		Dir:         dir,
		Concurrency: f.concurrency,
		Grace:       f.grace,
		Attester:    recorder,
		Gate:        gate.New(gateOpts),
		Admit:       gate.Admit(gateOpts),
		Events:      ui,
	})
	stop := handleSignals(cancel, eng.Kill, ui)
	defer stop()

	r, err = eng.Run(ctx, plan, r)
	ui.close()
	if err != nil {
		return err
	}
	steps, err := store.Steps(context.WithoutCancel(ctx), r.ID)
	if err != nil {
		return err
	}
	sortByPlan(plan, steps)
	logs := func(step string) []gantry.LogLine {
		lines, _ := store.Logs(context.WithoutCancel(ctx), r.ID, step)
		return lines
	}
	shown := *r
	if stages, err := store.Stages(context.WithoutCancel(ctx), r.ID); err == nil {
		shown.Reason = stageReasons(stages, r.Reason)
	}
	ui.summary(&shown, steps, logs)
	if recs, err := store.Findings(context.WithoutCancel(ctx), r.ID, ""); err == nil {
		writeWaiversInForce(e.stdout, recs)
	}
	if atts, err := store.Attestations(context.WithoutCancel(ctx), gantry.AttestationFilter{RunID: r.ID}); err == nil && len(atts) > 0 {
		fmt.Fprintf(e.stdout, "\nevidence: %d %s signed by key %s, in ledger %s of %d entries\n",
			len(atts), plural(len(atts), "attestation", "attestations"), short(keyHint), log.Origin(), log.Size())
	}
	switch r.Status {
	case gantry.StatusSucceeded:
		return nil
	case gantry.StatusCancelled:
		return exitError{ExitCancelled}
	}
	return exitError{ExitFailed}
}

// setUpExecutors makes the local executor, and the docker one only when the
// plan has docker steps: an engine that is not reachable fails those steps,
// with the reason, and nothing else.
func setUpExecutors(ctx context.Context, plan *spec.Plan, f *runFlags, stateDir string, ui renderer) (map[string]gantry.Executor, error) {
	loc, err := local.New(local.Options{Mode: local.Mode(f.sandbox), StateDirs: []string{stateDir}})
	if err != nil {
		return nil, err
	}
	executors := map[string]gantry.Executor{"local": loc}
	usesLocal, usesDocker := false, false
	for _, st := range plan.Stages {
		for _, s := range st.Steps {
			if s.Uses != "" {
				continue
			}
			usesLocal = usesLocal || s.Executor == "local"
			usesDocker = usesDocker || s.Executor == "docker"
		}
	}
	if ok, why := loc.Sandboxed(); !ok && usesLocal {
		ui.notice("local steps run without a sandbox (" + why + "): only a process group separates them")
	}
	if usesDocker {
		d, err := docker.New(ctx, docker.Options{})
		if err != nil {
			executors["docker"] = engine.Unavailable("docker", err)
		} else {
			executors["docker"] = d
		}
	}
	return executors, nil
}

func needsChangedPaths(plan *spec.Plan) bool {
	for _, st := range plan.Stages {
		for _, s := range st.Steps {
			if s.When != nil && len(s.When.Paths) > 0 {
				return true
			}
		}
	}
	return false
}

func baseEnv(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, name := range passEnv {
			if k == name {
				env[k] = v
			}
		}
	}
	return env
}

// handleSignals cancels the run on the first SIGINT or SIGTERM and kills
// its steps on the second.
func handleSignals(cancel func(), kill func(), ui renderer) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		ui.notice("cancelling: stopping every step (press Ctrl-C again to kill them at once)")
		cancel()
		select {
		case <-sigs:
		case <-done:
			return
		}
		ui.notice("killing every step")
		kill()
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// sortByPlan puts step results in the order the pipeline file lists them.
func sortByPlan(plan *spec.Plan, steps []*gantry.StepResult) {
	order := map[string]int{}
	for _, st := range plan.Stages {
		for _, s := range st.Steps {
			order[s.Name] = len(order)
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return order[steps[i].Name] < order[steps[j].Name] })
}

// baseline returns the fingerprints a step found in the last successful
// run on the base branch: what is not among them is new.
func baseline(st gantry.Store, branch string) func(ctx context.Context, step string) (map[string]bool, error) {
	return func(ctx context.Context, step string) (map[string]bool, error) {
		runs, err := st.Runs(ctx, gantry.RunFilter{Status: gantry.StatusSucceeded, Branch: branch, Limit: 1})
		if err != nil || len(runs) == 0 {
			return nil, err
		}
		recs, err := st.Findings(ctx, runs[0].ID, step)
		if err != nil {
			return nil, err
		}
		seen := make(map[string]bool, len(recs))
		for _, r := range recs {
			seen[r.Fingerprint] = true
		}
		return seen, nil
	}
}

// writeWaiversInForce lists the waivers that waived findings of the run.
func writeWaiversInForce(w io.Writer, recs []gantry.FindingRecord) {
	type key struct{ step, name string }
	count := map[key]int{}
	var order []key
	waivers := map[key]*gantry.Waiver{}
	for _, r := range recs {
		if r.Waiver == nil {
			continue
		}
		name := r.Waiver.Fingerprint
		if name == "" {
			name = "rule " + r.Waiver.RuleID + " " + r.Waiver.Path
		}
		k := key{r.Step, name}
		if count[k] == 0 {
			order = append(order, k)
			waivers[k] = r.Waiver
		}
		count[k]++
	}
	if len(order) == 0 {
		return
	}
	fmt.Fprintf(w, "\nwaivers in force:\n")
	for _, k := range order {
		wv := waivers[k]
		fmt.Fprintf(w, "  %s: %s — %d %s, owner %s, until %s: %s\n", k.step, k.name, count[k], plural(count[k], "finding", "findings"),
			wv.Owner, scan.FormatExpiry(wv.Expires), wv.Reason)
	}
}

// stageReasons lays out why a run did not succeed: the reasons of the
// stage that stopped it, a line each, or the run's reason as it is.
func stageReasons(stages []*gantry.StageResult, reason string) string {
	for _, st := range stages {
		if st.Status != gantry.StatusFailed || len(st.Gate.Reasons) == 0 {
			continue
		}
		var b strings.Builder
		what := "did not pass its gate"
		if strings.HasPrefix(st.Gate.Decider, "environment ") {
			what = "was not admitted to " + strings.TrimPrefix(st.Gate.Decider, "environment ")
		}
		fmt.Fprintf(&b, "stage %q %s:", st.Name, what)
		for _, r := range st.Gate.Reasons {
			b.WriteString("\n  - " + r)
		}
		for _, n := range st.Gate.Notes {
			b.WriteString("\n    " + n)
		}
		return b.String()
	}
	return reason
}
