package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth/oidctest"
)

type oidcFixture struct {
	*fixture
	op   *oidctest.Provider
	oidc *OIDC
}

func newOIDCFixture(t *testing.T, edit ...func(*OIDCConfig)) *oidcFixture {
	t.Helper()
	f := newFixture(t)
	op := oidctest.NewProvider(t, f.clock.Now)
	cfg := OIDCConfig{Issuer: op.URL, ClientID: op.ClientID, ClientSecret: op.ClientSecret, RedirectURL: "https://gantry.example/auth/oidc/callback"}
	for _, e := range edit {
		e(&cfg)
	}
	o, err := NewOIDC(context.Background(), f.svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &oidcFixture{fixture: f, op: op, oidc: o}
}

// signIn runs the flow as a browser would: to the provider, which
// redirects back with a code and the state, and on to Finish.
func (f *oidcFixture) signIn(t *testing.T, editFlow func(*OIDCFlow, url.Values)) (*Principal, error) {
	t.Helper()
	authURL, flow, err := f.oidc.Begin()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorization endpoint: %s", resp.Status)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), "https://gantry.example/auth/oidc/callback?") {
		t.Fatalf("redirected to %s", back)
	}
	q := back.Query()
	if editFlow != nil {
		editFlow(flow, q)
	}
	return f.oidc.Finish(context.Background(), flow, q.Get("state"), q.Get("code"), "192.0.2.1:443")
}

