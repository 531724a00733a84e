package server

import (
	"context"
	"gantry.dev/gantry/internal/web/webtest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/scan/iac"
	"gantry.dev/gantry/internal/scanstep"
)

// newStackWithUI is newStack with the web UI mounted at "/", as gantry
// server serves it.
func newStackWithUI(t testing.TB) *stack {
	t.Helper()
	s := newStack(t)
	ui, err := s.srv.WebUI()
	if err != nil {
		t.Fatal(err)
	}
	s.srv.Mount("/", ui)
	return s
}

// commitFile adds a file to a repository made by repo, in a new commit.
func commitFile(t testing.TB, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-q", "-m", "add " + name}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %s", args, out)
		}
	}
}

// heldPipeline scans the repository's Dockerfile, which the iac scanner
// flags (it sets no USER: a medium finding) under a gate that fails only
// on critical ones, and holds the run open until the test creates
// .release in the workspace: the test sees the run running before it
// lets it finish, so that the page must follow it live.
const heldPipeline = `version: 1
stages:
  - name: commit
    steps:
      - name: iac
        uses: iac
        with: {fail-on: critical}
      - name: hold
        run: |
          i=0
          while [ ! -e .release ]; do
            i=$((i+1))
            if [ $i -gt 1200 ]; then echo "never released"; exit 1; fi
            sleep 0.05
          done
          echo released
`

// TestBrowserRunsAPipelineOnTheRealStack drives the web UI of a real
// server, with a real agent running the pipeline, in headless Chromium:
// sign in, start a run from the project's page, watch the run page follow
// it live to success, and open the finding its scan step made.
func TestBrowserRunsAPipelineOnTheRealStack(t *testing.T) {
	b := webtest.New(t)
	s := newStackWithUI(t)
	s.actions = func(string) *action.Registry {
		reg := action.Builtins()
		scanstep.Register(reg, []scanstep.Factory{{Name: "iac", New: func() (scan.Scanner, error) { return iac.New(iac.Options{}) }}}, scanstep.Options{})
		return reg
	}
	dir, _ := repo(t, heldPipeline)
	commitFile(t, dir, "Dockerfile", "FROM alpine:3.20\nRUN apk add --no-cache curl\nCMD [\"curl\", \"--version\"]\n")
	s.startAgent("browser")
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: dir}); code != 200 {
		t.Fatalf("create project: %d %s", code, body)
	}
	base := s.http.URL

	// Sign in: the dashboard sends us to the form and back.
	b.Do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)))
	b.Do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.project-card[data-project="shop"]`)),
	)
	b.WaitJS("the dashboard's live stream", `document.getElementById("live").dataset.state === "live"`, 20*time.Second)

	// Start a run from the project's page: the server queues it, the
	// agent leases it.
	b.Do("open the project", chromedp.Click(chromedp.CSS(`.project-card[data-project="shop"] h2 a`)), chromedp.WaitVisible(chromedp.ID("run-pipeline")))
	b.Do("run the pipeline", chromedp.Click(chromedp.ID("run-pipeline")))
	b.WaitJS("the run's page", `!!document.body.dataset.run`, 20*time.Second)
	runID := gantry.RunID(b.Eval(`document.body.dataset.run`))
	b.WaitJS("the run's live stream", `document.getElementById("live").dataset.state === "live"`, 20*time.Second)
	// From here on the page must not reload: the marker would be gone.
	b.Eval(`window.gantryMarker = "kept"; "ok"`)

	// The run is held open by its hold step: the page shows it running
	// and the scan step finishing, as the agent reports them.
	b.WaitJS("the run running", `document.getElementById("run-head").classList.contains("status-running")`, 30*time.Second)
	b.WaitJS("the hold step running", `!!document.querySelector('#graph .stage[data-stage="commit"] li.step.status-running[data-step="hold"]')`, 30*time.Second)
	b.WaitJS("the iac step succeeded", `!!document.querySelector('#graph .stage[data-stage="commit"] li.step.status-succeeded[data-step="iac"]')`, 60*time.Second)
	if got := b.Text(`#run-head [data-field="status"]`); got != "running" {
		t.Errorf("a held run shows %q", got)
	}
	if r, err := s.store.Run(context.Background(), runID); err != nil || r.Status != gantry.StatusRunning {
		t.Fatalf("run %s before release: %+v, %v", runID, r, err)
	}

	// Let it finish.
	release := filepath.Join(s.dir, "work-browser", "jobs", "job-"+string(runID), ".release")
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatalf("release the hold step: %v", err)
	}
	b.WaitJS("the run succeeded", `document.getElementById("run-head").classList.contains("status-succeeded")`, 60*time.Second)
	b.WaitJS("the evidence", `document.body.dataset.evidence === "loaded"`, 20*time.Second)
	if got := b.Text(`#run-head [data-field="status"]`); got != "succeeded" {
		t.Errorf("finished run shows %q", got)
	}
	if got := b.Eval(`String(window.gantryMarker)`); got != "kept" {
		t.Error("the run page reloaded instead of updating live")
	}
	b.WaitJS("the hold step's log", `(document.querySelector('details.log[data-step="hold"] pre')||{}).textContent.includes("released")`, 20*time.Second)
	if got := b.Text(`#findings-link`); !strings.Contains(got, "1 medium") {
		t.Errorf("findings link says %q, want 1 medium", got)
	}
	if run := s.waitRun(runID); run.Status != gantry.StatusSucceeded {
		t.Fatalf("run %s: %s %s", runID, run.Status, run.Reason)
	}

	// The findings, and one finding's page.
	b.Do("open the findings", chromedp.Click(chromedp.ID("findings-link")), chromedp.WaitVisible(chromedp.CSS(`a.finding-link`)))
	if got := b.Text(`table.findings tbody`); !strings.Contains(got, "GIAC-DF-001") || !strings.Contains(got, "Dockerfile") {
		t.Errorf("findings table:\n%s", got)
	}
	b.Do("open the finding", chromedp.Click(chromedp.CSS(`a.finding-link`)), chromedp.WaitVisible(chromedp.ID("finding-rule")))
	if got := b.Text("#finding-rule"); got != "GIAC-DF-001" {
		t.Errorf("finding page shows rule %q", got)
	}
	if got := b.Text("#finding-location"); !strings.HasPrefix(got, "Dockerfile") {
		t.Errorf("finding page shows location %q", got)
	}
	if got := b.Text("main"); !strings.Contains(got, "iac") || !strings.Contains(got, "medium") {
		t.Errorf("finding page:\n%s", got)
	}

	// No page broke its Content-Security-Policy or threw. The check
	// catches violations: a canary inline script, which the policy
	// blocks, must show up after everything else.
	before := len(b.Console())
	b.Eval(`(function(){var s=document.createElement("script");s.textContent="window.canary=1";document.body.appendChild(s);return "ok"})()`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := b.Console()
		if containsFrom(lines, before, "Content Security Policy") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canary's CSP violation never reached the console: the check below would see nothing\nconsole:\n%s", strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := b.Eval(`String(window.canary)`); got != "undefined" {
		t.Errorf("an inline script ran: the policy does not hold")
	}
	for _, line := range b.Console()[:before] {
		if strings.Contains(line, "Content Security Policy") || strings.HasPrefix(line, "exception") {
			t.Errorf("console: %s", line)
		}
	}
}

// containsFrom reports whether a line from index from on contains
// sub.
func containsFrom(lines []string, from int, sub string) bool {
	for _, l := range lines[from:] {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
