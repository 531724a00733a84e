package web_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/web"
)

func fixedNow() time.Time { return t0 }

// setup makes the usual world: projects web and api; alice a server
// admin, dev a developer of web, vic a viewer of web, olga with no role.
func setup(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, fixedNow)
	e.addProject(t, "web")
	e.addProject(t, "api")
	e.addUser(t, "alice", "alice-pw", true)
	e.addUser(t, "dev", "dev-pw", false, "web=developer")
	e.addUser(t, "vic", "vic-pw", false, "web=viewer")
	e.addUser(t, "olga", "olga-pw", false)
	return e
}

func wantContains(t *testing.T, what string, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s does not contain %q", what, s)
		}
	}
}

func wantNotContains(t *testing.T, what string, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("%s contains %q", what, s)
		}
	}
}

func wantStatus(t *testing.T, what string, res response, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, res.status, status, res.body)
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	e := setup(t)
	seedChange(t, e.store, "web", "pr-7", "dev", gantry.ClassNormal, time.Hour)
	anon := e.client(t)
	alice := e.client(t).mustLogin("alice", "alice-pw")
	for _, c := range []struct {
		who  *client
		path string
	}{
		{anon, "/login"}, {anon, "/"}, {anon, "/assets/app.css"}, {anon, "/assets/nope.js"},
		{alice, "/"}, {alice, "/projects/web"}, {alice, "/audit"}, {alice, "/admin"}, {alice, "/no/such/page"},
		{alice, "/projects/web/changes"}, {alice, "/projects/web/changes/pr-7"}, {alice, "/projects/web/changes/pr-404"},
		{anon, "/projects/web/changes/pr-7"},
	} {
		res := c.who.get(c.path)
		h := res.header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", c.path, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s is %q, want %q", c.path, k, h.Get(k), v)
			}
		}
	}
}

// TestNoInlineScriptOrStyle keeps the pages within default-src 'self':
// no inline script, no style attribute, no event handler attribute.
func TestNoInlineScriptOrStyle(t *testing.T) {
	e := setup(t)
	run := seedRun(t, e.store, "web", gantry.StatusFailed)
	seedChange(t, e.store, "web", "pr-7", "dev", gantry.ClassUrgent, time.Hour, run.ID)
	alice := e.client(t).mustLogin("alice", "alice-pw")
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, p := range []string{"/login", "/", "/projects/web", "/runs/" + string(run.ID), "/runs/" + string(run.ID) + "/findings",
		"/runs/" + string(run.ID) + "/findings/fp-sql-1", "/audit", "/admin", "/nope", "/projects/web/changes", "/projects/web/changes/pr-7"} {
		c := alice
		if p == "/login" {
			c = e.client(t)
		}
		if m := inline.FindString(c.get(p).body); m != "" {
			t.Errorf("%s has inline code or style: %q", p, m)
		}
	}
}

