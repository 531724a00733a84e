package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
)

type auditView struct {
	Events []*gantry.AuditEvent
	Actor  string
	Action string
	Limit  int
}

// auditLimit is how many events the audit page lists.
const auditLimit = 200

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	if err := h.opts.Sessions.Authorize(ctx, s.User, "", ActAuditRead); err != nil {
		return err
	}
	q := r.URL.Query()
	v := &auditView{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Limit: auditLimit}
	if err := checkText("actor", v.Actor, 256); err != nil {
		return err
	}
	if err := checkText("action", v.Action, 128); err != nil {
		return err
	}
	evs, err := h.opts.Store.AuditEvents(ctx, gantry.AuditFilter{Actor: v.Actor, Action: v.Action, Limit: auditLimit})
	if err != nil {
		return fmt.Errorf("list audit events: %w", err)
	}
	v.Events = evs
	h.render(w, r, &s, http.StatusOK, "audit", "Audit log", v)
	return nil
}

// userRow is a user with their grants, as the admin page lists them.
type userRow struct {
	*gantry.User
	Grants    []gantry.Grant
	TwoFactor bool
	Locked    bool
}

// secretProject is a project's secrets: names and metadata, never values.
type secretProject struct {
	Project  string
	Secrets  []*gantry.SecretRecord
	CanWrite bool
}

type adminView struct {
	Flash string
	Error string
	// NewToken is the secret of a token just created: shown this once.
	NewToken     string
	NewTokenName string
	Service      bool

	CanManageUsers bool
	Users          []userRow
	// GrantProjects are the projects whose members the user manages.
	GrantProjects []string
	Roles         []gantry.Role

	Tokens        []*gantry.Token
	TokenProjects []string // projects a new token may be limited to
	TokenScopes   []string
	TokenTTLs     []ttlChoice

	Secrets       []secretProject
	SecretTargets []string // projects whose secrets the user may set
}

type ttlChoice struct {
	Days    int
	Default bool
}

var (
	tokenScopes = []string{"read", "write", "admin"}
	tokenTTLs   = []ttlChoice{{7, false}, {30, false}, {90, true}, {365, false}}
	roles       = []gantry.Role{gantry.RoleViewer, gantry.RoleDeveloper, gantry.RoleApprover, gantry.RoleAdmin}
)

// done says what a change did, after the redirect that follows it.
var done = map[string]string{
	"user":         "The user was created.",
	"grant":        "The role was saved.",
	"token-delete": "The token was deleted.",
	"secret":       "The secret was saved. Its value is not shown again, here or anywhere.",
}

func (h *Handler) admin(w http.ResponseWriter, r *http.Request, s Session) error {
	v, err := h.adminView(r.Context(), s)
	if err != nil {
		return err
	}
	v.Flash = done[r.URL.Query().Get("done")]
	h.render(w, r, &s, http.StatusOK, "admin", "Administration", v)
	return nil
}

