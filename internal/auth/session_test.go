package auth

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

func newTestSessions(t *testing.T, clock *testClock, keys ...[]byte) *Sessions {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{bytes.Repeat([]byte{1}, 32)}
	}
	m, err := NewSessions(SessionConfig{Keys: keys, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func signedIn(t *testing.T, f *fixture, name, password string) *Principal {
	t.Helper()
	p, err := f.svc.Login(context.Background(), name, password, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSessionCookie(t *testing.T) {
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, map[string]gantry.Role{"web": gantry.RoleViewer})
	m := newTestSessions(t, f.clock)
	sess, err := m.New(signedIn(t, f, "dev", "developer password"))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cookie(sess)
	if c.Name != "gantry_session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != int((12*time.Hour).Seconds()) {
		t.Errorf("cookie = %+v", c)
	}
	// Through a real response and request, as a browser carries it.
	rec := httptest.NewRecorder()
	http.SetCookie(rec, c)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", strings.Split(rec.Header().Get("Set-Cookie"), ";")[0])
	got, err := m.FromRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != sess.ID || got.User != "dev" || !got.Expires.Equal(sess.Expires) {
		t.Errorf("session = %+v, want %+v", got, sess)
	}
	p, err := f.svc.SessionPrincipal(context.Background(), got)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "dev" || p.Role("web") != gantry.RoleViewer {
		t.Errorf("principal = %+v", p)
	}

	_, err = m.FromRequest(httptest.NewRequest("GET", "/", nil))
	wantIs(t, err, ErrNoSession)

	// Another server with the same key reads it; one with another does not.
	if _, err := newTestSessions(t, f.clock).Parse(c.Value); err != nil {
		t.Errorf("same key, other server: %v", err)
	}
	_, err = newTestSessions(t, f.clock, bytes.Repeat([]byte{2}, 32)).Parse(c.Value)
	wantKind(t, err, gantry.EUnauthorized)

	// Rotation: a new first key signs, the old one still verifies.
	rotated := newTestSessions(t, f.clock, bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
	if _, err := rotated.Parse(c.Value); err != nil {
		t.Errorf("old cookie after rotation: %v", err)
	}
	if _, err := m.Parse(rotated.Encode(sess)); err == nil {
		t.Error("a server without the new key read a cookie it signed")
	}

	f.clock.Advance(12 * time.Hour)
	_, err = m.Parse(c.Value)
	wantKind(t, err, gantry.EUnauthorized)

	clear := m.ClearCookie()
	if clear.MaxAge >= 0 || clear.Value != "" {
		t.Errorf("clear cookie = %+v", clear)
	}
}

func TestSessionTampered(t *testing.T) {
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	m := newTestSessions(t, f.clock)
	sess, _ := m.New(signedIn(t, f, "dev", "developer password"))
	value := m.Encode(sess)
	payload, sig, _ := strings.Cut(value, ".")

	forged := *sess
	forged.User = "root"
	forgedPayload, _, _ := strings.Cut(m.Encode(&forged), ".")
	long := forged
	long.Expires = long.IssuedAt.Add(24 * 365 * time.Hour)
	for name, v := range map[string]string{
		"other user, old signature": forgedPayload + "." + sig,
		"no signature":              payload,
		"empty signature":           payload + ".",
		"short signature":           payload + "." + sig[:10],
		"flipped bit":               payload[:5] + string(payload[5]^1) + payload[6:] + "." + sig,
		"empty":                     "",
		"huge":                      strings.Repeat("a", 5000) + "." + sig,
		"longer than the TTL":       m.Encode(&long),
	} {
		if _, err := m.Parse(v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSessionEndsWithPassword: a new password ends the sessions begun
// with the old one; disabling a user ends them all.
func TestSessionEndsWithPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "root", "root password!", true, nil)
	f.user(t, "dev", "developer password", false, nil)
	m := newTestSessions(t, f.clock)
	sess, _ := m.New(signedIn(t, f, "dev", "developer password"))
	if _, err := f.svc.SessionPrincipal(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(ctx, f.principal(t, "root"), "dev", "a new password", ""); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.SessionPrincipal(ctx, sess)
	wantKind(t, err, gantry.EUnauthorized)

	sess, _ = m.New(signedIn(t, f, "dev", "a new password"))
	if err := f.svc.SetDisabled(ctx, f.principal(t, "root"), "dev", true, ""); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.SessionPrincipal(ctx, sess)
	wantKind(t, err, gantry.EUnauthorized)

	if _, err := m.New(&Principal{Name: "dev", Token: &gantry.Token{}}); err == nil {
		t.Error("a token principal got a session")
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	m := newTestSessions(t, f.clock)
	sess, _ := m.New(signedIn(t, f, "dev", "developer password"))
	other, _ := m.New(signedIn(t, f, "dev", "developer password"))
	cookie := m.Cookie(sess)
	token := m.CSRFToken(sess)
	if token == m.CSRFToken(other) {
		t.Fatal("two sessions share a CSRF token")
	}

	reached := 0
	h := m.RequireCSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }), nil)
	form := func(v url.Values) *http.Request {
		r := httptest.NewRequest("POST", "/runs", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		cookie bool
		header map[string]string
		want   int
	}{
		{"GET needs none", httptest.NewRequest("GET", "/", nil), true, nil, 200},
		{"HEAD needs none", httptest.NewRequest("HEAD", "/", nil), true, nil, 200},
		{"POST without token", httptest.NewRequest("POST", "/runs", nil), true, nil, 403},
		{"DELETE without token", httptest.NewRequest("DELETE", "/tokens/x", nil), true, nil, 403},
		{"POST with header", httptest.NewRequest("POST", "/runs", nil), true, map[string]string{CSRFHeader: token}, 200},
		{"POST with form field", form(url.Values{CSRFField: {token}, "x": {"1"}}), true, nil, 200},
		{"POST with another session's token", httptest.NewRequest("POST", "/runs", nil), true, map[string]string{CSRFHeader: m.CSRFToken(other)}, 403},
		{"POST with a garbled token", httptest.NewRequest("POST", "/runs", nil), true, map[string]string{CSRFHeader: token[:20]}, 403},
		{"POST with a form token in JSON", func() *http.Request {
			r := httptest.NewRequest("POST", "/runs", strings.NewReader(CSRFField+"="+token))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), true, nil, 403},
		{"POST by bearer token", httptest.NewRequest("POST", "/runs", nil), true, map[string]string{"Authorization": "Bearer gty_x"}, 200},
		{"POST with no cookie", httptest.NewRequest("POST", "/login", nil), false, nil, 200},
	} {
		if tc.cookie {
			tc.req.AddCookie(cookie)
		}
		for k, v := range tc.header {
			tc.req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		before := reached
		h.ServeHTTP(rec, tc.req)
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, rec.Code, tc.want, rec.Body)
		}
		if (reached > before) != (tc.want == 200) {
			t.Errorf("%s: handler reached = %v", tc.name, reached > before)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) })
	h := SecurityHeaders(mux)
	plain := httptest.NewServer(h)
	defer plain.Close()
	tls := httptest.NewTLSServer(h)
	defer tls.Close()

	want := map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	}
	for _, srv := range []*httptest.Server{plain, tls} {
		for _, path := range []string{"/ok", "/fail", "/missing"} {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s%s: %s = %q, want %q", srv.URL, path, k, got, v)
				}
			}
			hsts := resp.Header.Get("Strict-Transport-Security")
			if isTLS := srv == tls; (hsts == HSTS) != isTLS || (!isTLS && hsts != "") {
				t.Errorf("%s%s: Strict-Transport-Security = %q", srv.URL, path, hsts)
			}
		}
	}
	for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, d) {
			t.Errorf("CSP lacks %s", d)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Error("CSP allows something unsafe")
	}
}

func TestNewSessionsKeys(t *testing.T) {
	if _, err := NewSessions(SessionConfig{}); err == nil {
		t.Error("no key accepted")
	}
	if _, err := NewSessions(SessionConfig{Keys: [][]byte{make([]byte, 31)}}); err == nil {
		t.Error("short key accepted")
	}
}