func TestLogin(t *testing.T) {
	e := setup(t)
	c := e.client(t)

	res := c.get("/projects/web")
	wantStatus(t, "a page before signing in", res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/login?next=%2Fprojects%2Fweb" {
		t.Errorf("redirected to %q", loc)
	}

	// The form's token must come back with the cookie it was set with.
	form := c.get("/login?next=%2Fprojects%2Fweb")
	wantStatus(t, "login form", form, http.StatusOK)
	wantContains(t, "login form", form.body, `name="next" value="/projects/web"`, `name="code"`)
	tok := csrfRE.FindStringSubmatch(form.body)[1]
	forged := e.client(t).post("/login", url.Values{"csrf_token": {tok}, "user": {"alice"}, "password": {"alice-pw"}})
	wantStatus(t, "login without the form's cookie", forged, http.StatusForbidden)

	// Wrong password and unknown user read the same.
	bad := c.post("/login", url.Values{"csrf_token": {tok}, "user": {"alice"}, "password": {"nope"}})
	wantStatus(t, "wrong password", bad, http.StatusUnauthorized)
	tok = csrfRE.FindStringSubmatch(bad.body)[1]
	unknown := c.post("/login", url.Values{"csrf_token": {tok}, "user": {"mallory"}, "password": {"nope"}})
	wantStatus(t, "unknown user", unknown, http.StatusUnauthorized)
	msg := regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)
	if a, b := msg.FindStringSubmatch(bad.body), msg.FindStringSubmatch(unknown.body); a == nil || b == nil || a[1] != b[1] {
		t.Errorf("wrong password says %q, unknown user %q: they must read the same", a, b)
	}
	wantNotContains(t, "failed login", bad.body, "wrong password or code", "nope")

	// Two-factor: the code is needed when the user has it on.
	e.sessions.codes["alice"] = "123456"
	tok = csrfRE.FindStringSubmatch(unknown.body)[1]
	noCode := c.post("/login", url.Values{"csrf_token": {tok}, "user": {"alice"}, "password": {"alice-pw"}, "next": {"/projects/web"}})
	wantStatus(t, "no two-factor code", noCode, http.StatusUnauthorized)
	tok = csrfRE.FindStringSubmatch(noCode.body)[1]
	ok := c.post("/login", url.Values{"csrf_token": {tok}, "user": {"alice"}, "password": {"alice-pw"}, "code": {"123456"}, "next": {"/projects/web"}})
	wantStatus(t, "login", ok, http.StatusSeeOther)
	if loc := ok.header.Get("Location"); loc != "/projects/web" {
		t.Errorf("after login, redirected to %q", loc)
	}
	wantStatus(t, "the page after login", c.get("/projects/web"), http.StatusOK)

	// Signed in, the login form goes on to the dashboard.
	if res := c.get("/login"); res.status != http.StatusSeeOther || res.header.Get("Location") != "/" {
		t.Errorf("login form when signed in: %d %q", res.status, res.header.Get("Location"))
	}

	// Logging out needs the CSRF token, and ends the session.
	wantStatus(t, "logout without token", c.post("/logout", nil), http.StatusForbidden)
	tok = c.csrf("/")
	wantStatus(t, "logout", c.post("/logout", url.Values{"csrf_token": {tok}}), http.StatusSeeOther)
	wantStatus(t, "a page after logout", c.get("/"), http.StatusSeeOther)
	if res := c.post("/logout", nil); res.status != http.StatusSeeOther || res.header.Get("Location") != "/login" {
		t.Errorf("logout without a session: %d %q", res.status, res.header.Get("Location"))
	}
}

func TestLoginRateLimited(t *testing.T) {
	e := setup(t)
	e.sessions.limited = true
	res := e.client(t).login("alice", "alice-pw")
	wantStatus(t, "login when rate-limited", res, http.StatusTooManyRequests)
	wantContains(t, "login when rate-limited", res.body, "too many login attempts")
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	e := setup(t)
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil", "/%0d%0aSet-Cookie:x=1"} {
		c := e.client(t)
		tok := c.csrf("/login")
		res := c.post("/login", url.Values{"csrf_token": {tok}, "user": {"vic"}, "password": {"vic-pw"}, "next": {next}})
		wantStatus(t, "login", res, http.StatusSeeOther)
		if loc := res.header.Get("Location"); loc != "/" && !strings.HasPrefix(loc, "/%") {
			t.Errorf("next %q: redirected to %q", next, loc)
		}
	}
}

func TestDashboardShowsOnlyGrantedProjects(t *testing.T) {
	e := setup(t)
	webRun := seedRun(t, e.store, "web", gantry.StatusSucceeded)
	apiRun := seedRun(t, e.store, "api", gantry.StatusFailed)

	dev := e.client(t).mustLogin("dev", "dev-pw")
	body := dev.get("/").body
	wantContains(t, "dev's dashboard", body, `data-project="web"`, string(webRun.ID), "status-succeeded", "9b1c2d3e4f", "1m 34s", "10 minutes ago", `data-live="runs"`)
	wantNotContains(t, "dev's dashboard", body, `data-project="api"`, string(apiRun.ID))

	alice := e.client(t).mustLogin("alice", "alice-pw")
	wantContains(t, "alice's dashboard", alice.get("/").body, `data-project="web"`, `data-project="api"`, "status-failed", "stage acceptance: step dast failed")

	olga := e.client(t).mustLogin("olga", "olga-pw")
	wantContains(t, "olga's dashboard", olga.get("/").body, "no projects you may see")
}

