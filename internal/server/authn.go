package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/auth"
)

// Authn is the server's Auth over internal/auth: bearer tokens, and
// session cookies with their CSRF token for unsafe methods.
type Authn struct {
	Service  *auth.Service
	Sessions *auth.Sessions
	// Admin acts for the server when it enrolls its embedded agent.
	Admin *auth.Principal
}

var (
	_ Auth        = (*Authn)(nil)
	_ TokenMinter = (*Authn)(nil)
)

// Authenticate returns the principal of a bearer token or of a session.
func (a *Authn) Authenticate(r *http.Request) (*Principal, error) {
	ap, err := a.authenticate(r)
	if err != nil {
		return nil, err
	}
	p := &Principal{Name: ap.Name, ServerAdmin: ap.ServerAdmin, impl: ap}
	if agent, ok := strings.CutPrefix(ap.Name, auth.AgentPrefix); ok {
		p.Agent = agent
	}
	if t := ap.Token; t != nil {
		p.RunID, p.Scopes, p.Project, p.TokenID = t.RunID, t.Scopes, t.Project, t.ID
	}
	return p, nil
}

func (a *Authn) authenticate(r *http.Request) (*auth.Principal, error) {
	if bearer := auth.BearerToken(r.Header.Get("Authorization")); bearer != "" {
		return a.Service.Authenticate(r.Context(), bearer)
	}
	if a.Sessions != nil {
		sess, err := a.Sessions.FromRequest(r)
		if err == nil {
			if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
				if err := a.Sessions.CheckCSRF(r, sess); err != nil {
					return nil, err
				}
			}
			return a.Service.SessionPrincipal(r.Context(), sess)
		}
		if !errors.Is(err, auth.ErrNoSession) {
			return nil, err
		}
	}
	return nil, gantry.Errorf(gantry.EUnauthorized, "authentication required: send a bearer token (Authorization: Bearer gty_…) or sign in")
}

// Authorize checks the permission table of internal/auth. A job token
// acts only through the agent protocol, on its own run.
func (a *Authn) Authorize(_ context.Context, p *Principal, project, action string) error {
	ap, ok := p.impl.(*auth.Principal)
	if !ok {
		return gantry.Errorf(gantry.EUnauthorized, "not authenticated")
	}
	return auth.Authorize(ap, project, auth.Action(action))
}

// AgentToken makes an agent's token, good for a year.
func (a *Authn) AgentToken(ctx context.Context, agent string) (string, error) {
	tok, _, err := a.Service.CreateAgentToken(ctx, a.Admin, agent, 365*24*time.Hour, "")
	return tok, err
}

// JobToken makes a token for one run.
func (a *Authn) JobToken(ctx context.Context, agent string, run gantry.RunID, project string, expires time.Time) (string, error) {
	ttl := min(time.Until(expires), 12*time.Hour)
	tok, _, err := a.Service.CreateJobToken(ctx, agent, project, run, ttl)
	return tok, err
}

// RevokeJobTokens removes the tokens of an agent's job for run.
func (a *Authn) RevokeJobTokens(ctx context.Context, agent string, run gantry.RunID) error {
	return a.Service.RevokeJobTokens(ctx, agent, run)
}
