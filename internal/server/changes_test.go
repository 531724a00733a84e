package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/forge"
	"gantry.dev/gantry/internal/report"
)

// member makes a user with an e-mail and a role in project, and returns
// their token.
func (s *stack) member(name, email, project string, role gantry.Role) string {
	s.t.Helper()
	ctx := context.Background()
	admin, err := s.authSvc.Principal(ctx, "admin")
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.store.User(ctx, name); err != nil {
		if _, err := s.authSvc.CreateUser(ctx, admin, auth.NewUser{Name: name, Email: email}, "test"); err != nil {
			s.t.Fatal(err)
		}
	}
	if role != "" {
		if err := s.authSvc.SetGrant(ctx, admin, gantry.Grant{User: name, Project: project, Role: role}, "test"); err != nil {
			s.t.Fatal(err)
		}
	}
	tok, _, err := s.authSvc.CreateToken(ctx, admin, auth.TokenRequest{User: name, Name: "test",
		Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite}, TTL: time.Hour}, "test")
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// raw makes an API request with a body as it is.
func (s *stack) raw(method, path, token string, body []byte) (int, http.Header, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.http.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// approvalEvents returns the change.approve audit events, newest first.
func (s *stack) approvalEvents() []*gantry.AuditEvent {
	s.t.Helper()
	evs, err := s.store.AuditEvents(context.Background(), gantry.AuditFilter{Action: "change.approve"})
	if err != nil {
		s.t.Fatal(err)
	}
	return evs
}

func TestChangesAPI(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	dir, commit := repo(t, pipeline)
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: dir}); code != http.StatusOK {
		t.Fatalf("create project: %d %s", code, body)
	}
	alice := s.member("alice", "alice@example.com", "shop", gantry.RoleApprover)
	april := s.member("april", "april@example.com", "shop", gantry.RoleApprover)
	vera := s.member("vera", "vera@example.com", "shop", gantry.RoleViewer)

	// Alice triggers a run of a commit: the run belongs to the commit's
	// change, which the server records with her as its author.
	code, body := s.call("POST", "/api/v1/projects/shop/runs", alice, map[string]string{"commit": commit})
	if code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, body)
	}
	var run gantry.Run
	json.Unmarshal(body, &run)
	id := commit[:12]
	if run.Trigger.Change != id || run.Trigger.Actor != "alice" {
		t.Fatalf("trigger: change %q, actor %q; want %s, alice", run.Trigger.Change, run.Trigger.Actor, id)
	}

	code, body = s.call("GET", "/api/v1/projects/shop/changes", vera, nil)
	var list []gantry.Change
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 1 {
		t.Fatalf("list changes: %d %s", code, body)
	}
	if c := list[0]; c.ID != id || c.Author != "alice" || c.BaseBranch != "main" || len(c.Runs) != 1 || c.Runs[0] != run.ID {
		t.Errorf("listed change: %+v", c)
	}
	for query, want := range map[string]int{"?from=2000-01-01&to=2100-01-01": 1, "?from=2100-01-01": 0, "?to=2000-01-01T00:00:00Z": 0, "?limit=1": 1} {
		code, body := s.call("GET", "/api/v1/projects/shop/changes"+query, vera, nil)
		var l []gantry.Change
		if code != http.StatusOK || json.Unmarshal(body, &l) != nil || len(l) != want {
			t.Errorf("list changes%s: %d %s; want %d changes", query, code, body, want)
		}
	}
	for _, query := range []string{"?from=yesterday", "?to=2026-13-01", "?limit=0", "?from=2026-02-01&to=2026-01-01"} {
		if code, body := s.call("GET", "/api/v1/projects/shop/changes"+query, vera, nil); code != http.StatusBadRequest {
			t.Errorf("list changes%s: %d %s; want 400", query, code, body)
		}
	}

	// Showing it says what each environment still needs.
	show := func() changeView {
		t.Helper()
		code, body := s.call("GET", "/api/v1/projects/shop/changes/"+id, vera, nil)
		var v changeView
		if code != http.StatusOK || json.Unmarshal(body, &v) != nil {
			t.Fatalf("show change: %d %s", code, body)
		}
		return v
	}
	v := show()
	if v.Change.ID != id || len(v.Approvals) != 0 || v.RetrospectiveDue || len(v.Environments) != 3 {
		t.Fatalf("show change: %+v", v)
	}
	for _, e := range v.Environments {
		if e.Ready || !strings.Contains(strings.Join(e.Reasons, "\n"), "has not been classified") {
			t.Errorf("environment %s of an unclassified change: ready %v, %q", e.Name, e.Ready, e.Reasons)
		}
	}
	if code, body := s.call("GET", "/api/v1/projects/shop/changes/0123456789ab", vera, nil); code != http.StatusNotFound {
		t.Errorf("show a change that does not exist: %d %s", code, body)
	}

	approve := func(token string, req any) (int, []byte) {
		t.Helper()
		return s.call("POST", "/api/v1/projects/shop/changes/"+id+"/approvals", token, req)
	}
	approvals := func() int {
		t.Helper()
		as, err := s.store.Approvals(ctx, "shop", id)
		if err != nil {
			t.Fatal(err)
		}
		return len(as)
	}

	// Alice wrote it: she may not approve it, and the refusal is in the
	// ledger.
	code, body = approve(alice, ApproveRequest{Environment: "production"})
	if code != http.StatusForbidden || !strings.Contains(string(body), "you wrote change "+id) {
		t.Errorf("the author approves: %d %s; want 403", code, body)
	}
	if n := approvals(); n != 0 {
		t.Fatalf("the author's refused approval stored %d approvals", n)
	}
	evs := s.approvalEvents()
	if len(evs) != 1 || evs[0].Outcome != "denied" || evs[0].Actor != "alice" || !strings.Contains(evs[0].Detail["reason"], "you wrote") ||
		evs[0].Detail["environment"] != "production" || evs[0].LedgerIndex < 0 {
		t.Fatalf("audit of the refusal: %+v", evs)
	}
	// A viewer may not approve at all.
	if code, body := approve(vera, ApproveRequest{Environment: "production"}); code != http.StatusForbidden {
		t.Errorf("a viewer approves: %d %s; want 403", code, body)
	}

	// Bad input is refused, with why, and stores nothing.
	for _, c := range []struct {
		body []byte
		want string
	}{
		{[]byte(`{"environment":"prod"}`), `unknown environment "prod"`},
		{[]byte(`{"environment":"production","kind":"veto"}`), `unknown kind of approval "veto"`},
		{[]byte(`{"environment":"production","kind":"retrospective"}`), "is not urgent"},
		{[]byte(`{"environment":"production","colour":"blue"}`), "unknown field"},
		{[]byte(`environment=production`), "request body"},
		{[]byte(`{"environment":"production","comment":"` + strings.Repeat("x", maxComment+1) + `"}`), "comment is over"},
		{[]byte(`{"environment":"production","comment":"` + strings.Repeat("x", maxJSON) + `"}`), "request body over"},
	} {
		code, _, body := s.raw("POST", "/api/v1/projects/shop/changes/"+id+"/approvals", april, c.body)
		var e struct{ Error string }
		json.Unmarshal(body, &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Error, c.want) {
			t.Errorf("approve with %.60s: %d %s; want 400 and %q", c.body, code, body, c.want)
		}
	}
	if n := approvals(); n != 0 {
		t.Fatalf("refused approvals stored %d", n)
	}

	// April approves it; twice is a conflict.
	code, body = approve(april, ApproveRequest{Environment: "production", Comment: "looks right"})
	var a gantry.Approval
	if code != http.StatusCreated || json.Unmarshal(body, &a) != nil {
		t.Fatalf("april approves: %d %s", code, body)
	}
	if a.Approver != "april" || a.Role != gantry.RoleApprover || a.Environment != "production" || a.Kind != gantry.ApprovalDeploy ||
		a.Exception != "" || a.Comment != "looks right" || a.Change != id || a.Project != "shop" {
		t.Errorf("approval: %+v", a)
	}
	if code, body := approve(april, ApproveRequest{Environment: "production"}); code != http.StatusConflict {
		t.Errorf("april approves again: %d %s; want 409", code, body)
	}
	if n := approvals(); n != 1 {
		t.Errorf("%d approvals stored, want 1", n)
	}
	evs = s.approvalEvents()
	if len(evs) != 2 || evs[0].Outcome != "success" || evs[0].Actor != "april" || evs[0].Target != "shop/"+id || evs[0].LedgerIndex < 0 {
		t.Errorf("audit of the approval: %+v", evs[0])
	}
	if v := show(); len(v.Approvals) != 1 || v.Approvals[0].Approver != "april" {
		t.Errorf("the change shows approvals %+v", v.Approvals)
	}

	// The report: an HTML page with its charts, and OSCAL JSON, both to
	// download.
	for format, ctype := range map[string]string{"html": "text/html", "oscal": "application/json", "": "application/json"} {
		code, h, body := s.raw("GET", "/api/v1/projects/shop/report?from=2000-01-01&format="+format, vera, nil)
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), ctype) || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") {
			t.Errorf("report as %q: %d %v %.300s", format, code, h, body)
		}
		if format == "html" && !bytes.Contains(body, []byte("<svg")) {
			t.Errorf("the HTML report has no chart")
		}
	}
	for _, query := range []string{"?format=pdf", "?from=soon", "?from=2026-02-01&to=2026-02-01"} {
		if code, _, body := s.raw("GET", "/api/v1/projects/shop/report"+query, vera, nil); code != http.StatusBadRequest {
			t.Errorf("report%s: %d %s; want 400", query, code, body)
		}
	}
}

