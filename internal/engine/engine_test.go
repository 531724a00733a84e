package engine

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/cas"
	"gantry.dev/gantry/internal/spec"
	"gantry.dev/gantry/internal/store/sqlite"
)

// harness runs pipelines written in YAML through a real engine, a real
// SQLite store and blob store, and the fake executor.
type harness struct {
	t       *testing.T
	fake    *fakeExecutor
	store   *sqlite.Store
	blobs   *cas.Store
	ws      string
	mu      sync.Mutex
	events  []gantry.Event
	opts    Options
	trigger gantry.Trigger
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := cas.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fake: newFake(), store: st, blobs: blobs, ws: t.TempDir(), trigger: gantry.Trigger{Event: "local", Branch: "main"}}
	h.opts = Options{
		Executors: map[string]gantry.Executor{"local": h.fake, "docker": h.fake},
		Store:     st, Blobs: blobs, Workspace: h.ws, Concurrency: 4,
		Events: gantry.EventFunc(func(e gantry.Event) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		}),
	}
	return h
}

func (h *harness) plan(yml string) *spec.Plan {
	h.t.Helper()
	p, err := spec.Parse(".gantry.yml", []byte(yml), spec.Options{})
	if err != nil {
		h.t.Fatalf("parse: %v", err)
	}
	plan, err := p.Plan()
	if err != nil {
		h.t.Fatalf("plan: %v", err)
	}
	return plan
}

func (h *harness) run(ctx context.Context, yml string) (*gantry.Run, map[string]*gantry.StepResult) {
	h.t.Helper()
	r, err := New(h.opts).Run(ctx, h.plan(yml), &gantry.Run{ID: gantry.NewRunID(time.Now()), Trigger: h.trigger})
	if err != nil {
		h.t.Fatalf("Run: %v", err)
	}
	steps, err := h.store.Steps(context.Background(), r.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	byName := map[string]*gantry.StepResult{}
	for _, s := range steps {
		byName[s.Name] = s
	}
	return r, byName
}

func (h *harness) logText(r gantry.RunID, step string) string {
	lines, err := h.store.Logs(context.Background(), r, step)
	if err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func TestNeedsOrderAndConcurrencyLimit(t *testing.T) {
	h := newHarness(t)
	h.opts.Concurrency = 2
	r, steps := h.run(context.Background(), `version: 1
stages:
  - name: one
    steps:
      - {name: a, run: sleep 20ms}
      - {name: b, run: sleep 20ms, needs: [a]}
      - {name: c, run: sleep 20ms, needs: [a]}
      - {name: d, run: sleep 20ms, needs: [a]}
      - {name: e, run: echo done, needs: [b, c, d]}
`)
	if r.Status != gantry.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Reason)
	}
	order := h.fake.startOrder()
	pos := func(s string) int { return slices.Index(order, s) }
	if pos("a") != 0 || pos("e") != 4 {
		t.Errorf("start order %v: a must start first and e last", order)
	}
	if h.fake.peak > 2 {
		t.Errorf("%d steps ran at once, limit 2", h.fake.peak)
	}
	if h.fake.peak < 2 {
		t.Errorf("b, c and d never overlapped: peak %d", h.fake.peak)
	}
	if !steps["e"].StartedAt.After(steps["d"].FinishedAt) && !steps["e"].StartedAt.Equal(steps["d"].FinishedAt) {
		t.Errorf("e started before d finished")
	}
}

func TestFailedStageGateSkipsLaterStages(t *testing.T) {
	h := newHarness(t)
	r, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: build, run: exit 2}
      - {name: lint, run: echo fine}
      - {name: test, run: echo never, needs: [build]}
  - name: deploy
    steps:
      - {name: ship, run: echo never}
