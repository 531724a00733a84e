package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// FuzzSafeNext checks that where a login sends the browser is always a
// path on this site, whatever the next parameter says.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/runs/x?y=1#z", "//evil.example", "/\\evil.example", "https://evil.example/", "javascript:alert(1)",
		"/%2F%2Fevil.example", "/\t/evil.example", "", "/..//evil.example", "/a/../../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: neither next nor /", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.Contains(got, "\\") {
			t.Fatalf("safeNext(%q) = %q: not a local path", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("safeNext(%q) = %q: parses as %+v, %v", next, got, u, err)
		}
		for _, c := range got {
			if c < ' ' || c == 0x7f {
				t.Fatalf("safeNext(%q) = %q: control character", next, got)
			}
		}
	})
}

// FuzzFindingKeys checks that every finding's key, as a URL path segment
// the browser sends back, finds that finding and no other.
func FuzzFindingKeys(f *testing.F) {
	f.Add("fp-1", "fp-2", "fp-3")
	f.Add("same", "same", "")
	f.Add("a/b c", "-1", "%2F")
	f.Add("", "", "-0")
	f.Add(".", "..", "...")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		fs := []gantry.FindingRecord{
			{Step: "s", Finding: gantry.Finding{RuleID: "R0", Fingerprint: a}},
			{Step: "s", Finding: gantry.Finding{RuleID: "R1", Fingerprint: b}},
			{Step: "s", Finding: gantry.Finding{RuleID: "R2", Fingerprint: c}},
		}
		rows := findingKeys(fs)
		for i, row := range rows {
			key, err := url.PathUnescape(row.Key)
			if err != nil {
				t.Fatalf("key %q of finding %d does not unescape: %v", row.Key, i, err)
			}
			if key == "" || key == "." || key == ".." || strings.Contains(row.Key, "/") {
				t.Fatalf("key %q of finding %d is not one path segment", row.Key, i)
			}
			got, err := lookupFinding(rows, key)
			if err != nil || got.RuleID != row.RuleID {
				t.Fatalf("key %q of finding %d finds %+v, %v", key, i, got, err)
			}
		}
	})
}

// FuzzChangePage renders a change's page from what comes from outside:
// the change's title, author and urgency from a forge or a commit, and
// the project's change rules. The page must render, and escape them.
func FuzzChangePage(f *testing.F) {
	f.Add("Add the cart", "ann", "", "", "")
	f.Add("<script>alert(1)</script>", "\"ann\" <ann@example.com>", "payments are down & out", "environments:\n  - name: live\n    required_approvals: 2\n", "live")
	f.Add("x", "y", "", "approvals:\n  single_maintainer: \"<b>one</b>\"\n", "production")
	f.Add("x", "y", "", "environments: [\n", "")
	f.Add("x", "y", "", "environments:\n  - name: prod\n    freeze:\n      - {start: 2026-01-01T00:00:00Z, end: 2027-01-01T00:00:00Z}\n", "prod")
	h, err := New(Options{Store: struct{ Store }{}, Sessions: struct{ Sessions }{}})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, title, author, urgent, rules, env string) {
		// Fenced, so that a text is not mistaken for the page's markup.
		title, author, urgent = "zq"+title+"qz", "zq"+author+"qz", "zq"+urgent+"qz"
		p := &gantry.Project{Name: "shop", Changes: rules}
		c := &gantry.Change{ID: "pr-1", Project: "shop", Title: title, Author: author, Urgent: urgent, Opened: now,
			Classification: &gantry.Classification{Class: gantry.ClassNormal, Score: 50, Threshold: 40,
				Factors: []gantry.RiskFactor{{Name: "size", Weight: 20, Score: 20, Detail: title}}}}
		approvals := []*gantry.Approval{{Project: "shop", Change: "pr-1", Environment: env, Kind: gantry.ApprovalDeploy, Approver: author, Role: gantry.RoleAdmin, Comment: title, At: now}}
		v := &changeView{Project: p, Change: c, Approvals: approvals, CanApprove: true, Form: approveForm{Environment: env, Comment: title}}
		if cfg, err := projectRules(p); err != nil {
			v.ConfigError = gantry.ErrorMessageOrText(err)
		} else {
			v.Readiness = admissions(cfg, c, approvals, now)
			v.Form.Environments = cfg.EnvironmentNames()
		}
		rec := httptest.NewRecorder()
		h.write(rec, http.StatusOK, "change", view{Title: "Change", User: "bob", CSRF: "tok", Page: v})
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d:\n%s", rec.Code, body)
		}
		for _, s := range []string{title, author, urgent} {
			if strings.ContainsAny(s, "<>\"&'") && strings.Contains(body, s) {
				t.Fatalf("%q is on the page unescaped", s)
			}
		}
	})
}

func TestAgoAndDuration(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		10 * time.Second: "just now", 50 * time.Second: "1 minute", 89 * time.Second: "1 minute", 91 * time.Second: "2 minutes",
		89 * time.Minute: "89 minutes", 91 * time.Minute: "2 hours", 35 * time.Hour: "35 hours", 37 * time.Hour: "2 days",
	} {
		got := agoAt(now, now.Add(-d))
		if got != want && got != want+" ago" {
			t.Errorf("agoAt(-%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "", 850 * time.Millisecond: "850ms", 42 * time.Second: "42s", 185 * time.Second: "3m 05s", 130 * time.Minute: "2h 10m",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