// TestSingleMaintainerApprovesTheirOwnChange: a project that documents
// the exception lets its maintainer approve their own change, and the
// approval records the exception.
func TestSingleMaintainerApprovesTheirOwnChange(t *testing.T) {
	s := newStack(t)
	dir, commit := repo(t, pipeline)
	rules := "approvals:\n  single_maintainer: \"one maintainer, reviewed quarterly\"\n"
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "solo", RepoURL: dir, Changes: rules}); code != http.StatusOK {
		t.Fatalf("create project: %d %s", code, body)
	}
	sam := s.member("sam", "sam@example.com", "solo", gantry.RoleAdmin)
	if code, body := s.call("POST", "/api/v1/projects/solo/runs", sam, map[string]string{"commit": commit}); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, body)
	}
	code, body := s.call("POST", "/api/v1/projects/solo/changes/"+commit[:12]+"/approvals", sam, ApproveRequest{Environment: "production"})
	var a gantry.Approval
	if code != http.StatusCreated || json.Unmarshal(body, &a) != nil {
		t.Fatalf("sam approves his own change: %d %s", code, body)
	}
	if a.Exception != "one maintainer, reviewed quarterly" || a.Role != gantry.RoleAdmin {
		t.Errorf("approval: %+v", a)
	}
	evs := s.approvalEvents()
	if len(evs) != 1 || evs[0].Outcome != "success" || evs[0].Detail["exception"] != a.Exception {
		t.Errorf("audit: %+v", evs)
	}
}