`)
	if r.Status != gantry.StatusFailed || !strings.Contains(r.Reason, `step "build" failed: exit code 2`) {
		t.Errorf("run = %s %q", r.Status, r.Reason)
	}
	want := map[string]gantry.Status{"build": gantry.StatusFailed, "lint": gantry.StatusSucceeded, "test": gantry.StatusSkipped, "ship": gantry.StatusSkipped}
	for name, st := range want {
		if steps[name] == nil || steps[name].Status != st {
			t.Errorf("step %s = %+v, want %s", name, steps[name], st)
		}
	}
	if steps["build"].ExitCode != 2 {
		t.Errorf("exit code %d not recorded", steps["build"].ExitCode)
	}
	if !strings.Contains(steps["test"].Reason, `needs "build", which failed`) {
		t.Errorf("skip reason %q", steps["test"].Reason)
	}
	stages, _ := h.store.Stages(context.Background(), r.ID)
	if len(stages) != 2 || stages[0].Gate.Allowed || stages[1].Status != gantry.StatusSkipped {
		t.Errorf("stages %+v", stages)
	}
	if slices.Contains(h.fake.startOrder(), "ship") {
		t.Error("a step of a later stage ran after a failed gate")
	}
}

func TestContinueOnError(t *testing.T) {
	h := newHarness(t)
	r, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: flaky, run: exit 1, continue-on-error: true}
      - {name: after, run: echo ok, needs: [flaky]}
`)
	if r.Status != gantry.StatusSucceeded {
		t.Errorf("run %s: %s", r.Status, r.Reason)
	}
	if steps["flaky"].Status != gantry.StatusFailed || !steps["flaky"].AllowFail || steps["after"].Status != gantry.StatusSucceeded {
		t.Errorf("flaky %+v after %+v", steps["flaky"], steps["after"])
	}
}

func TestRetry(t *testing.T) {
	h := newHarness(t)
	r, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: eventually, run: fail-until 3, retry: 2}
      - {name: wrong-code, run: exit 1, retry: {count: 3, exit-codes: [75]}}
      - {name: right-code, run: exit 75, retry: {count: 1, exit-codes: [75]}}
`)
	if r.Status != gantry.StatusFailed {
		t.Errorf("run %s", r.Status)
	}
	for name, want := range map[string]struct {
		status   gantry.Status
		attempts int
	}{
		"eventually": {gantry.StatusSucceeded, 3},
		"wrong-code": {gantry.StatusFailed, 1},
		"right-code": {gantry.StatusFailed, 2},
	} {
		if s := steps[name]; s.Status != want.status || s.Attempts != want.attempts {
			t.Errorf("%s: %s after %d attempts, want %s after %d", name, s.Status, s.Attempts, want.status, want.attempts)
		}
	}
	if !strings.Contains(h.logText(r.ID, "eventually"), "retrying: attempt 3 of 3") {
		t.Errorf("no retry line in the log:\n%s", h.logText(r.ID, "eventually"))
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t)
	r, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: slow, run: sleep 1m, timeout: 50ms}
`)
	if r.Status != gantry.StatusFailed || steps["slow"].Status != gantry.StatusTimedOut {
		t.Errorf("run %s, step %+v", r.Status, steps["slow"])
	}
	if !strings.Contains(steps["slow"].Reason, "timed out after 50ms") {
		t.Errorf("reason %q", steps["slow"].Reason)
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	h.opts.Events = gantry.EventFunc(func(e gantry.Event) {
		if e.Type == gantry.EventStepStarted && e.Step == "long" {
			go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		}
	})
	r, steps := h.run(ctx, `version: 1
stages:
  - name: commit
    steps:
      - {name: long, run: sleep 1m}
      - {name: next, run: echo never, needs: [long]}
  - name: later
    steps:
      - {name: never, run: echo never}
`)
	if r.Status != gantry.StatusCancelled {
		t.Errorf("run %s, want cancelled", r.Status)
	}
	if steps["long"].Status != gantry.StatusCancelled {
		t.Errorf("long %+v", steps["long"])
	}
	if steps["next"].Status == gantry.StatusSucceeded || steps["never"].Status != gantry.StatusSkipped {
		t.Errorf("next %s never %s", steps["next"].Status, steps["never"].Status)
	}
	got, _ := h.store.Run(context.Background(), r.ID)
	if got.Status != gantry.StatusCancelled || got.FinishedAt.IsZero() {
		t.Errorf("stored run %+v", got)
	}
}

