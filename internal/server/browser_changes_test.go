package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/web/webtest"
)

// TestBrowserApprovesAChangeOnTheRealStack drives the change pages of a
// real server in headless Chromium: the author of a normal change is
// refused their own approval, a second approver approves it for
// production through the form, and the server stored the approval and
// audited both.
func TestBrowserApprovesAChangeOnTheRealStack(t *testing.T) {
	b := webtest.New(t)
	s := newStackWithUI(t)
	ctx := context.Background()
	now := s.srv.opts.Now()
	if err := s.store.PutProject(ctx, &gantry.Project{Name: "shop", RepoURL: "/nowhere", DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	admin, err := s.authSvc.Principal(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ann", "bob"} {
		if _, err := s.authSvc.CreateUser(ctx, admin, auth.NewUser{Name: name, Email: name + "@example.com", Password: name + " has a long password"}, "test"); err != nil {
			t.Fatal(err)
		}
		if err := s.authSvc.SetGrant(ctx, admin, gantry.Grant{User: name, Project: "shop", Role: gantry.RoleApprover}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	opened := now.Add(-time.Hour)
	if err := s.store.PutChange(ctx, &gantry.Change{
		ID: "pr-7", Project: "shop", Title: "Add the cart", Author: "ann", Branch: "cart", BaseBranch: "main",
		Commits:     []gantry.Commit{{SHA: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", Author: "ann", AuthorEmail: "ann@example.com", Subject: "Add the cart", Time: opened}},
		PullRequest: &gantry.PullRequest{Number: 7, Base: "main", Head: "cart"},
		Lines:       300, Files: 9, Opened: opened, UpdatedAt: opened,
		Classification: &gantry.Classification{Class: gantry.ClassNormal, Score: 55, Threshold: 40, At: opened,
			Factors: []gantry.RiskFactor{{Name: "size", Weight: 20, Score: 15, Detail: "300 lines in 9 files"}}},
	}); err != nil {
		t.Fatal(err)
	}
	base := s.http.URL

	openChange := func(user string) {
		t.Helper()
		b.Do("sign in as "+user,
			chromedp.Navigate(base+"/projects/shop/changes"),
			chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), user),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), user+" has a long password"),
			chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-change="pr-7"] a.change-link`)),
			chromedp.Click(chromedp.CSS(`tr[data-change="pr-7"] a.change-link`)),
			chromedp.WaitVisible(chromedp.ID("approve-form")),
		)
	}

	openChange("ann")
	b.Do("approve one's own change",
		chromedp.SetValue(chromedp.CSS(`#approve-form select[name="environment"]`), "production"),
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.ID("approve-error")),
	)
	if got := b.Text("#approve-error"); !strings.Contains(got, "you wrote change pr-7") {
		t.Errorf("the author's refusal says %q", got)
	}
	b.Do("sign out", chromedp.Click(chromedp.CSS(`header.top form button`)), chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)))

	openChange("bob")
	b.Do("approve for production",
		chromedp.SetValue(chromedp.CSS(`#approve-form select[name="environment"]`), "production"),
		chromedp.SendKeys(chromedp.CSS(`#approve-form input[name="comment"]`), "read the diff"),
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-approver="bob"][data-environment="production"]`)),
	)
	if got := b.Text(`tr[data-environment="production"] [data-field="ready"]`); got != "ready" {
		t.Errorf("production after the approval: %q", got)
	}

	approvals, err := s.store.Approvals(ctx, "shop", "pr-7")
	if err != nil {
		t.Fatal(err)
	}
	if len(approvals) != 1 || approvals[0].Approver != "bob" || approvals[0].Role != gantry.RoleApprover || approvals[0].Comment != "read the diff" {
		t.Fatalf("approvals: %+v", approvals)
	}
	evs, err := s.store.AuditEvents(ctx, gantry.AuditFilter{Action: "change.approve"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Actor+" "+ev.Outcome)
	}
	if strings.Join(got, ", ") != "bob success, ann denied" && strings.Join(got, ", ") != "ann denied, bob success" {
		t.Errorf("change.approve audit events: %v", got)
	}

	for _, line := range strings.Split(b.ConsoleText(), "\n") {
		if strings.Contains(line, "Content Security Policy") || strings.HasPrefix(line, "exception") {
			t.Errorf("console: %s", line)
		}
	}
}