// TestProjectChangeRulesAreChecked: rules that do not parse are refused
// with where and why, and nothing is stored.
func TestProjectChangeRulesAreChecked(t *testing.T) {
	s := newStack(t)
	rules := "approvals:\n  required: many\n"
	code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: "/nowhere", Changes: rules})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "project shop changes:2:") {
		t.Errorf("bad rules: %d %s; want 400 with the position", code, body)
	}
	if _, err := s.store.Project(context.Background(), "shop"); err == nil {
		t.Error("a project with bad rules was stored")
	}
	good := "environments:\n  - name: live\n    required_approvals: 2\n"
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: "/nowhere", Changes: good}); code != http.StatusOK {
		t.Fatalf("good rules: %d %s", code, body)
	}
	pr, err := s.store.Project(context.Background(), "shop")
	if err != nil || pr.Changes != good {
		t.Errorf("stored rules %q, %v", pr.Changes, err)
	}
}

// TestWebhookRecordsTheChange: a pull request's webhook starts a run of
// change pr-N, authored by the forge login that opened it.
func TestWebhookRecordsTheChange(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: "/nowhere"}); code != http.StatusOK {
		t.Fatalf("create project: %d %s", code, body)
	}
	payload, err := os.ReadFile("../forge/testdata/github/pull_request_opened.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.http.URL+"/api/v1/hooks/shop", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", "pr-1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+forge.Sign(s.hookSecret, payload))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	var run gantry.Run
	json.Unmarshal(body, &run)
	if run.Trigger.Change != "pr-42" || run.Trigger.PullRequest != 42 || run.Trigger.Actor != "grace" {
		t.Fatalf("run's trigger: %+v", run.Trigger)
	}
	c, err := s.store.Change(ctx, "shop", "pr-42")
	if err != nil {
		t.Fatal(err)
	}
	if c.Author != "grace" || c.PullRequest == nil || c.PullRequest.Number != 42 || c.PullRequest.Base != "main" ||
		c.PullRequest.Head != "feature/csv-export" || c.BaseBranch != "main" || len(c.Runs) != 1 || c.Runs[0] != run.ID {
		t.Errorf("change: %+v, pull request %+v", c, c.PullRequest)
	}
}

// deployPipeline builds, then deploys to production: a stage the change
// must be admitted to.
const deployPipeline = `version: 1
stages:
  - name: commit
    steps:
      - name: build
        run: mkdir -p bin && echo 'the app' > bin/app
        outputs: [bin/app]
  - name: deploy
    environment: production
    steps:
      - name: ship
        run: echo shipped
`

