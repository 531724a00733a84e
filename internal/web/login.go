package web

import (
	"net/http"
	"net/url"
	"strings"

	"gantry.dev/gantry"
)

// loginCookie holds the login form's anti-forgery token: before signing
// in there is no session to hold one, so the form and a cookie carry the
// same random value (double submit), and a page of another site can set
// neither.
const loginCookie = "gantry_login_csrf"

type loginView struct {
	User  string
	Next  string
	Token string
	Error string
	SSO   bool // offer single sign-on
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := h.opts.Sessions.Current(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.showLogin(w, r, http.StatusOK, &loginView{Next: next})
}

// showLogin renders the login form with a fresh anti-forgery token.
func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, v *loginView) {
	token, err := h.randomToken(32)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: token, Path: "/login", MaxAge: 3600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	v.Token, v.SSO = token, h.opts.SSO
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, nil, status, "login", "Sign in", v)
}

// The login form's fields.
const (
	fieldUser     = "user"
	fieldPassword = "password"
	fieldCode     = "code"
	fieldNext     = "next"
)

// loginFailed is what a failed sign-in says, whatever failed: the form
// tells neither whether a user exists nor whether the password was right
// when a code was missing (the code field is always there).
const loginFailed = "Sign-in failed: check your user name, password and two-factor code."

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.showLogin(w, r, http.StatusBadRequest, &loginView{Error: "The form could not be read: try again."})
		return
	}
	v := &loginView{User: strings.TrimSpace(r.PostFormValue(fieldUser)), Next: safeNext(r.PostFormValue(fieldNext))}
	if len(v.User) > 256 {
		v.User = ""
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !equalTokens(c.Value, r.PostFormValue(CSRFField)) {
		v.Error = "The sign-in form had expired, or was not sent from this site: try again."
		h.showLogin(w, r, http.StatusForbidden, v)
		return
	}
	err = h.opts.Sessions.Login(w, r, v.User, r.PostFormValue(fieldPassword), strings.TrimSpace(r.PostFormValue(fieldCode)))
	if err != nil {
		status := http.StatusUnauthorized
		switch gantry.ErrorKind(err) {
		case gantry.EUnauthorized, gantry.EForbidden, gantry.ENotFound:
			v.Error = loginFailed
		case gantry.EInvalid:
			status, v.Error = http.StatusBadRequest, gantry.ErrorMessage(err)
		case gantry.EUnavailable:
			// Mostly too many attempts from the address; the message says.
			status, v.Error = http.StatusTooManyRequests, gantry.ErrorMessage(err)
		default:
			id := h.errorID()
			h.log.Error("sign in", "id", id, "err", err)
			status, v.Error = http.StatusInternalServerError, "Sign-in is not working right now (internal error "+id+")."
		}
		h.showLogin(w, r, status, v)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// logout ends the session. Without one there is nothing to end, and the
// login form is where the user wanted to go.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.opts.Sessions.Current(r); !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	h.form(func(w http.ResponseWriter, r *http.Request, s Session) error {
		h.opts.Sessions.Logout(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	})(w, r)
}

// safeNext returns where to go after signing in: next when it is a path
// on this site, else the dashboard. It refuses anything a browser could
// read as another site (//host, /\host, a scheme).
func safeNext(next string) string {
	if len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\") || strings.ContainsFunc(next, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return next
}
