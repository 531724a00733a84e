// Package web is Gantry's web UI: server-rendered pages (html/template)
// with a little plain JavaScript for live updates over server-sent events.
// Templates, styles and scripts are embedded in the binary; pages load
// nothing from elsewhere and carry a Content-Security-Policy of
// default-src 'self', so there is no inline script or style.
//
// The server mounts the Handler at "/" beside its JSON API, and serves the
// event streams the pages subscribe to: every run's at /events and one
// run's at /api/v1/runs/{run}/events.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// Store is what the web UI reads. It never writes: changes go through
// Service. gantry.ServerStore implements it.
type Store interface {
	Projects(ctx context.Context) ([]*gantry.Project, error)
	Project(ctx context.Context, name string) (*gantry.Project, error)
	Runs(ctx context.Context, f gantry.RunFilter) ([]*gantry.Run, error)
	Run(ctx context.Context, id gantry.RunID) (*gantry.Run, error)
	Stages(ctx context.Context, run gantry.RunID) ([]*gantry.StageResult, error)
	Steps(ctx context.Context, run gantry.RunID) ([]*gantry.StepResult, error)
	Logs(ctx context.Context, run gantry.RunID, step string) ([]gantry.LogLine, error)
	Artifacts(ctx context.Context, f gantry.ArtifactFilter) ([]gantry.ArtifactRecord, error)
	Findings(ctx context.Context, run gantry.RunID, step string) ([]gantry.FindingRecord, error)
	Attestations(ctx context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error)
	Users(ctx context.Context) ([]*gantry.User, error)
	Grants(ctx context.Context, user, project string) ([]gantry.Grant, error)
	Tokens(ctx context.Context, user string) ([]*gantry.Token, error)
	AuditEvents(ctx context.Context, f gantry.AuditFilter) ([]*gantry.AuditEvent, error)
	Secrets(ctx context.Context, project string) ([]*gantry.SecretRecord, error)
	Changes(ctx context.Context, f gantry.ChangeFilter) ([]*gantry.Change, error)
	Change(ctx context.Context, project, id string) (*gantry.Change, error)
	Approvals(ctx context.Context, project, change string) ([]*gantry.Approval, error)
}

var _ Store = gantry.ServerStore(nil)

// Session is a signed-in user, as the session cookie of a request says.
type Session struct {
	User        string
	ServerAdmin bool
	// CSRF is the session's anti-forgery token: every form the UI renders
	// carries it in the field CSRFField.
	CSRF string
}

// CSRFField is the name of the form field that carries the session's CSRF
// token; scripts send it in the CSRFHeader instead.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// Sessions signs people in and out and says what they may do. The server
// implements it with its session cookies and RBAC.
type Sessions interface {
	// Current returns the session of r; ok is false when r has none, or
	// one that expired or was revoked.
	Current(r *http.Request) (s Session, ok bool)
	// Login checks the credentials (totpCode is "" when the user gave
	// none) and sets the session cookie on w. Wrong credentials are an
	// EUnauthorized error whose message does not tell which was wrong;
	// too many attempts are an EUnavailable error.
	Login(w http.ResponseWriter, r *http.Request, user, password, totpCode string) error
	// Logout ends r's session and clears its cookie.
	Logout(w http.ResponseWriter, r *http.Request)
	// CheckCSRF returns an EForbidden error unless r carries its
	// session's CSRF token, in the form field CSRFField (the form is
	// parsed already) or the header CSRFHeader.
	CheckCSRF(r *http.Request) error
	// Authorize returns nil when user may do action in project ("" for
	// actions outside projects), or an EForbidden error saying why not.
	Authorize(ctx context.Context, user, project, action string) error
}

