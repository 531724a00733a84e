package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/auth/oidctest"
)

// newSSOStack is a stack whose server signs people in with the fake
// provider, with the web UI mounted as gantry server mounts it.
func newSSOStack(t *testing.T, edit func(*auth.OIDCConfig)) (*stack, *oidctest.Provider) {
	t.Helper()
	op := oidctest.NewProvider(t, time.Now)
	s := newStack(t, func(s *stack, o *Options) {
		cfg := auth.OIDCConfig{Issuer: op.URL, ClientID: op.ClientID, ClientSecret: op.ClientSecret,
			RedirectURL: "http://" + s.http.Listener.Addr().String() + "/login/oidc/callback"}
		if edit != nil {
			edit(&cfg)
		}
		var err error
		if o.OIDC, err = auth.NewOIDC(context.Background(), s.authSvc, cfg); err != nil {
			t.Fatal(err)
		}
	})
	ui, err := s.srv.WebUI()
	if err != nil {
		t.Fatal(err)
	}
	s.srv.Mount("/", ui)
	return s, op
}

// ssoBrowser is an HTTP client that keeps cookies, as a browser does, and
// asks for pages.
type ssoBrowser struct {
	t      *testing.T
	s      *stack
	client *http.Client
}

func newSSOBrowser(t *testing.T, s *stack) *ssoBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &ssoBrowser{t: t, s: s, client: &http.Client{Jar: jar}}
}