func TestPagesEscapeWhatTheyShow(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	run := &gantry.Run{ID: gantry.NewRunID(t0), Project: "web", Pipeline: ".gantry.yml", Status: gantry.StatusRunning, CreatedAt: t0, StartedAt: t0,
		Trigger: gantry.Trigger{Event: "push", Branch: `<script>alert("branch")</script>`, Commit: "abc"}}
	must(t, e.store.CreateRun(ctx, run))
	must(t, e.store.PutStep(ctx, &gantry.StepResult{RunID: run.ID, Stage: `<img src=x>`, Name: `"><b>step`, Status: gantry.StatusRunning, StartedAt: t0}))
	alice := e.client(t).mustLogin("alice", "alice-pw")
	for _, p := range []string{"/", "/projects/web", "/runs/" + string(run.ID)} {
		body := alice.get(p).body
		wantNotContains(t, p, body, `<script>alert`, `<img src=x>`, `"><b>step`)
	}
	wantContains(t, "run page", alice.get("/runs/"+string(run.ID)).body, `&lt;script&gt;alert(&#34;branch&#34;)&lt;/script&gt;`, `&lt;img src=x&gt;`)
}

func TestProjectAndRunVisibility(t *testing.T) {
	e := setup(t)
	apiRun := seedRun(t, e.store, "api", gantry.StatusSucceeded)
	webRun := seedRun(t, e.store, "web", gantry.StatusSucceeded)
	vic := e.client(t).mustLogin("vic", "vic-pw")
	olga := e.client(t).mustLogin("olga", "olga-pw")

	wantStatus(t, "vic sees web", vic.get("/projects/web"), http.StatusOK)
	for _, c := range []struct {
		who  *client
		path string
		want int
	}{
		{vic, "/projects/api", http.StatusNotFound},
		{vic, "/projects/nope", http.StatusNotFound},
		{vic, "/runs/" + string(apiRun.ID), http.StatusNotFound},
		{vic, "/runs/" + string(apiRun.ID) + "/findings", http.StatusNotFound},
		{vic, "/runs/" + string(apiRun.ID) + "/findings/fp-sql-1", http.StatusNotFound},
		{vic, "/runs/" + string(apiRun.ID) + "/log?step=build", http.StatusNotFound},
		{vic, "/runs/nope", http.StatusNotFound},
		{vic, "/runs/" + string(webRun.ID) + "/findings/nope", http.StatusNotFound},
		{vic, "/audit", http.StatusForbidden},
		{olga, "/projects/web", http.StatusNotFound},
		{olga, "/runs/" + string(webRun.ID), http.StatusNotFound},
	} {
		res := c.who.get(c.path)
		if res.status != c.want {
			t.Errorf("%s: status %d, want %d", c.path, res.status, c.want)
		}
	}
	// The same words for a project that is not there and one not granted.
	a, b := vic.get("/projects/api").body, vic.get("/projects/apx").body
	if strings.ReplaceAll(a, "api", "X") != strings.ReplaceAll(b, "apx", "X") {
		t.Error("a hidden project's page differs from a missing one's")
	}
	wantContains(t, "403 page", vic.get("/audit").body, "Not allowed")
}