func TestSecretsReachOnlyNamingStepsAndAreMasked(t *testing.T) {
	h := newHarness(t)
	secret := "hunter2-Sup3r/Secret+"
	h.opts.Secrets = map[string]string{"DB_PASSWORD": secret}
	var mu sync.Mutex
	var printed strings.Builder
	h.opts.Events = gantry.EventFunc(func(e gantry.Event) {
		if e.Type == gantry.EventLog {
			mu.Lock()
			printed.WriteString(e.Log.Text + "\n")
			mu.Unlock()
		}
	})
	forms := []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)),
		url.QueryEscape(secret),
		hex.EncodeToString([]byte(secret)),
	}
	script := "env DB_PASSWORD"
	for _, f := range forms {
		script += "\\necho value " + f + "\\nerr value " + f
	}
	r, _ := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: uses-it, run: "`+script+`", secrets: [DB_PASSWORD]}
      - {name: does-not, run: env DB_PASSWORD}
`)
	if r.Status != gantry.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Reason)
	}
	stored := h.logText(r.ID, "")
	for _, f := range forms {
		if strings.Contains(stored, f) || strings.Contains(printed.String(), f) {
			t.Errorf("secret form %q leaked:\nstored:\n%s\nprinted:\n%s", f, stored, printed.String())
		}
	}
	if !strings.Contains(stored, "DB_PASSWORD=***") {
		t.Errorf("the naming step did not get the secret:\n%s", stored)
	}
	if !strings.Contains(h.logText(r.ID, "does-not"), "DB_PASSWORD unset") {
		t.Errorf("a step that does not name the secret got it")
	}
	if got := h.fake.tasks["does-not"].Env["DB_PASSWORD"]; got != "" {
		t.Errorf("env of does-not has the secret")
	}
}

func TestMissingSecretFailsBeforeAnythingRuns(t *testing.T) {
	h := newHarness(t)
	r, _ := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: a, run: echo hi, secrets: [NOPE]}
`)
	if r.Status != gantry.StatusFailed || !strings.Contains(r.Reason, "NOPE") || len(h.fake.startOrder()) != 0 {
		t.Errorf("run %s %q, started %v", r.Status, r.Reason, h.fake.startOrder())
	}
}

func TestOutputsBecomeArtifactsAndInputs(t *testing.T) {
	h := newHarness(t)
	r, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: build, run: "write bin/app binary-bytes\nwrite dist/a.txt A\nwrite dist/sub/b.txt B", outputs: [bin/app, "dist/**/*.txt"]}
      - {name: test, run: echo testing, needs: [build]}
      - {name: broken, run: echo nothing, outputs: [missing.bin]}
`)
	build := steps["build"]
	if build.Status != gantry.StatusSucceeded || len(build.Outputs) != 3 {
		t.Fatalf("build %+v", build)
	}
	want := gantry.DigestBytes([]byte("binary-bytes"))
	if build.Outputs[0].Path != "bin/app" || build.Outputs[0].Digest != want {
		t.Errorf("outputs %+v", build.Outputs)
	}
	rc, err := h.blobs.Open(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "binary-bytes" {
		t.Errorf("stored artifact %q", b)
	}
	if len(steps["test"].Inputs) != 3 || steps["test"].Inputs[0].Digest != want {
		t.Errorf("test inputs %+v", steps["test"].Inputs)
	}
	if steps["broken"].Status != gantry.StatusFailed || !strings.Contains(steps["broken"].Reason, `declared output "missing.bin" was not produced`) {
		t.Errorf("broken %+v", steps["broken"])
	}
	recs, err := h.store.Artifacts(context.Background(), gantry.ArtifactFilter{Digest: want})
	if err != nil || len(recs) != 1 || recs[0].RunID != r.ID {
		t.Errorf("artifact index %+v %v", recs, err)
	}
	if !build.Log.Valid() || !build.Command.Valid() || !build.EnvDigest.Valid() {
		t.Errorf("digests missing: %+v", build)
	}
}

func TestWhenSkips(t *testing.T) {
	h := newHarness(t)
	h.trigger = gantry.Trigger{Event: "local", Branch: "feature/x", Changed: []string{"docs/readme.md"}}
	_, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: main-only, run: echo x, when: {branch: [main]}}
      - {name: go-changes, run: echo x, when: {paths: ["**/*.go"]}}
      - {name: docs, run: echo x, when: {paths: ["docs/**"], event: [local]}}
`)
	if steps["main-only"].Status != gantry.StatusSkipped || !strings.HasPrefix(steps["main-only"].Reason, "when: ") {
		t.Errorf("main-only %+v", steps["main-only"])
	}
	if steps["go-changes"].Status != gantry.StatusSkipped || steps["docs"].Status != gantry.StatusSucceeded {
		t.Errorf("go-changes %s docs %s", steps["go-changes"].Status, steps["docs"].Status)
	}
}