// The actions the UI asks Sessions.Authorize about.
const (
	ActProjectRead   = "project.read"
	ActRunRead       = "run.read"
	ActRunTrigger    = "run.trigger"
	ActChangeApprove = "change.approve"
	ActSecretList    = "secret.list"
	ActSecretWrite   = "secret.write"
	ActMemberManage  = "member.manage"
	ActAuditRead     = "audit.read"
	ActUserManage    = "user.manage"
	ActTokenCreate   = "token.create"
	ActTokenDelete   = "token.delete"
)

// Actor is who asks for a change through the UI, for authorization and the
// audit log.
type Actor struct {
	User   string
	Remote string // the client's address, without the port
}

// NewUser is a local user to create.
type NewUser struct {
	Name        string
	Email       string
	Password    string
	ServerAdmin bool
}

// NewToken is an API token to create for the actor.
type NewToken struct {
	Name    string
	Scopes  []string // among read, write, admin
	Project string   // limits the token to one project when set
	TTL     time.Duration
}

// Service carries out the changes people ask for in the UI. Each method
// authorizes the actor itself (the UI checks too, to show only what may be
// done) and records an audit event.
type Service interface {
	// Trigger starts a run of project's pipeline on branch ("" for the
	// default branch).
	Trigger(ctx context.Context, a Actor, project, branch string) (*gantry.Run, error)
	CreateUser(ctx context.Context, a Actor, u NewUser) error
	// Grant gives g.User the role g.Role in g.Project; an empty role
	// revokes it.
	Grant(ctx context.Context, a Actor, g gantry.Grant) error
	// CreateToken makes an API token for a.User and returns its secret,
	// which is never shown again.
	CreateToken(ctx context.Context, a Actor, t NewToken) (secret string, err error)
	// DeleteToken deletes one of a.User's tokens.
	DeleteToken(ctx context.Context, a Actor, id string) error
	// PutSecret sets a secret's value; env "" is every environment. The
	// value is encrypted and never shown again.
	PutSecret(ctx context.Context, a Actor, project, env, name, value string) error
	// ApproveChange records a.User's approval of a change for an
	// environment, or an urgent change's retrospective review. It refuses
	// the change's author (EForbidden) unless the project documents a
	// single-maintainer exception, which the approval then records.
	ApproveChange(ctx context.Context, a Actor, project, change string, req ApproveRequest) (*gantry.Approval, error)
}

// ApproveRequest is an approval to give.
type ApproveRequest struct {
	Environment string
	Kind        string // gantry.ApprovalDeploy or gantry.ApprovalRetrospective
	Comment     string
}

// Options configure a Handler.
type Options struct {
	Store    Store    // required
	Sessions Sessions // required
	Service  Service  // nil: the UI is read-only
	// DashboardRuns is how many runs of each project the dashboard
	// shows; default 5.
	DashboardRuns int
	// LogLines bounds the lines of one step's log rendered in a page;
	// the rest is a link. Default 5000.
	LogLines int
	// SSO shows a link to single sign-on (GET /login/oidc, served by the
	// server) on the login page.
	SSO    bool
	Now    func() time.Time // nil: time.Now
	Rand   io.Reader        // nil: crypto/rand
	Logger *slog.Logger     // nil discards
}

// Handler serves the web UI. Make one with New.
type Handler struct {
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	pages  map[string]*pageTemplate
	assets *assetSet
}