func TestTriggerRun(t *testing.T) {
	e := setup(t)
	dev := e.client(t).mustLogin("dev", "dev-pw")
	page := dev.get("/projects/web")
	wantContains(t, "developer's project page", page.body, "Run pipeline", `action="/projects/web/runs"`)
	tok := csrfRE.FindStringSubmatch(page.body)[1]

	wantStatus(t, "trigger without CSRF token", dev.post("/projects/web/runs", url.Values{"branch": {"main"}}), http.StatusForbidden)
	wantStatus(t, "trigger with another session's token", dev.post("/projects/web/runs", url.Values{"branch": {"main"}, "csrf_token": {"x" + tok}}), http.StatusForbidden)
	if len(e.service.calls) != 0 {
		t.Fatalf("runs started without a CSRF token: %v", e.service.calls)
	}

	res := dev.post("/projects/web/runs", url.Values{"branch": {"feature/x"}, "csrf_token": {tok}})
	wantStatus(t, "trigger", res, http.StatusSeeOther)
	runs, err := e.store.Runs(context.Background(), gantry.RunFilter{Project: "web"})
	must(t, err)
	if len(runs) != 1 || runs[0].Trigger.Branch != "feature/x" {
		t.Fatalf("runs after trigger: %+v", runs)
	}
	if loc := res.header.Get("Location"); loc != "/runs/"+string(runs[0].ID) {
		t.Errorf("trigger redirected to %q", loc)
	}
	run := dev.get(res.header.Get("Location"))
	wantStatus(t, "new run's page", run, http.StatusOK)
	wantContains(t, "new run's page", run.body, "pending", "feature/x", `data-live="run"`, "Waiting for an agent")

	// A viewer sees no button, and may not post the form.
	vic := e.client(t).mustLogin("vic", "vic-pw")
	page = vic.get("/projects/web")
	wantNotContains(t, "viewer's project page", page.body, "Run pipeline")
	tok = csrfRE.FindStringSubmatch(page.body)[1]
	wantStatus(t, "viewer triggers", vic.post("/projects/web/runs", url.Values{"csrf_token": {tok}}), http.StatusForbidden)
	wantStatus(t, "dev triggers in api", dev.post("/projects/api/runs", url.Values{"csrf_token": {csrfRE.FindStringSubmatch(dev.get("/").body)[1]}}), http.StatusNotFound)
	if len(e.service.calls) != 1 {
		t.Errorf("service calls: %v", e.service.calls)
	}

	// Signed out, a form is refused outright.
	wantStatus(t, "anonymous trigger", e.client(t).post("/projects/web/runs", url.Values{"csrf_token": {tok}}), http.StatusUnauthorized)
}

func TestRunPage(t *testing.T) {
	e := setup(t)
	run := seedRun(t, e.store, "web", gantry.StatusFailed)
	vic := e.client(t).mustLogin("vic", "vic-pw")
	res := vic.get("/runs/" + string(run.ID))
	wantStatus(t, "run page", res, http.StatusOK)
	body := res.body
	wantContains(t, "run page", body,
		// the graph: stages in order, steps with status and duration
		`data-stage="commit"`, `data-stage="acceptance"`, `data-step="build"`, `data-step="dast"`, "12s", "1m 34s",
		// gates
		"gate-allowed", "gate-denied", "step dast failed", "policy",
		// logs, escaped, with their streams
		"go build ./...", "warning: &lt;b&gt;not bold&lt;/b&gt;", "ln-stderr", "ln-system", `data-last-seq="2"`,
		// artifacts with digests
		"bin/app", string(gantry.DigestBytes([]byte("binary"))), "2.0 MiB",
		// attestations
		"provenance", "https://slsa.dev/provenance/v1", ">7<",
		// findings summary
		`href="/runs/`+string(run.ID)+`/findings"`, "1 high", "1 low",
		"stage acceptance: step dast failed",
	)
	if strings.Index(body, `data-stage="commit"`) > strings.Index(body, `data-stage="acceptance"`) {
		t.Error("stages out of order")
	}
	// The failed step's log is open; the others are closed.
	wantNotContains(t, "finished run's page", body, `data-live=`)
	if !regexp.MustCompile(`<details class="log" data-step="dast" open>`).MatchString(body) ||
		regexp.MustCompile(`<details class="log" data-step="build" open>`).MatchString(body) {
		t.Error("the failed step's log should be the open one")
	}

	logRes := vic.get("/runs/" + string(run.ID) + "/log?step=build")
	wantStatus(t, "plain log", logRes, http.StatusOK)
	if logRes.body != "go build ./...\nwarning: <b>not bold</b>\n" || !strings.HasPrefix(logRes.header.Get("Content-Type"), "text/plain") {
		t.Errorf("plain log: %q (%s)", logRes.body, logRes.header.Get("Content-Type"))
	}
}

