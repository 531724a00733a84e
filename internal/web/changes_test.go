package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// seedChange stores a change of project, authored by author, of class
// ("" for not classified yet), opened ago before t0, with runs.
func seedChange(t *testing.T, st gantry.ServerStore, project, id, author string, class gantry.ChangeClass, ago time.Duration, runs ...gantry.RunID) *gantry.Change {
	t.Helper()
	opened := t0.Add(-ago)
	c := &gantry.Change{
		ID: id, Project: project, Title: "Change " + id + " <b>bold</b>", Author: author,
		Branch: "feature/" + id, BaseBranch: "main",
		Commits: []gantry.Commit{
			{SHA: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", Author: author, AuthorEmail: author + "@example.com", Subject: "Add the cart", Time: opened},
			{SHA: "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678", Author: author, AuthorEmail: author + "@example.com", Subject: "Fix the cart's total", Time: opened.Add(time.Minute)},
		},
		Reviews: []gantry.Review{{Reviewer: "rita", State: gantry.ReviewApproved, At: opened.Add(time.Hour)}},
		Lines:   120, Files: 4, Paths: []string{"cart/cart.go"},
		Opened: opened, UpdatedAt: opened, Runs: runs,
	}
	if strings.HasPrefix(id, "pr-") {
		c.PullRequest = &gantry.PullRequest{Number: 7, URL: "https://git.example/" + project + "/pull/7", Base: "main", Head: c.Branch}
	}
	if class == gantry.ClassUrgent {
		c.Urgent = "payments are down"
	}
	if class != "" {
		c.Classification = &gantry.Classification{
			Class: class, Score: 47.5, Threshold: 40, At: opened,
			Factors: []gantry.RiskFactor{
				{Name: "size", Weight: 20, Score: 6, Detail: "120 lines in 4 files"},
				{Name: "sensitive_paths", Weight: 25, Score: 25, Detail: "touches migrations: db/0007.sql"},
				{Name: "time_of_day", Weight: 10, Score: 0, Detail: "inside working hours"},
			},
			Reasons: []string{"risk 47.5 is at least the threshold 40"},
		}
		if len(runs) > 0 {
			c.Classification.RunID = runs[0]
		}
	}
	must(t, st.PutChange(context.Background(), c))
	return c
}

// changesSetup adds approvers to the usual world, and a normal change by
// ann with a run, a standard one and an urgent one.
func changesSetup(t *testing.T) (*env, *gantry.Run) {
	t.Helper()
	e := setup(t)
	e.addUser(t, "ann", "ann-pw", false, "web=approver")
	e.addUser(t, "bob", "bob-pw", false, "web=approver")
	run := seedRun(t, e.store, "web", gantry.StatusSucceeded)
	run.Trigger.Change = "pr-7"
	must(t, e.store.UpdateRun(context.Background(), run))
	seedChange(t, e.store, "web", "pr-7", "ann", gantry.ClassNormal, 2*time.Hour, run.ID)
	seedChange(t, e.store, "web", "0123456789ab", "dev", gantry.ClassStandard, 3*time.Hour)
	seedChange(t, e.store, "web", "pr-9", "dev", gantry.ClassUrgent, time.Hour)
	return e, run
}

func TestChangesList(t *testing.T) {
	e, _ := changesSetup(t)
	vic := e.client(t).mustLogin("vic", "vic-pw")

	project := vic.get("/projects/web")
	wantContains(t, "project page", project.body, `href="/projects/web/changes"`)

	res := vic.get("/projects/web/changes")
	wantStatus(t, "changes", res, http.StatusOK)
	wantContains(t, "changes", res.body, `href="/api/v1/projects/web/report?format=html"`)
	// Newest first.
	order := regexp.MustCompile(`data-change="([^"]+)"`).FindAllStringSubmatch(res.body, -1)
	var ids []string
	for _, m := range order {
		ids = append(ids, m[1])
	}
	if got := strings.Join(ids, " "); got != "pr-9 pr-7 0123456789ab" {
		t.Errorf("changes listed %s, want newest first", got)
	}
	wantContains(t, "changes", res.body,
		`href="/projects/web/changes/pr-7"`, "Change pr-7 &lt;b&gt;bold&lt;/b&gt;", "<td>ann</td>",
		`<span class="class class-normal">normal</span>`, `<span class="class class-standard">standard</span>`,
		`<span class="class class-urgent">urgent</span> <span class="badge due">retrospective due</span>`,
		`<td class="num">47.5</td>`, `title="2026-05-01 10:00:00 UTC">2 hours ago</time>`)
	wantNotContains(t, "changes", res.body, "<b>bold</b>")

	// One approval shows in the count; a retrospective review settles the
	// urgent change's debt.
	must(t, e.store.PutApproval(context.Background(), &gantry.Approval{Project: "web", Change: "pr-9", Environment: "production",
		Kind: gantry.ApprovalRetrospective, Approver: "bob", Role: gantry.RoleApprover, At: t0}))
	res = vic.get("/projects/web/changes")
	row := regexp.MustCompile(`(?s)<tr data-change="pr-9">.*?</tr>`).FindString(res.body)
	wantContains(t, "the urgent change's row", row, `<td class="num">1</td>`)
	wantNotContains(t, "the urgent change's row", row, "retrospective due")

	// No role, no list; and no word of whether the project exists.
	olga := e.client(t).mustLogin("olga", "olga-pw")
	wantStatus(t, "changes without a role", olga.get("/projects/web/changes"), http.StatusNotFound)
	wantStatus(t, "changes of no project", vic.get("/projects/nope/changes"), http.StatusNotFound)

	empty := e.client(t).mustLogin("alice", "alice-pw").get("/projects/api/changes")
	wantStatus(t, "a project without changes", empty, http.StatusOK)
	wantContains(t, "a project without changes", empty.body, "No changes yet")
}

func TestChangePage(t *testing.T) {
	e, run := changesSetup(t)
	must(t, e.store.PutApproval(context.Background(), &gantry.Approval{Project: "web", Change: "pr-7", Environment: "staging",
		Kind: gantry.ApprovalDeploy, Approver: "ann", Role: gantry.RoleApprover, Exception: "only one maintainer until 2027",
		Comment: "tested <by hand>", At: t0.Add(-time.Minute)}))
	vic := e.client(t).mustLogin("vic", "vic-pw")

	res := vic.get("/projects/web/changes/pr-7")
	wantStatus(t, "change page", res, http.StatusOK)
	wantContains(t, "change page", res.body,
		// What the change is.
		`<dd id="change-author">ann</dd>`, `<a href="https://git.example/web/pull/7" rel="noreferrer">#7</a>`,
		`<code title="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678">a1b2c3d4e5</code>`, "Fix the cart&#39;s total",
		`<span class="review review-approved">approved</span> by rita`, "120 lines in 4 files",
		// Why it is normal.
		`<strong id="risk-score">47.5</strong> (normal from 40)`, "by run <a href=\"/runs/"+string(run.ID)+`">`,
		`<tr data-factor="sensitive_paths" class="scored"><td>sensitive_paths</td><td class="num">25.0</td><td class="num">25</td><td>touches migrations: db/0007.sql</td></tr>`,
		`<tr data-factor="time_of_day"><td>time_of_day</td><td class="num">0.0</td><td class="num">10</td><td>inside working hours</td></tr>`,
		"<li>risk 47.5 is at least the threshold 40</li>",
		// Who approved, and under which exception.
		`<p class="exception">single-maintainer exception: only one maintainer until 2027</p>`, "tested &lt;by hand&gt;",
		"2026-05-01 11:59:00 UTC",
		// What each environment still needs.
		`<tr data-environment="acceptance" class="ready">`, `<tr data-environment="staging" class="ready">`,
		`<tr data-environment="production" class="not-ready">`,
		"needs 1 approval for production from an approver other than the author, has 0",
		"1 approval by approver or higher",
		// Its runs.
		`data-run="`+string(run.ID)+`"`,
	)
	// The exception does not count once the project's rules stop
	// allowing it: the defaults do not.
	wantContains(t, "change page", res.body, "the project no longer allows the single-maintainer exception")
	// A viewer sees no form.
	wantNotContains(t, "change page for a viewer", res.body, `id="approve-form"`)
	wantNotContains(t, "change page for a developer", e.client(t).mustLogin("dev", "dev-pw").get("/projects/web/changes/pr-7").body, `id="approve-form"`)

	// An approver does; production, which waits for an approval, is
	// chosen; no retrospective for a normal change.
	bob := e.client(t).mustLogin("bob", "bob-pw")
	page := bob.get("/projects/web/changes/pr-7").body
	wantContains(t, "change page for an approver", page, `id="approve-form"`, `action="/projects/web/changes/pr-7/approvals"`,
		`<option value="acceptance">acceptance</option>`, `<option value="production" selected>production</option>`, `name="csrf_token"`)
	wantNotContains(t, "a normal change's form", page, `name="retrospective"`)
	urgent := bob.get("/projects/web/changes/pr-9").body
	wantContains(t, "an urgent change's page", urgent, `name="retrospective"`, `id="retrospective-due"`, "Declared urgent: payments are down",
		"urgent change: a retrospective review is due")
	standard := bob.get("/projects/web/changes/0123456789ab").body
	wantContains(t, "a standard change's page", standard, "standard change: pre-approved", `<tr data-environment="production" class="ready">`)

	// The project's own rules decide the environments.
	p, err := e.store.Project(context.Background(), "web")
	must(t, err)
	p.Changes = "environments:\n  - name: qa\n    required_approvals: 0\n  - name: live\n    required_approvals: 2\n"
	must(t, e.store.PutProject(context.Background(), p))
	page = bob.get("/projects/web/changes/pr-7").body
	wantContains(t, "change page with the project's rules", page, `<option value="qa">qa</option>`, `<option value="live" selected>live</option>`,
		"2 approvals by approver or higher")
	wantNotContains(t, "change page with the project's rules", page, `value="production"`)
	p.Changes = "environments: [\n"
	must(t, e.store.PutProject(context.Background(), p))
	page = bob.get("/projects/web/changes/pr-7").body
	wantContains(t, "change page with broken rules", page, `<p class="error" role="alert">`)
	wantNotContains(t, "change page with broken rules", page, `id="approve-form"`)

	wantStatus(t, "no such change", bob.get("/projects/web/changes/pr-404"), http.StatusNotFound)
	wantStatus(t, "a change of a project one cannot see", e.client(t).mustLogin("olga", "olga-pw").get("/projects/web/changes/pr-7"), http.StatusNotFound)

	// The run links to its change.
	wantContains(t, "run page", vic.get("/runs/"+string(run.ID)).body, `<a href="/projects/web/changes/pr-7" id="change-link">`)
}

func TestApproveChange(t *testing.T) {
	e, _ := changesSetup(t)
	const path = "/projects/web/changes/pr-7"
	approve := func(c *client, tok string, form url.Values) response {
		t.Helper()
		form.Set("csrf_token", tok)
		return c.post(path+"/approvals", form)
	}
	approvals := func() []*gantry.Approval {
		t.Helper()
		as, err := e.store.Approvals(context.Background(), "web", "pr-7")
		must(t, err)
		return as
	}

	// Without the page's CSRF token nothing happens.
	bob := e.client(t).mustLogin("bob", "bob-pw")
	res := bob.post(path+"/approvals", url.Values{"environment": {"production"}})
	wantStatus(t, "approval without a CSRF token", res, http.StatusForbidden)
	res = approve(bob, "forged", url.Values{"environment": {"production"}})
	wantStatus(t, "approval with a wrong CSRF token", res, http.StatusForbidden)
	if as := approvals(); len(as) != 0 {
		t.Fatalf("an approval without the CSRF token was stored: %+v", as)
	}

	// The author may not approve their own change: the page says why.
	ann := e.client(t).mustLogin("ann", "ann-pw")
	res = approve(ann, ann.csrf(path), url.Values{"environment": {"production"}, "comment": {"LGTM, says I"}})
	wantStatus(t, "the author approving", res, http.StatusForbidden)
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("the refusal's Content-Security-Policy is %q", csp)
	}
	wantContains(t, "the author's refusal", res.body, `<p class="error" role="alert" id="approve-error">you wrote change pr-7; an approval must come from someone else</p>`,
		`value="LGTM, says I"`, `id="approve-form"`)
	if as := approvals(); len(as) != 0 {
		t.Fatalf("the author's approval was stored: %+v", as)
	}

	// Someone else may, and is sent back to the change.
	res = approve(bob, bob.csrf(path), url.Values{"environment": {"production"}, "comment": {"read the diff"}})
	wantStatus(t, "approval", res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != path+"?done=approval#approvals" {
		t.Errorf("approval redirects to %q", loc)
	}
	as := approvals()
	if len(as) != 1 || as[0].Approver != "bob" || as[0].Environment != "production" || as[0].Kind != gantry.ApprovalDeploy || as[0].Comment != "read the diff" || as[0].Role != gantry.RoleApprover {
		t.Fatalf("approvals: %+v", as)
	}
	page := bob.get(path + "?done=approval")
	wantContains(t, "the change after the approval", page.body, `<p class="flash" role="status">Your approval was recorded.</p>`,
		`<tr data-approver="bob" data-environment="production">`, "read the diff", `<tr data-environment="production" class="ready">`)

	// A second time is a conflict, shown on the page.
	res = approve(bob, bob.csrf(path), url.Values{"environment": {"production"}})
	wantStatus(t, "a second approval", res, http.StatusConflict)
	wantContains(t, "a second approval", res.body, `id="approve-error"`)

	// An environment that does not exist, and text that may not be.
	res = approve(bob, bob.csrf(path), url.Values{"environment": {"prod"}})
	wantStatus(t, "an unknown environment", res, http.StatusBadRequest)
	wantContains(t, "an unknown environment", res.body, `unknown environment &#34;prod&#34;`)
	res = approve(bob, bob.csrf(path), url.Values{"environment": {"staging"}, "comment": {"a\x00b"}})
	wantStatus(t, "a comment with a control character", res, http.StatusBadRequest)
	res = approve(bob, bob.csrf(path), url.Values{})
	wantStatus(t, "no environment", res, http.StatusBadRequest)

	// A retrospective review of an urgent change.
	res = approve(bob, bob.csrf(path), url.Values{"environment": {"production"}, "retrospective": {"on"}})
	wantStatus(t, "retrospective review of a normal change", res, http.StatusBadRequest)
	wantContains(t, "retrospective review of a normal change", res.body, "change pr-7 is not urgent")
	res = bob.post("/projects/web/changes/pr-9/approvals", url.Values{"csrf_token": {bob.csrf("/projects/web/changes/pr-9")},
		"environment": {"production"}, "retrospective": {"on"}})
	wantStatus(t, "retrospective review", res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/projects/web/changes/pr-9?done=retrospective#approvals" {
		t.Errorf("retrospective review redirects to %q", loc)
	}
	page = bob.get("/projects/web/changes/pr-9")
	wantNotContains(t, "the urgent change after its review", page.body, `id="retrospective-due"`)

	// Who may not approve is not shown the form and may not post it.
	dev := e.client(t).mustLogin("dev", "dev-pw")
	res = approve(dev, dev.csrf(path), url.Values{"environment": {"staging"}})
	wantStatus(t, "a developer approving", res, http.StatusForbidden)
	olga := e.client(t).mustLogin("olga", "olga-pw")
	res = approve(olga, olga.csrf("/"), url.Values{"environment": {"staging"}})
	wantStatus(t, "a stranger approving", res, http.StatusNotFound)
	res = approve(bob, bob.csrf(path), url.Values{"environment": {"staging"}})
	wantStatus(t, "approval", res, http.StatusSeeOther)
	res = bob.post("/projects/web/changes/pr-404/approvals", url.Values{"csrf_token": {bob.csrf(path)}, "environment": {"staging"}})
	wantStatus(t, "approving no change", res, http.StatusNotFound)

	calls := strings.Join(e.service.calls, "\n")
	if want := "approve web/pr-7 production approval by bob\napprove web/pr-9 production retrospective by bob\napprove web/pr-7 staging approval by bob"; calls != want {
		t.Errorf("service calls:\n%s\nwant:\n%s", calls, want)
	}
}

// TestApproveUnderTheSingleMaintainerException: the author's approval is
// accepted when the project documents the exception, and says so.
func TestApproveUnderTheSingleMaintainerException(t *testing.T) {
	e, _ := changesSetup(t)
	p, err := e.store.Project(context.Background(), "web")
	must(t, err)
	p.Changes = "approvals:\n  single_maintainer: \"Ann maintains web alone until 2027.\"\n"
	must(t, e.store.PutProject(context.Background(), p))
	ann := e.client(t).mustLogin("ann", "ann-pw")
	const path = "/projects/web/changes/pr-7"
	res := ann.post(path+"/approvals", url.Values{"csrf_token": {ann.csrf(path)}, "environment": {"production"}})
	wantStatus(t, "the author's approval under the exception", res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != path+"?done=exception#approvals" {
		t.Errorf("redirects to %q", loc)
	}
	page := ann.get(path + "?done=exception").body
	wantContains(t, "the change", page, "under the project&#39;s single-maintainer exception",
		`<p class="exception">single-maintainer exception: Ann maintains web alone until 2027.</p>`,
		"ann approved their own change under the single-maintainer exception")
}