// New returns a Handler, with its templates parsed.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Sessions == nil {
		return nil, errors.New("web: a store and sessions are required")
	}
	if opts.DashboardRuns <= 0 {
		opts.DashboardRuns = 5
	}
	if opts.LogLines <= 0 {
		opts.LogLines = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	h := &Handler{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if h.assets, err = loadAssets(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if h.pages, err = h.parsePages(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	h.mux.Handle("GET /assets/", h.assets)
	h.mux.HandleFunc("GET /login", h.loginForm)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)

	h.mux.HandleFunc("GET /{$}", h.page(h.dashboard))
	h.mux.HandleFunc("GET /projects/{project}", h.page(h.project))
	h.mux.HandleFunc("POST /projects/{project}/runs", h.form(h.trigger))
	h.mux.HandleFunc("GET /projects/{project}/changes", h.page(h.changes))
	h.mux.HandleFunc("GET /projects/{project}/changes/{change}", h.page(h.change))
	h.mux.HandleFunc("POST /projects/{project}/changes/{change}/approvals", h.form(h.approve))
	h.mux.HandleFunc("GET /runs/{run}", h.page(h.run))
	h.mux.HandleFunc("GET /runs/{run}/log", h.page(h.stepLog))
	h.mux.HandleFunc("GET /runs/{run}/findings", h.page(h.findings))
	h.mux.HandleFunc("GET /runs/{run}/findings/{finding}", h.page(h.finding))
	h.mux.HandleFunc("GET /audit", h.page(h.audit))
	h.mux.HandleFunc("GET /admin", h.page(h.admin))
	h.mux.HandleFunc("POST /admin/users", h.form(h.createUser))
	h.mux.HandleFunc("POST /admin/grants", h.form(h.grant))
	h.mux.HandleFunc("POST /admin/tokens", h.form(h.createToken))
	h.mux.HandleFunc("POST /admin/tokens/{id}/delete", h.form(h.deleteToken))
	h.mux.HandleFunc("POST /admin/secrets", h.form(h.putSecret))
	h.mux.HandleFunc("/", h.page(func(w http.ResponseWriter, r *http.Request, s Session) error {
		return gantry.Errorf(gantry.ENotFound, "there is no page %s", r.URL.Path)
	}))
}

// securityHeaders are the headers every page carries. The server may set
// its own first (it does for every response); these fill in what it did
// not, so that the pages are safe wherever they are mounted.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
}

// ServeHTTP serves a page, with the security headers every page carries.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	for _, kv := range securityHeaders {
		if hd.Get(kv[0]) == "" {
			hd.Set(kv[0], kv[1])
		}
	}
	h.mux.ServeHTTP(w, r)
}

// pageFunc renders a page for a signed-in user; an error is rendered by
// fail.
type pageFunc func(w http.ResponseWriter, r *http.Request, s Session) error

// page wraps a page that needs a signed-in user: anyone else is sent to
// the login form, and back afterwards.
func (h *Handler) page(f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.opts.Sessions.Current(r)
		if !ok {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := f(w, r, s); err != nil {
			h.fail(w, r, &s, err)
		}
	}
}

// maxForm bounds a form's body: secrets' values are the largest fields.
const maxForm = 256 << 10

// form wraps a form's POST handler: it needs a session and its CSRF
// token.
func (h *Handler) form(f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.opts.Sessions.Current(r)
		if !ok {
			h.fail(w, r, nil, gantry.Errorf(gantry.EUnauthorized, "your session has ended: sign in again"))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, &s, gantry.Errorf(gantry.EInvalid, "read the form: %v", err))
			return
		}
		if err := h.opts.Sessions.CheckCSRF(r); err != nil {
			h.log.Warn("form without its CSRF token", "path", r.URL.Path, "user", s.User, "remote", remoteAddr(r))
			h.fail(w, r, &s, gantry.Errorf(gantry.EForbidden, "the form was not sent from this site's page, or the page is too old: reload it and try again"))
			return
		}
		if err := f(w, r, s); err != nil {
			h.fail(w, r, &s, err)
		}
	}
}

// errorView is what an error page shows.
type errorView struct {
	Status  int
	Title   string
	Message string
}