func TestLongLogsAreCut(t *testing.T) {
	e := newEnv(t, fixedNow)
	e.addProject(t, "web")
	e.addUser(t, "vic", "vic-pw", false, "web=viewer")
	ctx := context.Background()
	run := &gantry.Run{ID: gantry.NewRunID(t0), Project: "web", Pipeline: ".gantry.yml", Status: gantry.StatusRunning, CreatedAt: t0}
	must(t, e.store.CreateRun(ctx, run))
	var lines []gantry.LogLine
	for i := 1; i <= 5003; i++ {
		lines = append(lines, gantry.LogLine{Step: "spam", Seq: int64(i), Time: t0, Stream: gantry.Stdout, Text: "line"})
	}
	must(t, e.store.AppendLogs(ctx, run.ID, lines))
	body := e.client(t).mustLogin("vic", "vic-pw").get("/runs/" + string(run.ID)).body
	wantContains(t, "run page", body, "3 earlier lines are not shown", `data-last-seq="5003"`, `data-step="spam" open`)
	if n := strings.Count(body, `<span class="ln ln-stdout">line</span>`); n != 5000 {
		t.Errorf("%d lines rendered, want 5000", n)
	}
}

func TestFindings(t *testing.T) {
	e := setup(t)
	run := seedRun(t, e.store, "web", gantry.StatusSucceeded)
	vic := e.client(t).mustLogin("vic", "vic-pw")
	base := "/runs/" + string(run.ID) + "/findings"

	list := vic.get(base)
	wantStatus(t, "findings", list, http.StatusOK)
	wantContains(t, "findings", list.body, "G101", "aws-key", "internal/db/query.go:42", "SQL string built from &lt;input&gt;",
		`href="`+base+`/fp-sql-1"`, "waived", "new")
	high := vic.get(base + "?severity=high").body
	wantContains(t, "high findings", high, "G101")
	wantNotContains(t, "high findings", high, ">aws-key<")
	wantStatus(t, "unknown severity", vic.get(base+"?severity=dire"), http.StatusBadRequest)

	f := vic.get(base + "/fp-sql-1")
	wantStatus(t, "finding", f, http.StatusOK)
	wantContains(t, "finding", f.body, "G101", "sev-high", "internal/db/query.go:42:7", "CWE-89", "Use query parameters.", "Not waived", "sast", "fp-sql-1")
	w := vic.get(base + "/fp-aws-1")
	wantContains(t, "waived finding", w.body, "test fixture, not a real key", "sec-team", "in force", "2026-05-31")
}

func TestFindingKeys(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	run := &gantry.Run{ID: gantry.NewRunID(t0), Project: "web", Pipeline: ".gantry.yml", Status: gantry.StatusSucceeded, CreatedAt: t0}
	must(t, e.store.CreateRun(ctx, run))
	// Two findings share a fingerprint, one has a slash in it.
	must(t, e.store.PutFindings(ctx, run.ID, "sast", []gantry.Finding{
		{Tool: "sast", RuleID: "R1", Severity: gantry.SeverityHigh, Fingerprint: "same", Message: "first"},
		{Tool: "sast", RuleID: "R2", Severity: gantry.SeverityMedium, Fingerprint: "same", Message: "second"},
		{Tool: "sast", RuleID: "R3", Severity: gantry.SeverityLow, Fingerprint: "a/b c", Message: "third"},
	}))
	vic := e.client(t).mustLogin("vic", "vic-pw")
	base := "/runs/" + string(run.ID) + "/findings"
	list := vic.get(base).body
	for _, m := range regexp.MustCompile(`href="(`+regexp.QuoteMeta(base)+`/[^"]+)" class="finding-link">(R\d)<`).FindAllStringSubmatch(list, -1) {
		page := vic.get(m[1])
		wantStatus(t, m[1], page, http.StatusOK)
		wantContains(t, m[1], page.body, `<span id="finding-rule">`+m[2]+`</span>`)
	}
	if n := strings.Count(list, `class="finding-link"`); n != 3 {
		t.Errorf("%d finding links, want 3", n)
	}
}