func TestBuiltinActions(t *testing.T) {
	h := newHarness(t)
	reg := action.NewRegistry()
	reg.Register(action.Entry{Name: "greet", Action: action.Func(func(ctx context.Context, env *action.Env) (int, error) {
		io.WriteString(env.Stdout, "hello "+env.With["who"]+"\n")
		return 0, nil
	})})
	reg.Register(action.Entry{Name: "sast", Summary: "static analysis"})
	reg.Register(action.Entry{Name: "scanner", Action: action.Func(func(ctx context.Context, env *action.Env) (int, error) {
		f := gantry.Finding{Tool: "scanner", RuleID: "R1", Severity: gantry.SeverityHigh, Fingerprint: "fp1", Location: gantry.Location{Path: "x.go", Line: 3}}
		if err := env.Findings(ctx, []gantry.Finding{f}); err != nil {
			return -1, err
		}
		if _, err := env.Artifact(ctx, "scanner.sarif", strings.NewReader("{}")); err != nil {
			return -1, err
		}
		return 1, nil
	})})
	h.opts.Actions = reg
	r, steps := h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: hi, uses: greet, with: {who: world}}
      - {name: scan, uses: sast}
      - {name: finds, uses: scanner}
`)
	if steps["finds"].Status != gantry.StatusFailed || len(steps["finds"].Outputs) != 1 || steps["finds"].Outputs[0].Path != "scanner.sarif" {
		t.Errorf("finds %+v", steps["finds"])
	}
	found, err := h.store.Findings(context.Background(), r.ID, "finds")
	if err != nil || len(found) != 1 || found[0].RuleID != "R1" {
		t.Errorf("stored findings %+v, %v", found, err)
	}
	if steps["hi"].Status != gantry.StatusSucceeded || h.logText(r.ID, "hi") != "hello world\n" {
		t.Errorf("hi %+v log %q", steps["hi"], h.logText(r.ID, "hi"))
	}
	if steps["scan"].Status != gantry.StatusFailed || !strings.Contains(steps["scan"].Reason, "not available") {
		t.Errorf("an action that is not built yet must fail closed: %+v", steps["scan"])
	}
}

func TestUnavailableExecutorFailsOnlyItsSteps(t *testing.T) {
	h := newHarness(t)
	h.opts.Executors["docker"] = Unavailable("docker", gantry.Errorf(gantry.EUnavailable, "docker engine not reachable"))
	_, steps := h.run(context.Background(), `version: 1
defaults: {image: busybox}
stages:
  - name: commit
    steps:
      - {name: in-docker, run: echo x, executor: docker}
      - {name: here, run: echo x}
`)
	if steps["in-docker"].Status != gantry.StatusFailed || steps["in-docker"].Reason != "docker engine not reachable" || steps["here"].Status != gantry.StatusSucceeded {
		t.Errorf("in-docker %+v here %+v", steps["in-docker"], steps["here"])
	}
}

func TestEventStream(t *testing.T) {
	h := newHarness(t)
	h.run(context.Background(), `version: 1
stages:
  - name: commit
    steps:
      - {name: a, run: "echo one\nerr two"}
      - {name: b, run: echo three, needs: [a]}
`)
	types := make([]gantry.EventType, 0, len(h.events))
	for _, e := range h.events {
		types = append(types, e.Type)
	}
	want := []gantry.EventType{
		gantry.EventRunStarted, gantry.EventStageStarted,
		gantry.EventStepStarted, gantry.EventLog, gantry.EventLog, gantry.EventStepFinished,
		gantry.EventStepStarted, gantry.EventLog, gantry.EventStepFinished,
		gantry.EventStageFinished, gantry.EventRunFinished,
	}
	if !slices.Equal(types, want) {
		t.Errorf("events\n got %v\nwant %v", types, want)
	}
	for _, e := range h.events {
		if e.Type == gantry.EventLog && (e.Log.Seq < 1 || e.Log.Time.IsZero()) {
			t.Errorf("log line without seq or time: %+v", e.Log)
		}
	}
}
