package auth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth/oidctest"
)

// webApp wires the package the way the server does, in a few handlers:
// password and single sign-on login, a session cookie, a CSRF-protected
// action, bearer tokens, and the security headers on everything.
type webApp struct {
	f        *fixture
	sessions *Sessions
	oidc     *OIDC
}

func (a *webApp) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		p, err := a.f.svc.Login(r.Context(), r.PostFormValue("user"), r.PostFormValue("password"), r.PostFormValue("code"), r.RemoteAddr)
		if err != nil {
			http.Error(w, gantry.ErrorMessage(err), http.StatusUnauthorized)
			return
		}
		a.startSession(w, r, p)
	})
	mux.HandleFunc("GET /auth/oidc/login", func(w http.ResponseWriter, r *http.Request) {
		u, flow, err := a.oidc.Begin()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		http.SetCookie(w, a.sessions.FlowCookie(flow))
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("GET /auth/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, a.sessions.ClearFlowCookie())
		flow, err := a.sessions.FlowFromRequest(r)
		if err != nil {
			http.Error(w, gantry.ErrorMessage(err), http.StatusUnauthorized)
			return
		}
		p, err := a.oidc.Finish(r.Context(), flow, r.FormValue("state"), r.FormValue("code"), r.RemoteAddr)
		if err != nil {
			http.Error(w, gantry.ErrorMessage(err), http.StatusUnauthorized)
			return
		}
		a.startSession(w, r, p)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		p, sess, err := a.principal(r)
		if err != nil {
			http.Error(w, gantry.ErrorMessage(err), http.StatusUnauthorized)
			return
		}
		csrf := ""
		if sess != nil {
			csrf = a.sessions.CSRFToken(sess)
		}
		json.NewEncoder(w).Encode(map[string]string{"user": p.Name, "csrf": csrf})
	})
	mux.HandleFunc("POST /projects/{project}/runs", func(w http.ResponseWriter, r *http.Request) {
		p, _, err := a.principal(r)
		if err == nil {
			err = Authorize(p, r.PathValue("project"), ActionRunTrigger)
		}
		if err != nil {
			status := map[string]int{gantry.EUnauthorized: 401, gantry.EForbidden: 403}[gantry.ErrorKind(err)]
			http.Error(w, gantry.ErrorMessage(err), status)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	return SecurityHeaders(a.sessions.RequireCSRF(mux, nil))
}

func (a *webApp) startSession(w http.ResponseWriter, r *http.Request, p *Principal) {
	sess, err := a.sessions.New(p)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	http.SetCookie(w, a.sessions.Cookie(sess))
	http.Redirect(w, r, "/me", http.StatusSeeOther)
}

// principal authenticates by bearer token when there is one, else by the
// session cookie.
func (a *webApp) principal(r *http.Request) (*Principal, *Session, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		p, err := a.f.svc.Authenticate(r.Context(), BearerToken(h))
		return p, nil, err
	}
	sess, err := a.sessions.FromRequest(r)
	if err != nil {
		return nil, nil, err
	}
	p, err := a.f.svc.SessionPrincipal(r.Context(), sess)
	return p, sess, err
}

func TestWebFlow(t *testing.T) {
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, map[string]gantry.Role{"web": gantry.RoleDeveloper})
	f.store.PutUser(t.Context(), &gantry.User{Name: "dana@example.com", CreatedAt: f.clock.Now()})
	f.grant(t, "dana@example.com", "web", gantry.RoleViewer)
	op := oidctest.NewProvider(t, f.clock.Now)

	app := &webApp{f: f, sessions: newTestSessions(t, f.clock)}
	var h http.Handler
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	var err error
	app.oidc, err = NewOIDC(t.Context(), f.svc, OIDCConfig{Issuer: op.URL, ClientID: op.ClientID, ClientSecret: op.ClientSecret, RedirectURL: srv.URL + "/auth/oidc/callback"})
	if err != nil {
		t.Fatal(err)
	}
	h = app.handler()

	browser := func() *http.Client {
		c := srv.Client()
		c.Jar, _ = cookiejar.New(nil)
		return c
	}
	me := func(c *http.Client) (user, csrf string) {
		t.Helper()
		resp, err := c.Get(srv.URL + "/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		for _, k := range []string{"Content-Security-Policy", "X-Frame-Options", "Strict-Transport-Security"} {
			if resp.Header.Get(k) == "" {
				t.Errorf("/me lacks %s", k)
			}
		}
		var v map[string]string
		json.NewDecoder(resp.Body).Decode(&v)
		return v["user"], v["csrf"]
	}
	post := func(c *http.Client, path string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Password login, then a CSRF-protected action.
	b := browser()
	resp, err := b.PostForm(srv.URL+"/login", url.Values{"user": {"dev"}, "password": {"developer password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	user, csrf := me(b)
	if user != "dev" || csrf == "" {
		t.Fatalf("after login: user %q, csrf %q", user, csrf)
	}
	if got := post(b, "/projects/web/runs", nil); got != 403 {
		t.Errorf("trigger without the CSRF token: %d, want 403", got)
	}
	if got := post(b, "/projects/web/runs", map[string]string{CSRFHeader: csrf}); got != 201 {
		t.Errorf("trigger with the CSRF token: %d, want 201", got)
	}
	if got := post(b, "/projects/api/runs", map[string]string{CSRFHeader: csrf}); got != 403 {
		t.Errorf("trigger in a project without a role: %d, want 403", got)
	}

	// Anonymous, and a bearer token.
	if got := post(browser(), "/projects/web/runs", nil); got != 401 {
		t.Errorf("anonymous trigger: %d, want 401", got)
	}
	secret, _, err := f.svc.CreateToken(t.Context(), f.principal(t, "dev"), TokenRequest{Name: "ci", Scopes: []Scope{ScopeWrite}, TTL: time.Hour}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := post(browser(), "/projects/web/runs", map[string]string{"Authorization": "Bearer " + secret}); got != 201 {
		t.Errorf("trigger with a token: %d, want 201", got)
	}

	// Single sign-on through the fake provider, with cookies as a browser
	// keeps them.
	s := browser()
	user, csrf = func() (string, string) {
		resp, err := s.Get(srv.URL + "/auth/oidc/login")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("single sign-on: %s %s", resp.Status, body)
		}
		return me(s)
	}()
	if user != "dana@example.com" || csrf == "" {
		t.Fatalf("after single sign-on: user %q", user)
	}
	if got := post(s, "/projects/web/runs", map[string]string{CSRFHeader: csrf}); got != 403 {
		t.Errorf("a viewer triggered a run: %d", got)
	}
	for _, c := range s.Jar.Cookies(mustURL(t, srv.URL)) {
		if c.Name == "gantry_oidc" {
			t.Error("the flow cookie outlived the callback")
		}
	}
	if !strings.Contains(strings.Join(f.actions(t), " "), AuditLoginSSO) {
		t.Errorf("audit actions %v", f.actions(t))
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