// fail renders the page of an error: its kind says the status. Internal
// errors show only an ID; the log has the rest.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *Session, err error) {
	v := errorView{Message: gantry.ErrorMessage(err)}
	switch gantry.ErrorKind(err) {
	case gantry.EInvalid:
		v.Status, v.Title = http.StatusBadRequest, "That did not work"
	case gantry.ENotFound:
		v.Status, v.Title = http.StatusNotFound, "Not found"
	case gantry.EForbidden:
		v.Status, v.Title = http.StatusForbidden, "Not allowed"
	case gantry.EUnauthorized:
		v.Status, v.Title = http.StatusUnauthorized, "Sign in"
		s = nil
	case gantry.EConflict:
		v.Status, v.Title = http.StatusConflict, "That did not work"
	case gantry.EUnavailable:
		v.Status, v.Title = http.StatusServiceUnavailable, "Unavailable"
	default:
		if errors.Is(err, context.Canceled) {
			return // the client went away
		}
		id := h.errorID()
		h.log.Error("page failed", "id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		v.Status, v.Title, v.Message = http.StatusInternalServerError, "Something went wrong", "internal error "+id
	}
	h.render(w, r, s, v.Status, "error", v.Title, v)
}

func (h *Handler) errorID() string {
	b := make([]byte, 6)
	if _, err := io.ReadFull(h.opts.Rand, b); err != nil {
		return fmt.Sprintf("%x", h.opts.Now().UnixNano())
	}
	return fmt.Sprintf("%x", b)
}

// actor is who a request acts for.
func actor(r *http.Request, s Session) Actor {
	return Actor{User: s.User, Remote: remoteAddr(r)}
}

// remoteAddr is the client's address without its port.
func remoteAddr(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// randomToken returns n random bytes, base64url-encoded.
func (h *Handler) randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(h.opts.Rand, b); err != nil {
		return "", fmt.Errorf("make token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func equalTokens(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// authorized reports whether the user may do action in project; any error
// but a denial is returned.
func (h *Handler) authorized(ctx context.Context, s Session, project, action string) (bool, error) {
	err := h.opts.Sessions.Authorize(ctx, s.User, project, action)
	switch gantry.ErrorKind(err) {
	case "":
		return true, nil
	case gantry.EForbidden, gantry.EUnauthorized:
		return false, nil
	}
	return false, err
}

// visibleProject loads a project and authorizes action in it. A project
// the user may not see at all is not found, so that no one learns which
// projects exist; one they see but may not do action in is forbidden.
func (h *Handler) visibleProject(ctx context.Context, s Session, name, action string) (*gantry.Project, error) {
	notFound := gantry.Errorf(gantry.ENotFound, "there is no project %s, or you may not see it", clip(name))
	see, err := h.authorized(ctx, s, name, ActProjectRead)
	if err != nil {
		return nil, err
	}
	if !see {
		return nil, notFound
	}
	p, err := h.opts.Store.Project(ctx, name)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", name, err)
	}
	if action != ActProjectRead {
		if err := h.opts.Sessions.Authorize(ctx, s.User, name, action); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// visibleRun loads a run and authorizes reading it, as visibleProject
// does for its project.
func (h *Handler) visibleRun(ctx context.Context, s Session, id string) (*gantry.Run, error) {
	notFound := gantry.Errorf(gantry.ENotFound, "there is no run %s, or you may not see it", clip(id))
	run, err := h.opts.Store.Run(ctx, gantry.RunID(id))
	if errors.Is(err, gantry.ErrNotFound) || gantry.ErrorKind(err) == gantry.EInvalid {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", id, err)
	}
	see, err := h.authorized(ctx, s, run.Project, ActProjectRead)
	if err != nil {
		return nil, err
	}
	if !see {
		return nil, notFound
	}
	if err := h.opts.Sessions.Authorize(ctx, s.User, run.Project, ActRunRead); err != nil {
		return nil, err
	}
	return run, nil
}

// visibleProjects lists the projects the user may see.
func (h *Handler) visibleProjects(ctx context.Context, s Session, action string) ([]*gantry.Project, error) {
	all, err := h.opts.Store.Projects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	var out []*gantry.Project
	for _, p := range all {
		ok, err := h.authorized(ctx, s, p.Name, action)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// clip shortens text from the request before it goes into a message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