// TestChangeManagementOnAnAgent: on an agent, a normal change is refused
// production until someone other than its author approves it through the
// API; then a new run of it deploys, and the report proves its evidence.
func TestChangeManagementOnAnAgent(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	dir, commit := repo(t, deployPipeline)
	// Approvers deploy to production; a normal change needs one approval.
	rules := "environments:\n  - name: production\n    deployers: [\"role:approver\"]\n    required_approvals: 1\n"
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: dir, Changes: rules}); code != http.StatusOK {
		t.Fatalf("create project: %d %s", code, body)
	}
	// dev wrote the commit (dev@example.com) and triggers the runs.
	dev := s.member("dev", "dev@example.com", "shop", gantry.RoleApprover)
	april := s.member("april", "april@example.com", "shop", gantry.RoleApprover)
	devon := s.member("devon", "devon@example.com", "shop", gantry.RoleDeveloper)
	s.startAgent("deployer")

	triggerAs := func(token string) *gantry.Run {
		t.Helper()
		code, body := s.call("POST", "/api/v1/projects/shop/runs", token, map[string]string{"branch": "main"})
		if code != http.StatusAccepted {
			t.Fatalf("trigger: %d %s", code, body)
		}
		var queued gantry.Run
		json.Unmarshal(body, &queued)
		return s.waitRun(queued.ID)
	}
	trigger := func() *gantry.Run { return triggerAs(dev) }
	id := commit[:12]
	first := trigger()
	if first.Status != gantry.StatusFailed || !strings.Contains(first.Reason, "needs 1 approval for production") {
		t.Fatalf("first run %s: %q; want it refused production for want of an approval", first.Status, first.Reason)
	}
	if first.Trigger.Change != id || first.Trigger.Actor != "dev" || first.Trigger.Commit != commit {
		t.Errorf("first run's trigger: %+v", first.Trigger)
	}
	stages, _ := s.store.Stages(ctx, first.ID)
	if len(stages) != 2 || stages[1].Status != gantry.StatusFailed || stages[1].Gate.Allowed {
		t.Errorf("first run's stages: %+v", stages)
	}

	// The agent recorded the change from its checkout, and the gates
	// classified it.
	c, err := s.store.Change(ctx, "shop", id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Author != "dev@example.com" || len(c.Commits) != 1 || c.Commits[0].SHA != commit || c.Files != 1 ||
		c.Classification == nil || c.Classification.Class != gantry.ClassNormal || len(c.Runs) != 1 || c.Runs[0] != first.ID {
		t.Fatalf("recorded change: %+v, classification %+v", c, c.Classification)
	}

	// dev may not approve his own change; april may.
	if code, body := s.call("POST", "/api/v1/projects/shop/changes/"+id+"/approvals", dev, ApproveRequest{Environment: "production"}); code != http.StatusForbidden {
		t.Errorf("dev approves his own change: %d %s; want 403", code, body)
	}
	if code, body := s.call("POST", "/api/v1/projects/shop/changes/"+id+"/approvals", april, ApproveRequest{Environment: "production"}); code != http.StatusCreated {
		t.Fatalf("april approves: %d %s", code, body)
	}
	second := trigger()
	if second.Status != gantry.StatusSucceeded {
		t.Fatalf("second run %s: %q; want it deployed", second.Status, second.Reason)
	}
	stages, _ = s.store.Stages(ctx, second.ID)
	if len(stages) != 2 || !stages[1].Gate.Allowed || stages[1].Gate.Environment != "production" {
		t.Errorf("second run's deploy stage: %+v", stages)
	}
	if c, err = s.store.Change(ctx, "shop", id); err != nil || len(c.Runs) != 2 {
		t.Errorf("the change's runs: %v, %v", c.Runs, err)
	}
	// The deployers are approvers: the agent knows devon is not one.
	if third := triggerAs(devon); third.Status != gantry.StatusFailed || !strings.Contains(third.Reason, "devon may not deploy to production") {
		t.Errorf("devon's run %s: %q; want it refused production", third.Status, third.Reason)
	}

	// The report has the change with its approval and gates, and proves
	// its evidence against the server's ledger.
	code, _, body := s.raw("GET", "/api/v1/projects/shop/report", april, nil)
	if code != http.StatusOK {
		t.Fatalf("report: %d %s", code, body)
	}
	res, err := report.Verify(ctx, body, s.ledgerKeys.Ledger)
	if err != nil {
		t.Fatalf("verify the report: %v", err)
	}
	t.Logf("report: %+v", res)
}

// TestBrokenChangeRulesFailTheRunOnTheAgent: rules that do not parse
// (stored before the API checked them) fail the run, with why, rather
// than deploy under no rules.
func TestBrokenChangeRulesFailTheRunOnTheAgent(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	dir, _ := repo(t, deployPipeline)
	pr := &gantry.Project{Name: "shop", RepoURL: dir, DefaultBranch: "main", PipelinePath: ".gantry.yml",
		Changes: "approvals:\n  required: many\n", CreatedAt: time.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		t.Fatal(err)
	}
	s.startAgent("strict")
	run, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.waitRun(run.ID)
	if got.Status != gantry.StatusFailed || !strings.Contains(got.Reason, "project shop changes:2:") {
		t.Errorf("run %s: %q; want it failed on the rules", got.Status, got.Reason)
	}
}