func TestAudit(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	must(t, e.store.AppendAudit(ctx, &gantry.AuditEvent{Time: t0, Actor: "dev", Action: "run.trigger", Target: "web", Outcome: "success", Remote: "10.1.2.3", LedgerIndex: -1}))
	must(t, e.store.AppendAudit(ctx, &gantry.AuditEvent{Time: t0.Add(time.Second), Actor: "anonymous", Action: "login.failed", Target: "user:<b>x</b>", Outcome: "failure", Detail: map[string]string{"reason": "password"}, LedgerIndex: -1}))
	alice := e.client(t).mustLogin("alice", "alice-pw")
	res := alice.get("/audit")
	wantStatus(t, "audit", res, http.StatusOK)
	wantContains(t, "audit", res.body, "run.trigger", "login.failed", "user:&lt;b&gt;x&lt;/b&gt;", "reason=password", "10.1.2.3", "outcome-failure")
	if strings.Index(res.body, "login.failed") > strings.Index(res.body, "run.trigger") {
		t.Error("audit events are not newest first")
	}
	filtered := alice.get("/audit?action=run.trigger").body
	wantNotContains(t, "filtered audit", filtered, "login.failed</code>")
	wantContains(t, "dashboard nav of an admin", alice.get("/").body, `href="/audit"`)
	wantNotContains(t, "dashboard nav of a viewer", e.client(t).mustLogin("vic", "vic-pw").get("/").body, `href="/audit"`)
}

func TestAdminUsersAndRoles(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	alice := e.client(t).mustLogin("alice", "alice-pw")
	page := alice.get("/admin")
	wantStatus(t, "admin", page, http.StatusOK)
	wantContains(t, "admin", page.body, `id="users"`, "dev", "web: developer", `action="/admin/users"`, `action="/admin/grants"`)
	tok := csrfRE.FindStringSubmatch(page.body)[1]

	res := alice.post("/admin/users", url.Values{"csrf_token": {tok}, "name": {"newbie"}, "email": {"n@example.com"}, "password": {"a long passphrase"}})
	wantStatus(t, "create user", res, http.StatusSeeOther)
	if u, err := e.store.User(ctx, "newbie"); err != nil || u.Email != "n@example.com" || u.ServerAdmin {
		t.Fatalf("created user: %+v, %v", u, err)
	}
	wantContains(t, "after creating", alice.get(res.header.Get("Location")).body, "The user was created.")
	dup := alice.post("/admin/users", url.Values{"csrf_token": {tok}, "name": {"newbie"}})
	wantStatus(t, "create a user twice", dup, http.StatusConflict)
	wantContains(t, "create a user twice", dup.body, "user newbie exists already")

	res = alice.post("/admin/grants", url.Values{"csrf_token": {tok}, "user": {"newbie"}, "project": {"api"}, "role": {"approver"}})
	wantStatus(t, "grant", res, http.StatusSeeOther)
	gs, err := e.store.Grants(ctx, "newbie", "")
	must(t, err)
	if len(gs) != 1 || gs[0].Role != gantry.RoleApprover || gs[0].Project != "api" {
		t.Fatalf("grants: %+v", gs)
	}
	wantStatus(t, "grant an unknown role", alice.post("/admin/grants", url.Values{"csrf_token": {tok}, "user": {"newbie"}, "project": {"api"}, "role": {"god"}}), http.StatusBadRequest)

	// A developer sees no users, cannot create any, and cannot grant.
	dev := e.client(t).mustLogin("dev", "dev-pw")
	page = dev.get("/admin")
	wantStatus(t, "dev's admin page", page, http.StatusOK)
	wantNotContains(t, "dev's admin page", page.body, `id="users"`, "newbie", `action="/admin/users"`, `action="/admin/grants"`)
	tok = csrfRE.FindStringSubmatch(page.body)[1]
	wantStatus(t, "dev creates a user", dev.post("/admin/users", url.Values{"csrf_token": {tok}, "name": {"sneaky"}}), http.StatusForbidden)
	wantStatus(t, "dev grants in web", dev.post("/admin/grants", url.Values{"csrf_token": {tok}, "user": {"dev"}, "project": {"web"}, "role": {"admin"}}), http.StatusForbidden)
	wantStatus(t, "dev grants in api", dev.post("/admin/grants", url.Values{"csrf_token": {tok}, "user": {"dev"}, "project": {"api"}, "role": {"admin"}}), http.StatusNotFound)
	if _, err := e.store.User(ctx, "sneaky"); err == nil {
		t.Error("a developer created a user")
	}
}