// adminView gathers what the user may see and manage: users when they
// manage users, their own tokens, the secrets of the projects they may
// list them in.
func (h *Handler) adminView(ctx context.Context, s Session) (*adminView, error) {
	v := &adminView{Service: h.opts.Service != nil, Roles: roles, TokenScopes: tokenScopes, TokenTTLs: tokenTTLs}
	var err error
	if v.CanManageUsers, err = h.authorized(ctx, s, "", ActUserManage); err != nil {
		return nil, err
	}
	if v.CanManageUsers {
		users, err := h.opts.Store.Users(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		now := h.opts.Now()
		for _, u := range users {
			gs, err := h.opts.Store.Grants(ctx, u.Name, "")
			if err != nil {
				return nil, fmt.Errorf("list grants of %s: %w", u.Name, err)
			}
			v.Users = append(v.Users, userRow{User: u, Grants: gs, TwoFactor: len(u.TOTPSecret) > 0, Locked: now.Before(u.LockedUntil)})
		}
	}
	projects, err := h.visibleProjects(ctx, s, ActProjectRead)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		v.TokenProjects = append(v.TokenProjects, p.Name)
		if ok, err := h.authorized(ctx, s, p.Name, ActMemberManage); err != nil {
			return nil, err
		} else if ok {
			v.GrantProjects = append(v.GrantProjects, p.Name)
		}
		list, err := h.authorized(ctx, s, p.Name, ActSecretList)
		if err != nil {
			return nil, err
		}
		write, err := h.authorized(ctx, s, p.Name, ActSecretWrite)
		if err != nil {
			return nil, err
		}
		if write {
			v.SecretTargets = append(v.SecretTargets, p.Name)
		}
		if !list {
			continue
		}
		secrets, err := h.opts.Store.Secrets(ctx, p.Name)
		if err != nil {
			return nil, fmt.Errorf("list secrets of %s: %w", p.Name, err)
		}
		v.Secrets = append(v.Secrets, secretProject{Project: p.Name, Secrets: secrets, CanWrite: write})
	}
	if v.Tokens, err = h.opts.Store.Tokens(ctx, s.User); err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", s.User, err)
	}
	return v, nil
}

// changed sends the browser back to the admin page after a change.
func changed(w http.ResponseWriter, r *http.Request, what, section string) error {
	http.Redirect(w, r, "/admin?done="+url.QueryEscape(what)+"#"+section, http.StatusSeeOther)
	return nil
}

// refused shows the admin page again with what was wrong with a change
// that the user may make; anything else is an error page.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, s Session, err error) error {
	var status int
	switch gantry.ErrorKind(err) {
	case gantry.EInvalid:
		status = http.StatusBadRequest
	case gantry.EConflict:
		status = http.StatusConflict
	case gantry.ENotFound:
		status = http.StatusNotFound
	default:
		return err
	}
	v, verr := h.adminView(r.Context(), s)
	if verr != nil {
		return verr
	}
	v.Error = gantry.ErrorMessage(err)
	h.render(w, r, &s, status, "admin", "Administration", v)
	return nil
}

func (h *Handler) service() (Service, error) {
	if h.opts.Service == nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "this server does not make changes from the web UI")
	}
	return h.opts.Service, nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, s Session) error {
	if err := h.opts.Sessions.Authorize(r.Context(), s.User, "", ActUserManage); err != nil {
		return err
	}
	svc, err := h.service()
	if err != nil {
		return err
	}
	nu := NewUser{
		Name:        strings.TrimSpace(r.PostFormValue("name")),
		Email:       strings.TrimSpace(r.PostFormValue("email")),
		Password:    r.PostFormValue("password"),
		ServerAdmin: r.PostFormValue("server_admin") == "on",
	}
	if err := firstError(checkText("name", nu.Name, 64), checkText("email", nu.Email, 254)); err != nil {
		return h.refused(w, r, s, err)
	}
	if nu.Name == "" {
		return h.refused(w, r, s, gantry.Errorf(gantry.EInvalid, "a new user needs a name"))
	}
	if err := svc.CreateUser(r.Context(), actor(r, s), nu); err != nil {
		return h.refused(w, r, s, err)
	}
	return changed(w, r, "user", "users")
}

