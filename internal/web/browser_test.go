package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gantry.dev/gantry"
)

// chromium finds a Chromium to drive. Without one the test skips, unless
// GANTRY_TEST_BROWSER=1 says that it must run (as CI does).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GANTRY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GANTRY_TEST_BROWSER") == "1" {
		t.Fatal("GANTRY_TEST_BROWSER=1 but no Chromium is on PATH: apt-get install chromium, or set GANTRY_CHROMIUM to its path")
	}
	t.Skip("no Chromium on PATH: apt-get install chromium to run the browser test (GANTRY_TEST_BROWSER=1 makes its absence a failure)")
	return ""
}

// browser drives one headless Chromium tab and records what the pages
// say on the console: a page that breaks its Content-Security-Policy or
// throws fails the test.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []string
}

func newBrowser(t *testing.T) *browser {
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	// Start the browser now, so that a missing library fails here, clearly.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, string(m.Type)+": "+m.String())
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.shot("failed")
		b.t.Fatalf("%s: %v\nconsole:\n%s", what, err, b.consoleText())
	}
}

// waitJS waits until a JavaScript expression is true. A page that is
// navigating away, or loading, is waited for.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for {
		_, err = chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil || !navigating(err) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		b.shot("failed")
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		b.t.Fatalf("wait for %s (%s): %v\nconsole:\n%s\npage:\n%s", what, expr, err, b.consoleText(), html)
	}
}

// navigating reports whether err says that the page's JavaScript context
// went away under a poll: a navigation.
func navigating(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context") || strings.Contains(msg, "context was destroyed") ||
		strings.Contains(msg, "Inspected target navigated")
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (b *browser) consoleText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.console, "\n")
}

