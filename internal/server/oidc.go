package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth"
)

// Single sign-on's routes.
const (
	OIDCLoginPath    = "/login/oidc"
	OIDCCallbackPath = "/login/oidc/callback"
)

// registerOIDC adds single sign-on for the web UI: /login/oidc sends the
// browser to the provider, which sends it back to /login/oidc/callback.
// They are pages for a browser, not API calls: they are left out of
// Routes and of the OpenAPI description.
func (s *Server) registerOIDC() {
	s.mux.HandleFunc("GET "+OIDCLoginPath, s.oidcLogin)
	s.mux.HandleFunc("GET "+OIDCCallbackPath, s.oidcCallback)
}

// ssoSessions returns the sessions single sign-on starts, or why there is
// no single sign-on.
func (s *Server) ssoSessions() (*auth.Sessions, error) {
	if s.opts.OIDC == nil {
		return nil, gantry.Errorf(gantry.ENotFound, "single sign-on is not configured on this server: sign in with your password")
	}
	a, ok := s.opts.Auth.(*Authn)
	if !ok || a.Sessions == nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "single sign-on needs session cookies, and this server has none")
	}
	return a.Sessions, nil
}

// oidcLogin starts a sign-in: the flow (state, nonce, PKCE verifier) goes
// in a signed cookie, and the browser to the provider.
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	sessions, err := s.ssoSessions()
	if err != nil {
		s.ssoFail(w, r, err)
		return
	}
	authURL, flow, err := s.opts.OIDC.Begin()
	if err != nil {
		s.ssoFail(w, r, err)
		return
	}
	http.SetCookie(w, sessions.FlowCookie(flow))
	http.Redirect(w, r, authURL, http.StatusFound)
}

// oidcCallback finishes a sign-in the provider sent back: on success the
// browser gets a session and goes to the dashboard. Finish records every
// outcome in the audit log.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	sessions, err := s.ssoSessions()
	if err != nil {
		s.ssoFail(w, r, err)
		return
	}
	// A flow is good for one callback, whatever its outcome.
	http.SetCookie(w, sessions.ClearFlowCookie())
	q := r.URL.Query()
	flow, flowErr := sessions.FlowFromRequest(r)
	p, err := s.opts.OIDC.Finish(r.Context(), flow, q.Get("state"), q.Get("code"), remote(r))
	switch {
	case flowErr != nil:
		// Finish refused the missing flow and recorded it; the cookie's
		// error says better what went wrong.
		err = flowErr
	case err != nil && q.Get("error") != "":
		err = gantry.Errorf(gantry.EUnauthorized, "the identity provider did not sign you in (%s): start again", oauthErrorCode(q.Get("error")))
	}
	if err != nil {
		s.ssoFail(w, r, err)
		return
	}
	sess, err := sessions.New(p)
	if err != nil {
		s.ssoFail(w, r, err)
		return
	}
	http.SetCookie(w, sessions.Cookie(sess))
	http.Redirect(w, r, "/", http.StatusFound)
}

// oauthErrorCode returns the provider's error code (RFC 6749 4.1.2.1) when
// it looks like one, to show it; anything else is "unknown".
func oauthErrorCode(code string) string {
	if code == "" || len(code) > 64 || strings.ContainsFunc(code, func(c rune) bool { return (c < 'a' || c > 'z') && c != '_' }) {
		return "unknown"
	}
	return code
}

// ssoFail answers a sign-in that failed: 401 for anything the user or
// the provider did (no one is signed in, whether the credentials were
// refused or the user may not sign in), as a page for a browser and JSON
// for anything else. Internal errors show only an ID.
func (s *Server) ssoFail(w http.ResponseWriter, r *http.Request, err error) {
	if gantry.ErrorKind(err) == gantry.EForbidden {
		err = &gantry.Error{Kind: gantry.EUnauthorized, Message: gantry.ErrorMessage(err), Err: err}
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		s.writeError(w, r, err)
		return
	}
	status, msg := statusOf(err), gantry.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		id := fmt.Sprintf("%x", s.opts.Now().UnixNano())
		s.opts.Logger.Error("single sign-on failed", "id", id, "path", r.URL.Path, "err", err)
		msg = "internal error " + id
	}
	var b bytes.Buffer
	if err := ssoFailPage.Execute(&b, struct {
		Status  int
		Message string
		Retry   bool
	}{status, msg, status == http.StatusUnauthorized}); err != nil {
		s.opts.Logger.Error("render the single sign-on failure page", "err", err)
		http.Error(w, msg, status)
		return
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gantry"`)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// ssoFailPage is the page a browser gets when single sign-on fails. It
// uses the web UI's stylesheet when the UI is mounted, and works without.
var ssoFailPage = template.Must(template.New("sso").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark light">
<title>Single sign-on failed · Gantry</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<main>
<section class="error-page">
  <p class="code">{{.Status}}</p>
  <h1>Single sign-on failed</h1>
  <p class="message" role="alert">{{.Message}}</p>
  <p>{{if .Retry}}<a href="/login/oidc">Try again</a> · {{end}}<a href="/login">Sign in with a password</a></p>
</section>
</main>
</body>
</html>
`))