func TestAdminTokens(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	dev := e.client(t).mustLogin("dev", "dev-pw")
	tok := dev.csrf("/admin")

	res := dev.post("/admin/tokens", url.Values{"csrf_token": {tok}, "name": {"ci"}, "scope": {"read", "write"}, "project": {"web"}, "days": {"30"}})
	wantStatus(t, "create token", res, http.StatusOK)
	secret := regexp.MustCompile(`<code id="new-token" class="secret">(gty_[0-9a-f]+)</code>`).FindStringSubmatch(res.body)
	if secret == nil {
		t.Fatalf("the new token's secret is not shown:\n%s", res.body)
	}
	if res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page with a token's secret may be cached: Cache-Control %q", res.header.Get("Cache-Control"))
	}
	toks, err := e.store.Tokens(ctx, "dev")
	must(t, err)
	if len(toks) != 1 || toks[0].Project != "web" || strings.Join(toks[0].Scopes, ",") != "read,write" || !toks[0].ExpiresAt.Equal(t0.Add(30*24*time.Hour)) {
		t.Fatalf("tokens: %+v", toks)
	}
	page := dev.get("/admin").body
	wantContains(t, "admin after", page, ">ci<", "read, write")
	wantNotContains(t, "admin after", page, secret[1])

	for _, bad := range []url.Values{
		{"name": {""}, "scope": {"read"}, "days": {"30"}},
		{"name": {"x"}, "days": {"30"}},
		{"name": {"x"}, "scope": {"job"}, "days": {"30"}},
		{"name": {"x"}, "scope": {"read"}, "days": {"3650"}},
	} {
		bad.Set("csrf_token", tok)
		wantStatus(t, "bad token form", dev.post("/admin/tokens", bad), http.StatusBadRequest)
	}
	wantStatus(t, "token for a hidden project", dev.post("/admin/tokens", url.Values{"csrf_token": {tok}, "name": {"x"}, "scope": {"read"}, "days": {"7"}, "project": {"api"}}), http.StatusNotFound)

	// Only one's own tokens can be deleted.
	vic := e.client(t).mustLogin("vic", "vic-pw")
	wantStatus(t, "delete another's token", vic.post("/admin/tokens/"+toks[0].ID+"/delete", url.Values{"csrf_token": {vic.csrf("/admin")}}), http.StatusNotFound)
	res = dev.post("/admin/tokens/"+toks[0].ID+"/delete", url.Values{"csrf_token": {tok}})
	wantStatus(t, "delete token", res, http.StatusSeeOther)
	if toks, _ := e.store.Tokens(ctx, "dev"); len(toks) != 0 {
		t.Errorf("token not deleted: %+v", toks)
	}
}