func (h *Handler) grant(w http.ResponseWriter, r *http.Request, s Session) error {
	g := gantry.Grant{
		User:    strings.TrimSpace(r.PostFormValue("user")),
		Project: r.PostFormValue("project"),
		Role:    gantry.Role(r.PostFormValue("role")),
	}
	if _, err := h.visibleProject(r.Context(), s, g.Project, ActMemberManage); err != nil {
		return err
	}
	svc, err := h.service()
	if err != nil {
		return err
	}
	if g.Role != "" && !slices.Contains(roles, g.Role) {
		return h.refused(w, r, s, gantry.Errorf(gantry.EInvalid, "role %q: choose viewer, developer, approver or admin", clip(string(g.Role))))
	}
	if err := checkText("user", g.User, 64); err != nil || g.User == "" {
		return h.refused(w, r, s, firstError(err, gantry.Errorf(gantry.EInvalid, "whose role? give a user name")))
	}
	if err := svc.Grant(r.Context(), actor(r, s), g); err != nil {
		return h.refused(w, r, s, err)
	}
	return changed(w, r, "grant", "users")
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	if err := h.opts.Sessions.Authorize(ctx, s.User, "", ActTokenCreate); err != nil {
		return err
	}
	svc, err := h.service()
	if err != nil {
		return err
	}
	t := NewToken{Name: strings.TrimSpace(r.PostFormValue("name")), Project: r.PostFormValue("project")}
	if err := checkText("name", t.Name, 100); err != nil || t.Name == "" {
		return h.refused(w, r, s, firstError(err, gantry.Errorf(gantry.EInvalid, "name the token, to know it again")))
	}
	for _, sc := range r.PostForm["scope"] {
		if !slices.Contains(tokenScopes, sc) {
			return h.refused(w, r, s, gantry.Errorf(gantry.EInvalid, "scope %q: choose read, write or admin", clip(sc)))
		}
		if !slices.Contains(t.Scopes, sc) {
			t.Scopes = append(t.Scopes, sc)
		}
	}
	if len(t.Scopes) == 0 {
		return h.refused(w, r, s, gantry.Errorf(gantry.EInvalid, "choose at least one scope"))
	}
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil || !slices.ContainsFunc(tokenTTLs, func(c ttlChoice) bool { return c.Days == days }) {
		return h.refused(w, r, s, gantry.Errorf(gantry.EInvalid, "choose how long the token lasts"))
	}
	t.TTL = time.Duration(days) * 24 * time.Hour
	if t.Project != "" {
		if _, err := h.visibleProject(ctx, s, t.Project, ActProjectRead); err != nil {
			return err
		}
	}
	secret, err := svc.CreateToken(ctx, actor(r, s), t)
	if err != nil {
		return h.refused(w, r, s, err)
	}
	v, err := h.adminView(ctx, s)
	if err != nil {
		return err
	}
	// Shown in this response only: no redirect, nothing kept.
	v.NewToken, v.NewTokenName = secret, t.Name
	h.render(w, r, &s, http.StatusOK, "admin", "Administration", v)
	return nil
}

func (h *Handler) deleteToken(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	if err := h.opts.Sessions.Authorize(ctx, s.User, "", ActTokenDelete); err != nil {
		return err
	}
	svc, err := h.service()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	tokens, err := h.opts.Store.Tokens(ctx, s.User)
	if err != nil {
		return fmt.Errorf("list tokens of %s: %w", s.User, err)
	}
	// Only one's own tokens: another's is as good as missing.
	if !slices.ContainsFunc(tokens, func(t *gantry.Token) bool { return t.ID == id }) {
		return gantry.Errorf(gantry.ENotFound, "you have no token %s", clip(id))
	}
	if err := svc.DeleteToken(ctx, actor(r, s), id); err != nil {
		return h.refused(w, r, s, err)
	}
	return changed(w, r, "token-delete", "tokens")
}

func (h *Handler) putSecret(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	project := r.PostFormValue("project")
	if _, err := h.visibleProject(ctx, s, project, ActSecretWrite); err != nil {
		return err
	}
	svc, err := h.service()
	if err != nil {
		return err
	}
	env := strings.TrimSpace(r.PostFormValue("env"))
	name := strings.TrimSpace(r.PostFormValue("name"))
	value := r.PostFormValue("value")
	if err := firstError(checkText("environment", env, 63), checkText("name", name, 128)); err != nil {
		return h.refused(w, r, s, err)
	}
	if name == "" || value == "" {
		return h.refused(w, r, s, gantry.Errorf(gantry.EInvalid, "a secret needs a name and a value"))
	}
	if err := svc.PutSecret(ctx, actor(r, s), project, env, name, value); err != nil {
		return h.refused(w, r, s, err)
	}
	return changed(w, r, "secret", "secrets")
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