func (f *oidcFixture) ssoUser(t *testing.T, name string) {
	t.Helper()
	if err := f.store.PutUser(context.Background(), &gantry.User{Name: name, CreatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

func TestOIDCLogin(t *testing.T) {
	f := newOIDCFixture(t)
	f.ssoUser(t, "dana@example.com")
	f.grant(t, "dana@example.com", "web", gantry.RoleApprover)
	p, err := f.signIn(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "dana@example.com" || p.Role("web") != gantry.RoleApprover || p.Stamp == "" {
		t.Errorf("principal = %+v", p)
	}
	e := f.lastAudit(t)
	if e.Action != AuditLoginSSO || e.Outcome != OutcomeSuccess || e.Detail["subject"] != oidctest.Subject || e.Detail["issuer"] != f.op.URL {
		t.Errorf("audit event = %+v", e)
	}
	m := newTestSessions(t, f.clock)
	if _, err := m.New(p); err != nil {
		t.Errorf("session for a single sign-on user: %v", err)
	}
}

func TestOIDCEmailVerifiedString(t *testing.T) {
	f := newOIDCFixture(t)
	f.ssoUser(t, "dana@example.com")
	f.op.SetClaim("email_verified", "true")
	if _, err := f.signIn(t, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOIDCPreferredUsername(t *testing.T) {
	f := newOIDCFixture(t, func(c *OIDCConfig) { c.UsernameClaim = "preferred_username" })
	f.ssoUser(t, "dana")
	p, err := f.signIn(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "dana" {
		t.Errorf("principal = %+v", p)
	}
}

func TestOIDCProvisioning(t *testing.T) {
	f := newOIDCFixture(t)
	_, err := f.signIn(t, nil)
	wantKind(t, err, gantry.EForbidden)
	if !strings.Contains(err.Error(), "no Gantry account for dana@example.com") {
		t.Errorf("err = %v", err)
	}
	if e := f.lastAudit(t); e.Action != AuditLoginSSOFailed {
		t.Errorf("audit event = %+v", e)
	}

	g := newOIDCFixture(t, func(c *OIDCConfig) { c.AutoProvision = true })
	p, err := g.signIn(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Roles) != 0 || p.ServerAdmin {
		t.Errorf("a provisioned user has privileges: %+v", p)
	}
	u, err := g.store.User(context.Background(), "dana@example.com")
	if err != nil || u.Email != "dana@example.com" || u.PasswordHash != "" {
		t.Errorf("provisioned user = %+v, %v", u, err)
	}
	if !containsAll(g.actions(t), AuditUserCreate, AuditLoginSSO) {
		t.Errorf("audit actions %v", g.actions(t))
	}
}

func TestOIDCRefusesLocalAndDisabledUsers(t *testing.T) {
	f := newOIDCFixture(t)
	f.user(t, "dana@example.com", "a local password", false, nil)
	_, err := f.signIn(t, nil)
	wantKind(t, err, gantry.EForbidden)

	g := newOIDCFixture(t, func(c *OIDCConfig) { c.LinkLocalUsers = true })
	g.user(t, "dana@example.com", "a local password", false, nil)
	if _, err := g.signIn(t, nil); err != nil {
		t.Errorf("with LinkLocalUsers: %v", err)
	}

	h := newOIDCFixture(t)
	h.store.PutUser(context.Background(), &gantry.User{Name: "dana@example.com", Disabled: true, CreatedAt: h.clock.Now()})
	_, err = h.signIn(t, nil)
	wantKind(t, err, gantry.EUnauthorized)
}

func TestOIDCRejects(t *testing.T) {
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		op     func(*oidctest.Provider)
		flow   func(*OIDCFlow, url.Values)
		clock  time.Duration
		reason string
		kind   string
	}{
		{name: "wrong nonce", op: func(op *oidctest.Provider) { op.Tamper(func(c map[string]any) { c["nonce"] = "replayed" }) }, reason: "nonce mismatch"},
		{name: "no nonce", op: func(op *oidctest.Provider) { op.Tamper(func(c map[string]any) { delete(c, "nonce") }) }, reason: "nonce mismatch"},
		{name: "wrong audience", op: func(op *oidctest.Provider) { op.Tamper(func(c map[string]any) { c["aud"] = "someone-else" }) }, reason: "verify id token"},
		{name: "wrong issuer", op: func(op *oidctest.Provider) { op.Tamper(func(c map[string]any) { c["iss"] = "https://evil.example" }) }, reason: "verify id token"},
		{name: "expired token", op: func(op *oidctest.Provider) {
			op.Tamper(func(c map[string]any) {
				c["iat"] = op.Now().Add(-2 * time.Hour).Unix()
				c["exp"] = op.Now().Add(-time.Hour).Unix()
			})
		}, reason: "verify id token"},
		{name: "bad signature", op: func(op *oidctest.Provider) { op.SignWith(otherKey) }, reason: "verify id token"},
		{name: "state mismatch", flow: func(f *OIDCFlow, q url.Values) { q.Set("state", "forged") }, reason: "state mismatch"},
		{name: "wrong PKCE verifier", flow: func(f *OIDCFlow, q url.Values) { f.Verifier = strings.Repeat("v", 43) }, reason: "exchange code"},
		{name: "no code", flow: func(f *OIDCFlow, q url.Values) { q.Del("code") }, reason: "no authorization code"},
		{name: "flow expired", clock: 11 * time.Minute, reason: "expired"},
		{name: "email unverified", op: func(op *oidctest.Provider) { op.SetClaim("email_verified", false) }, reason: "email not verified", kind: gantry.EForbidden},
		{name: "email verified as a string false", op: func(op *oidctest.Provider) { op.SetClaim("email_verified", "false") }, reason: "email not verified", kind: gantry.EForbidden},
		{name: "email missing", op: func(op *oidctest.Provider) { op.DeleteClaim("email") }, reason: "not a user name", kind: gantry.EForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOIDCFixture(t)
			f.ssoUser(t, "dana@example.com")
			if tc.op != nil {
				tc.op(f.op)
			}
			edit := tc.flow
			if tc.clock != 0 {
				edit = func(*OIDCFlow, url.Values) { f.clock.Advance(tc.clock) }
			}
			p, err := f.signIn(t, edit)
			kind := tc.kind
			if kind == "" {
				kind = gantry.EUnauthorized
			}
			if p != nil {
				t.Fatalf("signed in as %+v", p)
			}
			wantKind(t, err, kind)
			e := f.lastAudit(t)
			if e.Action != AuditLoginSSOFailed || e.Outcome != OutcomeFailure || !strings.Contains(e.Detail["reason"], tc.reason) {
				t.Errorf("audit event = %+v, want reason %q", e, tc.reason)
			}
		})
	}
}

// TestOIDCCodeOnce: a code the provider has redeemed cannot be redeemed
// again through Finish (the provider refuses; Finish fails closed).
func TestOIDCCodeOnce(t *testing.T) {
	f := newOIDCFixture(t)
	f.ssoUser(t, "dana@example.com")
	var flow OIDCFlow
	var q url.Values
	if _, err := f.signIn(t, func(fl *OIDCFlow, v url.Values) { flow, q = *fl, v }); err != nil {
		t.Fatal(err)
	}
	_, err := f.oidc.Finish(context.Background(), &flow, q.Get("state"), q.Get("code"), "")
	wantKind(t, err, gantry.EUnauthorized)
}

func TestOIDCFlowCookie(t *testing.T) {
	f := newOIDCFixture(t)
	m := newTestSessions(t, f.clock)
	_, flow, err := f.oidc.Begin()
	if err != nil {
		t.Fatal(err)
	}
	c := m.FlowCookie(flow)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 600 {
		t.Errorf("flow cookie = %+v", c)
	}
	req := httptest.NewRequest("GET", "/auth/oidc/callback", nil)
	req.AddCookie(c)
	got, err := m.FlowFromRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if *got != (OIDCFlow{State: flow.State, Nonce: flow.Nonce, Verifier: flow.Verifier, Expires: got.Expires}) || !got.Expires.Equal(flow.Expires) {
		t.Errorf("flow = %+v, want %+v", got, flow)
	}
	// A session cookie's signature does not make a flow cookie.
	p, s, _ := strings.Cut(c.Value, ".")
	for _, bad := range []string{p, p + "." + s[:10], "x" + c.Value, c.Value + "x"} {
		if _, err := m.ParseFlow(bad); err == nil {
			t.Errorf("ParseFlow(%q) accepted it", bad)
		}
	}
	if _, err := newTestSessions(t, f.clock, make([]byte, 32)).ParseFlow(c.Value); err == nil {
		t.Error("a flow cookie verified under another key")
	}
	if _, err := m.FlowFromRequest(httptest.NewRequest("GET", "/", nil)); err == nil {
		t.Error("no flow cookie accepted")
	}
}

func TestNewOIDCRefuses(t *testing.T) {
	f := newFixture(t)
	op := oidctest.NewProvider(t, f.clock.Now)
	for name, cfg := range map[string]OIDCConfig{
		"no issuer":      {ClientID: "c", RedirectURL: "https://x/cb"},
		"bad claim":      {Issuer: op.URL, ClientID: "c", RedirectURL: "https://x/cb", UsernameClaim: "name"},
		"issuer differs": {Issuer: op.URL + "/other", ClientID: "c", RedirectURL: "https://x/cb"},
	} {
		if _, err := NewOIDC(context.Background(), f.svc, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