func TestAdminSecretsAreWriteOnly(t *testing.T) {
	e := setup(t)
	const value = "hunter2-very-secret"
	dev := e.client(t).mustLogin("dev", "dev-pw")
	page := dev.get("/admin").body
	wantContains(t, "dev's secrets", page, `id="secrets"`, `action="/admin/secrets"`, `<option value="web">web</option>`)
	wantNotContains(t, "dev's secrets", page, `<option value="api">api</option>`)
	tok := csrfRE.FindStringSubmatch(page)[1]

	res := dev.post("/admin/secrets", url.Values{"csrf_token": {tok}, "project": {"web"}, "env": {"production"}, "name": {"DB_PASSWORD"}, "value": {value}})
	wantStatus(t, "put secret", res, http.StatusSeeOther)
	if got := e.service.secrets["web/production/DB_PASSWORD"]; got != value {
		t.Errorf("the service got %q", got)
	}
	page = dev.get(res.header.Get("Location")).body
	wantContains(t, "secrets list", page, "DB_PASSWORD", "production", ">dev<", "is not shown again")
	alice := e.client(t).mustLogin("alice", "alice-pw")
	for _, c := range []*client{dev, alice} {
		for _, p := range []string{"/admin", "/", "/projects/web", "/audit"} {
			wantNotContains(t, p, c.get(p).body, value)
		}
	}

	wantStatus(t, "secret in a hidden project", dev.post("/admin/secrets", url.Values{"csrf_token": {tok}, "project": {"api"}, "name": {"X"}, "value": {"v"}}), http.StatusNotFound)
	vic := e.client(t).mustLogin("vic", "vic-pw")
	page = vic.get("/admin").body
	wantNotContains(t, "viewer's admin page", page, "DB_PASSWORD", `action="/admin/secrets"`)
	wantStatus(t, "viewer sets a secret", vic.post("/admin/secrets", url.Values{"csrf_token": {csrfRE.FindStringSubmatch(page)[1]}, "project": {"web"}, "name": {"X"}, "value": {"v"}}), http.StatusForbidden)
	wantStatus(t, "secret without a value", dev.post("/admin/secrets", url.Values{"csrf_token": {tok}, "project": {"web"}, "name": {"X"}}), http.StatusBadRequest)
}

func TestNotFoundAndAssets(t *testing.T) {
	e := setup(t)
	alice := e.client(t).mustLogin("alice", "alice-pw")
	res := alice.get("/no/such/page")
	wantStatus(t, "unknown page", res, http.StatusNotFound)
	wantContains(t, "404 page", res.body, "Not found", "/no/such/page")

	page := alice.get("/").body
	js := regexp.MustCompile(`src="(/assets/app\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if js == nil {
		t.Fatal("no versioned script in the page")
	}
	res = e.client(t).get(js[1])
	wantStatus(t, "script", res, http.StatusOK)
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("script served as %q", ct)
	}
	if cc := res.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("versioned script: Cache-Control %q", cc)
	}
	for _, p := range []string{"/assets/nope.css", "/assets/app.css.map", "/assets/", "/assets/assets/app.js"} {
		wantStatus(t, "unknown asset", e.client(t).get(p), http.StatusNotFound)
	}
}

// failingStore fails to list projects with an error that is not for
// users' eyes.
type failingStore struct{ web.Store }

func (failingStore) Projects(context.Context) ([]*gantry.Project, error) {
	return nil, errors.New("disk on fire: sql: database is locked")
}

// TestInternalErrorShowsAnID checks that an internal error shows only an
// ID, and the log has the rest.
func TestInternalErrorShowsAnID(t *testing.T) {
	e := setup(t)
	var logs strings.Builder
	h, err := web.New(web.Options{Store: failingStore{e.store}, Sessions: e.sessions, Now: fixedNow,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	must(t, err)
	tok := e.client(t)
	tok.mustLogin("alice", "alice-pw")
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range tok.http.Jar.Cookies(mustURL(t, e.srv.URL)) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	id := regexp.MustCompile(`internal error ([0-9a-f]+)`).FindStringSubmatch(rec.Body.String())
	if id == nil {
		t.Fatalf("no error ID in the page:\n%s", rec.Body)
	}
	wantNotContains(t, "500 page", rec.Body.String(), "disk on fire", "sql")
	wantContains(t, "log", logs.String(), id[1], "disk on fire")
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	must(t, err)
	return u
}

func TestNewNeedsStoreAndSessions(t *testing.T) {
	if _, err := web.New(web.Options{}); err == nil {
		t.Error("New without a store and sessions succeeded")
	}
}
