package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/web/webtest"
)

// TestBrowserApprovesAChange: the author is refused their own approval,
// then a second person approves the normal change for production through
// the form and sees their approval listed and production ready.
func TestBrowserApprovesAChange(t *testing.T) {
	b := webtest.New(t)
	e := newEnv(t, time.Now)
	e.addProject(t, "shop")
	e.addUser(t, "ann", "ann-pw", false, "shop=approver")
	e.addUser(t, "bob", "bob-pw", false, "shop=approver")
	seedChange(t, e.store, "shop", "pr-7", "ann", gantry.ClassNormal, time.Hour)
	base := e.srv.URL

	signIn := func(user, password string) {
		t.Helper()
		b.Do("sign in as "+user,
			chromedp.Navigate(base+"/projects/shop"),
			chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), user),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
			chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("changes-link")),
		)
		b.Do("open the change",
			chromedp.Click(chromedp.ID("changes-link")),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-change="pr-7"] a.change-link`)),
			chromedp.Click(chromedp.CSS(`tr[data-change="pr-7"] a.change-link`)),
			chromedp.WaitVisible(chromedp.ID("approve-form")),
		)
	}

	// The author: refused, with why.
	signIn("ann", "ann-pw")
	b.Do("approve one's own change",
		chromedp.SetValue(chromedp.CSS(`#approve-form select[name="environment"]`), "production"),
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.ID("approve-error")),
	)
	if got := b.Text("#approve-error"); got != "you wrote change pr-7; an approval must come from someone else" {
		t.Errorf("the author's refusal says %q", got)
	}
	b.Shot("change-refused")
	b.Do("sign out", chromedp.Click(chromedp.CSS(`header.top form button`)), chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)))

	// Someone else: approved.
	signIn("bob", "bob-pw")
	if got := b.Text(`tr[data-environment="production"] [data-field="ready"]`); got != "not yet" {
		t.Errorf("production before the approval: %q", got)
	}
	if got := b.Eval(`document.querySelector('#approve-form select[name="environment"]').value`); got != "production" {
		t.Errorf("the form offers %q first, want production, which waits for an approval", got)
	}
	if got := b.Eval(`String(document.querySelectorAll('#approve-form input[name="retrospective"]').length)`); got != "0" {
		t.Errorf("a normal change's form has a retrospective checkbox")
	}
	b.Do("approve for production",
		chromedp.SetValue(chromedp.CSS(`#approve-form select[name="environment"]`), "production"),
		chromedp.SendKeys(chromedp.CSS(`#approve-form input[name="comment"]`), "read the diff"),
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-approver="bob"][data-environment="production"]`)),
	)
	if got := b.Text("p.flash"); got != "Your approval was recorded." {
		t.Errorf("flash says %q", got)
	}
	if row := b.Text(`tr[data-approver="bob"]`); !strings.Contains(row, "approver") || !strings.Contains(row, "read the diff") {
		t.Errorf("the approval's row: %q", row)
	}
	if got := b.Text(`tr[data-environment="production"] [data-field="ready"]`); got != "ready" {
		t.Errorf("production after the approval: %q", got)
	}
	b.Shot("change-approved")

	for _, line := range strings.Split(b.ConsoleText(), "\n") {
		if strings.Contains(line, "Content Security Policy") || strings.HasPrefix(line, "exception") {
			t.Errorf("console: %s", line)
		}
	}
}
