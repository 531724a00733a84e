package web_test

import (
	"context"
	"fmt"
	"gantry.dev/gantry/internal/web/webtest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gantry.dev/gantry"
)

// TestBrowser drives the UI in headless Chromium as a person would: sign
// in, start a run, watch it run and finish live, open a finding, and see
// the dashboard take a new run without reloading.
func TestBrowser(t *testing.T) {
	b := webtest.New(t)
	e := newEnv(t, time.Now)
	e.addProject(t, "shop")
	e.addUser(t, "dana", "dana-pw", false, "shop=developer")
	triggered := make(chan *gantry.Run, 1)
	e.service.onTrigger = func(r *gantry.Run) { triggered <- r }
	base := e.srv.URL

	// Sign in: the dashboard sends us to the form and back.
	b.Do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)))
	b.Do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "dana"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "dana-pw"),
		chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.project-card[data-project="shop"]`)),
	)
	b.WaitJS("the dashboard's live stream", `document.getElementById("live").dataset.state === "live"`, 0)

	// Start a run from the project's page.
	b.Do("open the project", chromedp.Click(chromedp.CSS(`.project-card h2 a`)), chromedp.WaitVisible(chromedp.ID("run-pipeline")))
	b.Do("run the pipeline", chromedp.Click(chromedp.ID("run-pipeline")))
	var run *gantry.Run
	select {
	case run = <-triggered:
	case <-time.After(20 * time.Second):
		t.Fatal("the button started no run")
	}
	b.WaitJS("the run's page", fmt.Sprintf(`document.body.dataset.run === %q`, run.ID), 0)
	b.WaitJS("the run's live stream", `document.getElementById("live").dataset.state === "live"`, 0)
	if got := b.Text(`#run-head [data-field="status"]`); got != "pending" {
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
	b.WaitJS("the run running", `document.getElementById("run-head").classList.contains("status-running")`, 0)
	b.WaitJS("the build step's box", `!!document.querySelector('#graph .stage[data-stage="commit"] li.step.status-running[data-step="build"]')`, 0)
	b.WaitJS("the build log", `(document.querySelector('details.log[data-step="build"] pre')||{}).textContent.includes("compiling 42 packages")`, 0)
	if got := b.Eval(`String(window.pwned) + " " + document.querySelectorAll('details.log[data-step="build"] pre script').length`); got != "undefined 0" {
		t.Errorf("a log line ran as HTML: %s", got)
	}
	b.Shot("run-running")

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
	b.WaitJS("the gate", `document.querySelector('#graph .stage[data-stage="commit"] [data-field="decision"]').textContent === "allowed"`, 0)
	run.Status, run.FinishedAt = gantry.StatusSucceeded, now.Add(6*time.Second)
	p.putRun()

	// Finished, live: the status, and the evidence fetched from the server.
	b.WaitJS("the run succeeded", `document.getElementById("run-head").classList.contains("status-succeeded")`, 0)
	b.WaitJS("the evidence", `document.body.dataset.evidence === "loaded"`, 0)
	if got := b.Text(`#run-head [data-field="status"]`); got != "succeeded" {
		t.Errorf("finished run shows %q", got)
	}
	if got := b.Text(`#run-head [data-field="duration"]`); got != "6s" {
		t.Errorf("finished run's duration %q, want 6s", got)
	}
	evidence := b.Text("#evidence")
	for _, want := range []string{"https://slsa.dev/provenance/v1", "dist/shop", string(gantry.DigestBytes([]byte("shop"))), "provenance", "allowed"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("the evidence section lacks %q:\n%s", want, evidence)
		}
	}
	if got := b.Text(`#findings-link`); !strings.Contains(got, "1 high") {
		t.Errorf("findings link says %q", got)
	}
	b.Shot("run-finished")

	// Open the finding.
	b.Do("open the findings", chromedp.Click(chromedp.ID("findings-link")), chromedp.WaitVisible(chromedp.CSS(`a.finding-link`)))
	b.Do("open the finding", chromedp.Click(chromedp.CSS(`a.finding-link`)), chromedp.WaitVisible(chromedp.ID("finding-rule")))
	if got := b.Text("#finding-rule"); got != "G304" {
		t.Errorf("finding page shows rule %q", got)
	}
	if got := b.Text("#finding-location"); got != "cmd/shop/files.go:17" {
		t.Errorf("finding page shows location %q", got)
	}
	b.Shot("finding")

	// The dashboard shows the run, and takes a new one live, without a
	// reload (the marker would be gone).
	b.Do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.project-card[data-project="shop"] li.run.status-succeeded`)))
	b.WaitJS("the dashboard's live stream", `document.getElementById("live").dataset.state === "live"`, 0)
	b.Eval(`window.gantryMarker = "kept"; "ok"`)
	next := &gantry.Run{ID: gantry.NewRunID(time.Now()), Project: "shop", Pipeline: ".gantry.yml", Status: gantry.StatusRunning,
		Trigger: gantry.Trigger{Event: "push", Branch: "feature/cart", Commit: "c0ffee0123456789"}, CreatedAt: time.Now(), StartedAt: time.Now()}
	must(t, e.store.CreateRun(ctx, next))
	e.hub.publish(sse{Type: "run.updated", Run: next, RunID: next.ID})
	b.WaitJS("the new run on the dashboard", fmt.Sprintf(
		`(function(){var li=document.querySelector('.project-card[data-project="shop"] li.run');return !!li&&li.dataset.run===%q&&li.classList.contains("status-running")&&li.querySelector('[data-field="branch"]').textContent==="feature/cart"})()`, next.ID), 0)
	if got := b.Eval(`String(window.gantryMarker)`); got != "kept" {
		t.Error("the dashboard reloaded instead of updating live")
	}
	next.Status, next.FinishedAt, next.Reason = gantry.StatusFailed, next.StartedAt.Add(2*time.Minute), "stage commit: step test failed"
	must(t, e.store.UpdateRun(ctx, next))
	e.hub.publish(sse{Type: "run.updated", Run: next, RunID: next.ID})
	b.WaitJS("the new run failed on the dashboard", fmt.Sprintf(
		`(function(){var li=document.querySelector('.project-card[data-project="shop"] li.run');return li.dataset.run===%q&&li.classList.contains("status-failed")&&li.querySelector('[data-field="duration"]').textContent==="2m 00s"})()`, next.ID), 0)
	b.Shot("dashboard")

	// A token, shown once; a secret, never shown.
	b.Do("create a token",
		chromedp.Navigate(base+"/admin"),
		chromedp.SendKeys(chromedp.CSS(`#tokens input[name="name"]`), "laptop"),
		chromedp.Click(chromedp.CSS(`#tokens button.primary`)),
		chromedp.WaitVisible(chromedp.ID("new-token")),
	)
	if got := b.Text("#new-token"); !strings.HasPrefix(got, "gty_") {
		t.Errorf("new token shows %q", got)
	}
	b.Do("set a secret",
		chromedp.SendKeys(chromedp.CSS(`#secrets input[name="name"]`), "STRIPE_KEY"),
		chromedp.SendKeys(chromedp.CSS(`#secrets input[name="value"]`), "sk_live_do_not_show"),
		chromedp.Click(chromedp.CSS(`#secrets button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	if page := b.Text("main"); !strings.Contains(page, "STRIPE_KEY") || strings.Contains(page, "sk_live_do_not_show") || strings.Contains(page, "gty_") {
		t.Errorf("admin page after setting a secret:\n%s", page)
	}
	b.Shot("admin")

	for _, line := range strings.Split(b.ConsoleText(), "\n") {
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