// get follows redirects from path, on this server and the provider, and
// returns the last response and its body.
func (b *ssoBrowser) get(path string, accept string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.s.http.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// noFollow makes one request, not following a redirect.
func (b *ssoBrowser) noFollow(path string) (*http.Response, string) {
	b.t.Helper()
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(b.s.http.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// cookie returns the value of this server's cookie name in the jar.
func (b *ssoBrowser) cookie(name string) string {
	u, _ := url.Parse(b.s.http.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (s *stack) ssoAudit(t *testing.T, action string) []*gantry.AuditEvent {
	t.Helper()
	evs, err := s.store.AuditEvents(context.Background(), gantry.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestOIDCSignInThroughTheServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*auth.OIDCConfig)
		user bool // the user exists before signing in
	}{
		{name: "existing user", user: true},
		{name: "provisioned on first sign-in", edit: func(c *auth.OIDCConfig) { c.AutoProvision = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newSSOStack(t, tc.edit)
			ctx := context.Background()
			if tc.user {
				if err := s.store.PutUser(ctx, &gantry.User{Name: "dana@example.com", CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			b := newSSOBrowser(t, s)

			// The login page offers single sign-on.
			if _, body := b.get("/login", "text/html"); !strings.Contains(body, `href="/login/oidc"`) {
				t.Errorf("the login page has no single sign-on link:\n%s", body)
			}

			// To the provider, back to the callback, on to the dashboard,
			// signed in.
			resp, body := b.get("/login/oidc", "text/html")
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
				t.Fatalf("single sign-on ended at %s: %s\n%s", resp.Request.URL, resp.Status, body)
			}
			if !strings.Contains(body, "dana@example.com") {
				t.Errorf("the dashboard does not show who signed in:\n%s", body)
			}
			if b.cookie("gantry_oidc") != "" {
				t.Error("the flow cookie outlived the callback")
			}
			if b.cookie("gantry_session") == "" {
				t.Fatal("no session cookie")
			}
			resp, body = b.get("/api/v1/projects", "")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /api/v1/projects signed in: %s %s", resp.Status, body)
			}

			if evs := s.ssoAudit(t, auth.AuditLoginSSO); len(evs) != 1 || evs[0].Actor != "dana@example.com" || evs[0].LedgerIndex < 0 {
				t.Errorf("audit of the sign-in: %+v", evs)
			}
			if u, err := s.store.User(ctx, "dana@example.com"); err != nil || u.PasswordHash != "" {
				t.Errorf("user after single sign-on: %+v, %v", u, err)
			}
		})
	}
}

func TestOIDCFailuresMakeNoSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   bool                                     // the user exists
		op     func(*oidctest.Provider)                 // what the provider does wrong
		finish func(*testing.T, *ssoBrowser) url.Values // the callback's query, when the test makes it
		html   bool                                     // the browser asks for a page
		msg    string                                   // what the answer says
		reason string                                   // what the audit event says
	}{
		{name: "wrong nonce", user: true, op: func(op *oidctest.Provider) {
			op.Tamper(func(c map[string]any) { c["nonce"] = "replayed" })
		}, msg: "single sign-on failed: start again", reason: "nonce mismatch"},
		{name: "unknown user without auto-provisioning", html: true,
			msg: "there is no Gantry account for dana@example.com: ask an admin to create one", reason: "no such user"},
		{name: "token signed by another key", user: true, op: func(op *oidctest.Provider) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			op.SignWith(key)
		}, msg: "single sign-on failed: start again", reason: "verify id token"},
		{name: "email not verified", user: true, html: true, op: func(op *oidctest.Provider) {
			op.SetClaim("email_verified", false)
		}, msg: "the identity provider has not verified your email address", reason: "email not verified"},
		{name: "provider refused", user: true, finish: func(t *testing.T, b *ssoBrowser) url.Values {
			// The browser starts, and the provider sends it back with an
			// error instead of a code.
			resp, body := b.noFollow("/login/oidc")
			to, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || err != nil {
				t.Fatalf("GET /login/oidc: %s %q\n%s", resp.Status, resp.Header.Get("Location"), body)
			}
			return url.Values{"error": {"access_denied"}, "state": {to.Query().Get("state")}}
		}, msg: "the identity provider did not sign you in (access_denied): start again", reason: "no authorization code"},
		{name: "no flow cookie", user: true, finish: func(t *testing.T, b *ssoBrowser) url.Values {
			return url.Values{"code": {"a code"}, "state": {"a state"}}
		}, msg: "no sign-in in progress in this browser", reason: "no sign-in in progress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, op := newSSOStack(t, nil)
			if tc.user {
				if err := s.store.PutUser(context.Background(), &gantry.User{Name: "dana@example.com", CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.op != nil {
				tc.op(op)
			}
			b := newSSOBrowser(t, s)
			accept := ""
			if tc.html {
				accept = "text/html,application/xhtml+xml;q=0.9"
			}
			path := "/login/oidc"
			if tc.finish != nil {
				path = "/login/oidc/callback?" + tc.finish(t, b).Encode()
			}
			resp, body := b.get(path, accept)
			if resp.StatusCode != http.StatusUnauthorized || resp.Request.URL.Path != "/login/oidc/callback" {
				t.Fatalf("ended at %s: %s, want 401 at the callback\n%s", resp.Request.URL, resp.Status, body)
			}
			if tc.html {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want a page", ct)
				}
				for _, want := range []string{"Single sign-on failed", tc.msg, `href="/login/oidc"`} {
					if !strings.Contains(body, want) {
						t.Errorf("the page lacks %q:\n%s", want, body)
					}
				}
				if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
					t.Errorf("the page lacks the security headers: %v", resp.Header)
				}
			} else {
				var got struct{ Error string }
				if err := json.Unmarshal([]byte(body), &got); err != nil || !strings.Contains(got.Error, tc.msg) {
					t.Errorf("answer %s, want an error saying %q", body, tc.msg)
				}
			}
			if b.cookie("gantry_session") != "" || b.cookie("gantry_oidc") != "" {
				t.Error("a failed sign-in left a session or flow cookie")
			}
			if resp, body := b.get("/api/v1/projects", ""); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/v1/projects after a failed sign-in: %s %s", resp.Status, body)
			}
			evs := s.ssoAudit(t, auth.AuditLoginSSOFailed)
			if len(evs) != 1 || evs[0].Outcome != auth.OutcomeFailure || !strings.Contains(evs[0].Detail["reason"], tc.reason) {
				t.Errorf("audit of the failure: %+v, want reason %q", evs, tc.reason)
			}
			if evs := s.ssoAudit(t, auth.AuditLoginSSO); len(evs) != 0 {
				t.Errorf("a failed sign-in was audited as a success: %+v", evs)
			}
		})
	}
}

// TestOIDCNotConfigured: without a provider there is no single sign-on,
// and the login page does not offer it.
func TestOIDCNotConfigured(t *testing.T) {
	s := newStack(t)
	ui, err := s.srv.WebUI()
	if err != nil {
		t.Fatal(err)
	}
	s.srv.Mount("/", ui)
	b := newSSOBrowser(t, s)
	if _, body := b.get("/login", "text/html"); strings.Contains(body, "/login/oidc") {
		t.Errorf("the login page offers single sign-on:\n%s", body)
	}
	for _, path := range []string{"/login/oidc", "/login/oidc/callback?code=c&state=s"} {
		if resp, body := b.get(path, ""); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not configured") {
			t.Errorf("GET %s: %s %s, want 404", path, resp.Status, body)
		}
	}
}