// shot saves a screenshot when GANTRY_WEB_SCREENSHOTS names a directory:
// to look at the pages as people see them.
func (b *browser) shot(name string) {
	dir := os.Getenv("GANTRY_WEB_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// TestBrowser drives the UI in headless Chromium as a person would: sign
// in, start a run, watch it run and finish live, open a finding, and see
// the dashboard take a new run without reloading.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	e := newEnv(t, time.Now)
	e.addProject(t, "shop")
	e.addUser(t, "dana", "dana-pw", false, "shop=developer")
	triggered := make(chan *gantry.Run, 1)
	e.service.onTrigger = func(r *gantry.Run) { triggered <- r }
	base := e.srv.URL

	// Sign in: the dashboard sends us to the form and back.
	b.do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)))
	b.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "dana"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "dana-pw"),
		chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.project-card[data-project="shop"]`)),
	)
	b.waitJS("the dashboard's live stream", `document.getElementById("live").dataset.state === "live"`)

	// Start a run from the project's page.
	b.do("open the project", chromedp.Click(chromedp.CSS(`.project-card h2 a`)), chromedp.WaitVisible(chromedp.ID("run-pipeline")))
	b.do("run the pipeline", chromedp.Click(chromedp.ID("run-pipeline")))
	var run *gantry.Run
	select {
	case run = <-triggered:
	case <-time.After(20 * time.Second):
		t.Fatal("the button started no run")
	}
	b.waitJS("the run's page", fmt.Sprintf(`document.body.dataset.run === %q`, run.ID))
	b.waitJS("the run's live stream", `document.getElementById("live").dataset.state === "live"`)
	if got := b.text(`#run-head [data-field="status"]`); got != "pending" {
		t.Errorf("a new run shows %q", got)
	}

	// The agent's part, played by the test: the store and the events.
	ctx := context.Background()
	p := progress{t: t, e: e, run: run}
	now := time.Now()
	run.Status, run.StartedAt = gantry.StatusRunning, now
	p.putRun()
	p.putStage(&gantry.StageResult{RunID: run.ID, Index: 0, Name: "commit", Status: gantry.StatusRunning, StartedAt: now})
	build := &gantry.StepResult{RunID: run.ID, Stage: "commit", Name: "build", Executor: "local", Status: gantry.StatusRunning, StartedAt: now}
	p.putStep(build)
	p.logs("build", "compiling 42 packages", "<script>window.pwned=1</script>")
	b.waitJS("the run running", `document.getElementById("run-head").classList.contains("status-running")`)
	b.waitJS("the build step's box", `!!document.querySelector('#graph .stage[data-stage="commit"] li.step.status-running[data-step="build"]')`)
	b.waitJS("the build log", `(document.querySelector('details.log[data-step="build"] pre')||{}).textContent.includes("compiling 42 packages")`)
	if got := b.eval(`String(window.pwned) + " " + document.querySelectorAll('details.log[data-step="build"] pre script').length`); got != "undefined 0" {
		t.Errorf("a log line ran as HTML: %s", got)
	}
	b.shot("run-running")

	build.Status, build.FinishedAt = gantry.StatusSucceeded, now.Add(3*time.Second)
	build.Outputs = []gantry.Artifact{{Path: "dist/shop", Digest: gantry.DigestBytes([]byte("shop")), Size: 4096, Step: "build"}}
	p.putStep(build)
	sast := &gantry.StepResult{RunID: run.ID, Stage: "commit", Name: "sast", Uses: "gantry/sast", Executor: "local", Status: gantry.StatusRunning, StartedAt: now.Add(3 * time.Second)}
	p.putStep(sast)
	p.logs("sast", "1 finding: high")
	must(t, e.store.PutFindings(ctx, run.ID, "sast", []gantry.Finding{{
		Tool: "sast", RuleID: "G304", Severity: gantry.SeverityHigh, Location: gantry.Location{Path: "cmd/shop/files.go", Line: 17},
		Message: "file path from user input", Fingerprint: "g304-files-17", Help: "Clean the path and keep it under the root.",
	}}))
	sast.Status, sast.FinishedAt = gantry.StatusSucceeded, now.Add(5*time.Second)
	p.putStep(sast)
	p.putStage(&gantry.StageResult{RunID: run.ID, Index: 0, Name: "commit", Status: gantry.StatusSucceeded, StartedAt: now, FinishedAt: now.Add(5 * time.Second),
		Gate: gantry.Gate{Allowed: true, Decider: "steps"}})
	env := []byte(`{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[]}`)
	must(t, e.store.PutAttestations(ctx, []*gantry.Attestation{{
		Digest: gantry.DigestBytes(env), RunID: run.ID, Stage: "commit", Step: "build", Kind: gantry.KindProvenance,
		PredicateType: "https://slsa.dev/provenance/v1", Subjects: []gantry.Subject{{Name: "dist/shop", Digest: gantry.DigestBytes([]byte("shop"))}},
		Envelope: env, KeyHint: "agent-key", LedgerIndex: 3, CreatedAt: now.Add(5 * time.Second),
	}}))
	b.waitJS("the gate", `document.querySelector('#graph .stage[data-stage="commit"] [data-field="decision"]').textContent === "allowed"`)
	run.Status, run.FinishedAt = gantry.StatusSucceeded, now.Add(6*time.Second)
	p.putRun()

	// Finished, live: the status, and the evidence fetched from the server.
	b.waitJS("the run succeeded", `document.getElementById("run-head").classList.contains("status-succeeded")`)
	b.waitJS("the evidence", `document.body.dataset.evidence === "loaded"`)
	if got := b.text(`#run-head [data-field="status"]`); got != "succeeded" {
		t.Errorf("finished run shows %q", got)
	}
	if got := b.text(`#run-head [data-field="duration"]`); got != "6s" {
		t.Errorf("finished run's duration %q, want 6s", got)
	}
	evidence := b.text("#evidence")
	for _, want := range []string{"https://slsa.dev/provenance/v1", "dist/shop", string(gantry.DigestBytes([]byte("shop"))), "provenance", "allowed"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("the evidence section lacks %q:\n%s", want, evidence)
		}
	}
	if got := b.text(`#findings-link`); !strings.Contains(got, "1 high") {
		t.Errorf("findings link says %q", got)
	}
	b.shot("run-finished")

	// Open the finding.
	b.do("open the findings", chromedp.Click(chromedp.ID("findings-link")), chromedp.WaitVisible(chromedp.CSS(`a.finding-link`)))
	b.do("open the finding", chromedp.Click(chromedp.CSS(`a.finding-link`)), chromedp.WaitVisible(chromedp.ID("finding-rule")))
	if got := b.text("#finding-rule"); got != "G304" {
		t.Errorf("finding page shows rule %q", got)
	}
	if got := b.text("#finding-location"); got != "cmd/shop/files.go:17" {
		t.Errorf("finding page shows location %q", got)
	}
	b.shot("finding")

	// The dashboard shows the run, and takes a new one live, without a
	// reload (the marker would be gone).
	b.do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.project-card[data-project="shop"] li.run.status-succeeded`)))
	b.waitJS("the dashboard's live stream", `document.getElementById("live").dataset.state === "live"`)
	b.eval(`window.gantryMarker = "kept"; "ok"`)
	next := &gantry.Run{ID: gantry.NewRunID(time.Now()), Project: "shop", Pipeline: ".gantry.yml", Status: gantry.StatusRunning,
		Trigger: gantry.Trigger{Event: "push", Branch: "feature/cart", Commit: "c0ffee0123456789"}, CreatedAt: time.Now(), StartedAt: time.Now()}
	must(t, e.store.CreateRun(ctx, next))
	e.hub.publish(sse{Type: "run.updated", Run: next, RunID: next.ID})
	b.waitJS("the new run on the dashboard", fmt.Sprintf(
		`(function(){var li=document.querySelector('.project-card[data-project="shop"] li.run');return !!li&&li.dataset.run===%q&&li.classList.contains("status-running")&&li.querySelector('[data-field="branch"]').textContent==="feature/cart"})()`, next.ID))
	if got := b.eval(`String(window.gantryMarker)`); got != "kept" {
		t.Error("the dashboard reloaded instead of updating live")
	}
	next.Status, next.FinishedAt, next.Reason = gantry.StatusFailed, next.StartedAt.Add(2*time.Minute), "stage commit: step test failed"
	must(t, e.store.UpdateRun(ctx, next))
	e.hub.publish(sse{Type: "run.updated", Run: next, RunID: next.ID})
	b.waitJS("the new run failed on the dashboard", fmt.Sprintf(
		`(function(){var li=document.querySelector('.project-card[data-project="shop"] li.run');return li.dataset.run===%q&&li.classList.contains("status-failed")&&li.querySelector('[data-field="duration"]').textContent==="2m 00s"})()`, next.ID))
	b.shot("dashboard")

	// A token, shown once; a secret, never shown.
	b.do("create a token",
		chromedp.Navigate(base+"/admin"),
		chromedp.SendKeys(chromedp.CSS(`#tokens input[name="name"]`), "laptop"),
		chromedp.Click(chromedp.CSS(`#tokens button.primary`)),
		chromedp.WaitVisible(chromedp.ID("new-token")),
	)
	if got := b.text("#new-token"); !strings.HasPrefix(got, "gty_") {
		t.Errorf("new token shows %q", got)
	}
	b.do("set a secret",
		chromedp.SendKeys(chromedp.CSS(`#secrets input[name="name"]`), "STRIPE_KEY"),
		chromedp.SendKeys(chromedp.CSS(`#secrets input[name="value"]`), "sk_live_do_not_show"),
		chromedp.Click(chromedp.CSS(`#secrets button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	if page := b.text("main"); !strings.Contains(page, "STRIPE_KEY") || strings.Contains(page, "sk_live_do_not_show") || strings.Contains(page, "gty_") {
		t.Errorf("admin page after setting a secret:\n%s", page)
	}
	b.shot("admin")

	for _, line := range strings.Split(b.consoleText(), "\n") {
		if strings.Contains(line, "Content Security Policy") || strings.HasPrefix(line, "exception") {
			t.Errorf("console: %s", line)
		}
	}
}

// progress writes a run's progress to the store and publishes it, as the
// server does when its agent reports.
type progress struct {
	t   *testing.T
	e   *env
	run *gantry.Run
	seq map[string]int64
}

func (p *progress) putRun() {
	must(p.t, p.e.store.UpdateRun(context.Background(), p.run))
	r := *p.run
	p.e.hub.publish(sse{Type: "run.updated", Run: &r, RunID: r.ID})
}

func (p *progress) putStage(s *gantry.StageResult) {
	must(p.t, p.e.store.PutStage(context.Background(), s))
	c := *s
	p.e.hub.publish(sse{Type: "stage.updated", Stage: &c, RunID: s.RunID})
}

func (p *progress) putStep(s *gantry.StepResult) {
	must(p.t, p.e.store.PutStep(context.Background(), s))
	c := *s
	p.e.hub.publish(sse{Type: "step.updated", Step: &c, RunID: s.RunID})
}

func (p *progress) logs(step string, texts ...string) {
	if p.seq == nil {
		p.seq = map[string]int64{}
	}
	var lines []gantry.LogLine
	for _, text := range texts {
		p.seq[step]++
		lines = append(lines, gantry.LogLine{Step: step, Seq: p.seq[step], Time: time.Now(), Stream: gantry.Stdout, Text: text})
	}
	must(p.t, p.e.store.AppendLogs(context.Background(), p.run.ID, lines))
	p.e.hub.publish(sse{Type: "logs", Lines: lines, RunID: p.run.ID})
}
