package server

import (
	"context"
	"net/http"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/web"
)

// WebUI returns the web UI's handler, signed in through the same
// sessions and acting through the same authorization as the API; mount it
// at "/".
func (s *Server) WebUI() (http.Handler, error) {
	a, ok := s.opts.Auth.(*Authn)
	if !ok || a.Sessions == nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "the web UI needs sessions")
	}
	ws := &webSessions{a: a}
	return web.New(web.Options{Store: s.opts.Store, Sessions: ws, Service: &webService{s: s, a: a},
		SSO: s.opts.OIDC != nil, Logger: s.opts.Logger})
}

// webSessions are the web UI's sign-in: stateless signed cookies.
type webSessions struct{ a *Authn }

var _ web.Sessions = (*webSessions)(nil)

func (w *webSessions) session(r *http.Request) (*auth.Session, *auth.Principal, bool) {
	sess, err := w.a.Sessions.FromRequest(r)
	if err != nil {
		return nil, nil, false
	}
	p, err := w.a.Service.SessionPrincipal(r.Context(), sess)
	if err != nil {
		return nil, nil, false
	}
	return sess, p, true
}

func (w *webSessions) Current(r *http.Request) (web.Session, bool) {
	sess, p, ok := w.session(r)
	if !ok {
		return web.Session{}, false
	}
	return web.Session{User: p.Name, ServerAdmin: p.ServerAdmin, CSRF: w.a.Sessions.CSRFToken(sess)}, true
}

func (w *webSessions) Login(rw http.ResponseWriter, r *http.Request, user, password, code string) error {
	p, err := w.a.Service.Login(r.Context(), user, password, code, remote(r))
	if err != nil {
		return err
	}
	sess, err := w.a.Sessions.New(p)
	if err != nil {
		return err
	}
	http.SetCookie(rw, w.a.Sessions.Cookie(sess))
	return nil
}

func (w *webSessions) Logout(rw http.ResponseWriter, _ *http.Request) {
	http.SetCookie(rw, w.a.Sessions.ClearCookie())
}

func (w *webSessions) CheckCSRF(r *http.Request) error {
	sess, err := w.a.Sessions.FromRequest(r)
	if err != nil {
		return auth.ErrCSRF
	}
	return w.a.Sessions.CheckCSRF(r, sess)
}

func (w *webSessions) Authorize(ctx context.Context, user, project, action string) error {
	p, err := w.a.Service.Principal(ctx, user)
	if err != nil {
		return err
	}
	return auth.Authorize(p, project, auth.Action(action))
}

// webService carries out what people do in the web UI, each action
// authorized and audited as through the API.
type webService struct {
	s *Server
	a *Authn
}

var _ web.Service = (*webService)(nil)

func (w *webService) principal(ctx context.Context, user string) (*auth.Principal, error) {
	return w.a.Service.Principal(ctx, user)
}

func (w *webService) Trigger(ctx context.Context, a web.Actor, project, branch string) (*gantry.Run, error) {
	p, err := w.principal(ctx, a.User)
	if err != nil {
		return nil, err
	}
	if err := auth.Authorize(p, project, auth.ActionRunTrigger); err != nil {
		return nil, err
	}
	pr, err := w.s.opts.Store.Project(ctx, project)
	if err != nil {
		return nil, err
	}
	run, err := w.s.Trigger(ctx, pr, gantry.Trigger{Event: "manual", Branch: branch, Actor: a.User}, nil)
	w.s.audit(ctx, &gantry.AuditEvent{Actor: a.User, Action: "run.trigger", Target: project, Outcome: outcome(err), Remote: a.Remote,
		Detail: map[string]string{"branch": branch, "via": "web"}})
	return run, err
}

func (w *webService) CreateUser(ctx context.Context, a web.Actor, u web.NewUser) error {
	p, err := w.principal(ctx, a.User)
	if err != nil {
		return err
	}
	_, err = w.a.Service.CreateUser(ctx, p, auth.NewUser{Name: u.Name, Email: u.Email, Password: u.Password, ServerAdmin: u.ServerAdmin}, a.Remote)
	return err
}

func (w *webService) Grant(ctx context.Context, a web.Actor, g gantry.Grant) error {
	p, err := w.principal(ctx, a.User)
	if err != nil {
		return err
	}
	return w.a.Service.SetGrant(ctx, p, g, a.Remote)
}

func (w *webService) CreateToken(ctx context.Context, a web.Actor, t web.NewToken) (string, error) {
	p, err := w.principal(ctx, a.User)
	if err != nil {
		return "", err
	}
	scopes := make([]auth.Scope, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = auth.Scope(sc)
	}
	secret, _, err := w.a.Service.CreateToken(ctx, p, auth.TokenRequest{Name: t.Name, Scopes: scopes, Project: t.Project, TTL: t.TTL}, a.Remote)
	return secret, err
}

func (w *webService) DeleteToken(ctx context.Context, a web.Actor, id string) error {
	p, err := w.principal(ctx, a.User)
	if err != nil {
		return err
	}
	return w.a.Service.DeleteToken(ctx, p, a.User, id, a.Remote)
}

func (w *webService) PutSecret(ctx context.Context, a web.Actor, project, env, name, value string) error {
	p, err := w.principal(ctx, a.User)
	if err != nil {
		return err
	}
	if err := auth.Authorize(p, project, auth.ActionSecretWrite); err != nil {
		return err
	}
	sec, err := w.s.secretsOrUnavailable()
	if err != nil {
		return err
	}
	err = sec.Put(ctx, project, env, name, value, a.User)
	w.s.audit(ctx, &gantry.AuditEvent{Actor: a.User, Action: "secret.put", Target: project + "/" + name, Outcome: outcome(err),
		Remote: a.Remote, Detail: map[string]string{"env": env, "via": "web"}})
	return err
}

// ApproveChange approves a change through the server's ApproveChange,
// which checks the role and the change rules and audits the approval, or
// its denial, as the API does.
func (w *webService) ApproveChange(ctx context.Context, a web.Actor, project, change string, req web.ApproveRequest) (*gantry.Approval, error) {
	return w.s.ApproveChange(ctx, a.User, project, change,
		ApproveRequest{Environment: req.Environment, Kind: req.Kind, Comment: req.Comment}, a.Remote)
}

// events streams every run's events to a signed-in user, only those of
// projects they may read.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	p, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		return err
	}
	allowed := map[string]bool{}
	may := func(project string) bool {
		ok, seen := allowed[project]
		if !seen {
			ok = s.opts.Auth.Authorize(r.Context(), p, project, ActRunRead) == nil
			allowed[project] = ok
		}
		return ok
	}
	return s.streamFiltered(w, r, "", func(ev event) bool { return ev.Project != "" && may(ev.Project) })
}
