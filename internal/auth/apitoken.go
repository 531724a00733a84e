package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"gantry.dev/gantry"
)

// TokenRequest asks for an API token.
type TokenRequest struct {
	User    string        // whose token; "" for the requester's own
	Name    string        // what it is for, shown in lists
	Scopes  []Scope       // one or more of read, write, admin
	Project string        // "" for every project the user may act in
	TTL     time.Duration // required, at most Config.MaxTokenTTL
}

// CreateToken makes an API token for req.User (the requester's own, or
// anyone's when p is a server admin) and returns its secret, shown once,
// and its record. A token never has more than the token that made it:
// its scopes, project and expiry are bounded by p's.
func (s *Service) CreateToken(ctx context.Context, p *Principal, req TokenRequest, remote string) (string, *gantry.Token, error) {
	if err := Authorize(p, "", ActionTokenCreate); err != nil {
		return "", nil, err
	}
	if req.User == "" {
		req.User = p.Name
	}
	if req.User != p.Name && !p.ServerAdmin {
		return "", nil, gantry.Errorf(gantry.EForbidden, "%s may not make tokens for %s", p.Name, clip(req.User))
	}
	if err := validTokenName(req.Name); err != nil {
		return "", nil, err
	}
	if req.Project != "" && !projectNameRE().MatchString(req.Project) {
		return "", nil, gantry.Errorf(gantry.EInvalid, "project name %q is malformed", clip(req.Project))
	}
	scopes, err := userScopes(req.Scopes)
	if err != nil {
		return "", nil, err
	}
	if req.TTL <= 0 {
		return "", nil, gantry.Errorf(gantry.EInvalid, "a token needs an expiry")
	}
	if req.TTL > s.cfg.MaxTokenTTL {
		return "", nil, gantry.Errorf(gantry.EInvalid, "a token may live at most %s", s.cfg.MaxTokenTTL)
	}
	now := s.now()
	expires := now.Add(req.TTL)
	if parent := p.Token; parent != nil {
		for _, sc := range scopes {
			if !slices.Contains(parent.Scopes, sc) {
				return "", nil, gantry.Errorf(gantry.EForbidden, "this token has no %s scope to give", sc)
			}
		}
		if parent.Project != "" && req.Project != parent.Project {
			return "", nil, gantry.Errorf(gantry.EForbidden, "this token is limited to project %s and so must the new one be", parent.Project)
		}
		if expires.After(parent.ExpiresAt) {
			return "", nil, gantry.Errorf(gantry.EForbidden, "a token may not outlive the token that makes it (%s)", parent.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	u, err := s.loadUser(ctx, req.User)
	if err != nil {
		return "", nil, err
	}
	if u.Disabled {
		return "", nil, gantry.Errorf(gantry.EInvalid, "user %s is disabled", u.Name)
	}
	return s.putNewToken(ctx, p.Name, &gantry.Token{User: u.Name, Name: req.Name, Scopes: scopes, Project: req.Project, ExpiresAt: expires, CreatedAt: now}, remote)
}

// CreateAgentToken makes the token an agent leases jobs with; p must be a
// server admin.
func (s *Service) CreateAgentToken(ctx context.Context, p *Principal, agent string, ttl time.Duration, remote string) (string, *gantry.Token, error) {
	if err := Authorize(p, "", ActionAgentManage); err != nil {
		return "", nil, err
	}
	if err := validAgentName(agent); err != nil {
		return "", nil, err
	}
	if ttl <= 0 || ttl > s.cfg.MaxTokenTTL {
		return "", nil, gantry.Errorf(gantry.EInvalid, "an agent token needs an expiry of at most %s", s.cfg.MaxTokenTTL)
	}
	now := s.now()
	return s.putNewToken(ctx, p.Name, &gantry.Token{User: AgentPrefix + agent, Name: "agent " + agent, Scopes: []string{string(ScopeJob)},
		ExpiresAt: now.Add(ttl), CreatedAt: now}, remote)
}

// CreateJobToken makes the token of one job: valid for run of project
// only, for ttl (at most Config.MaxJobTokenTTL), acting for agent. The
// server makes one when an agent leases a job, and revokes it with
// RevokeJobTokens when the job finishes.
func (s *Service) CreateJobToken(ctx context.Context, agent, project string, run gantry.RunID, ttl time.Duration) (string, *gantry.Token, error) {
	if err := validAgentName(agent); err != nil {
		return "", nil, err
	}
	if !projectNameRE().MatchString(project) || run == "" || clip(string(run)) != string(run) {
		return "", nil, gantry.Errorf(gantry.EInvalid, "a job token needs a project and a run")
	}
	if ttl <= 0 || ttl > s.cfg.MaxJobTokenTTL {
		return "", nil, gantry.Errorf(gantry.EInvalid, "a job token needs an expiry of at most %s", s.cfg.MaxJobTokenTTL)
	}
	now := s.now()
	return s.putNewToken(ctx, AgentPrefix+agent, &gantry.Token{User: AgentPrefix + agent, Name: "job " + string(run), Scopes: []string{string(ScopeJob)},
		Project: project, RunID: run, ExpiresAt: now.Add(ttl), CreatedAt: now}, "")
}

func (s *Service) putNewToken(ctx context.Context, actor string, t *gantry.Token, remote string) (string, *gantry.Token, error) {
	secret, err := newTokenSecret(s.cfg.Rand)
	if err != nil {
		return "", nil, err
	}
	if t.ID, err = s.randomID("tok_", 12); err != nil {
		return "", nil, err
	}
	t.Hash = TokenHash(secret)
	if err := s.cfg.Identity.PutToken(ctx, t); err != nil {
		return "", nil, storeErr(err, "save token")
	}
	detail := map[string]string{"user": t.User, "name": t.Name, "scopes": strings.Join(t.Scopes, ","), "expires_at": t.ExpiresAt.UTC().Format(time.RFC3339)}
	if t.Project != "" {
		detail["project"] = t.Project
	}
	if t.RunID != "" {
		detail["run"] = string(t.RunID)
	}
	if err := s.Record(ctx, &gantry.AuditEvent{Actor: actor, Action: AuditTokenCreate, Target: "token:" + t.ID, Outcome: OutcomeSuccess, Remote: remote, Detail: detail}); err != nil {
		// A token whose making is not on record must not work.
		if derr := s.cfg.Identity.DeleteToken(ctx, t.ID); derr != nil {
			s.log.ErrorContext(ctx, "delete unrecorded token", "token", t.ID, "err", derr)
		}
		return "", nil, err
	}
	return secret, t, nil
}

// DeleteToken deletes owner's token id; p must be the owner or a server
// admin (for an agent's token, a server admin).
func (s *Service) DeleteToken(ctx context.Context, p *Principal, owner, id, remote string) error {
	if err := Authorize(p, "", ActionTokenDelete); err != nil {
		return err
	}
	if owner != p.Name && !p.ServerAdmin {
		return gantry.Errorf(gantry.EForbidden, "%s may not delete tokens of %s", p.Name, clip(owner))
	}
	toks, err := s.cfg.Identity.Tokens(ctx, owner)
	if err != nil {
		return gantry.Errorf(gantry.EUnavailable, "list tokens of %s: %w", clip(owner), err)
	}
	i := slices.IndexFunc(toks, func(t *gantry.Token) bool { return t.ID == id })
	if i < 0 {
		return gantry.Errorf(gantry.ENotFound, "%s has no token %s", clip(owner), clip(id))
	}
	if err := s.cfg.Identity.DeleteToken(ctx, id); err != nil {
		return storeErr(err, "delete token %s", id)
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditTokenDelete, Target: "token:" + id, Outcome: OutcomeSuccess, Remote: remote,
		Detail: map[string]string{"user": owner, "name": toks[i].Name}})
}

// RevokeJobTokens deletes agent's job tokens for run, when its job ends.
func (s *Service) RevokeJobTokens(ctx context.Context, agent string, run gantry.RunID) error {
	owner := AgentPrefix + agent
	toks, err := s.cfg.Identity.Tokens(ctx, owner)
	if err != nil {
		return gantry.Errorf(gantry.EUnavailable, "list tokens of %s: %w", owner, err)
	}
	for _, t := range toks {
		if t.RunID != run || run == "" {
			continue
		}
		if err := s.cfg.Identity.DeleteToken(ctx, t.ID); err != nil {
			return storeErr(err, "delete token %s", t.ID)
		}
		if err := s.Record(ctx, &gantry.AuditEvent{Actor: owner, Action: AuditTokenDelete, Target: "token:" + t.ID, Outcome: OutcomeSuccess,
			Detail: map[string]string{"user": owner, "run": string(run)}}); err != nil {
			return err
		}
	}
	return nil
}

// errBadToken is the one answer to every token that does not work, so
// that the reason (unknown, expired, malformed, disabled user) is not
// told to the caller; the cause is kept for logs.
func errBadToken(cause string) error {
	return &gantry.Error{Kind: gantry.EUnauthorized, Message: "the token is invalid or expired", Err: errors.New(cause)}
}

// Authenticate returns the principal of a bearer token (the value after
// "Bearer "). A token that is malformed, unknown, expired, or whose user
// is gone or disabled is EUnauthorized with one message. Besides the
// store lookup by hash, the work done does not depend on the secret.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	hash, err := ParseToken(bearer)
	if err != nil {
		return nil, errBadToken("malformed")
	}
	t, err := s.cfg.Identity.TokenByHash(ctx, hash)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, errBadToken("unknown")
	}
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "look up token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 {
		return nil, errBadToken("hash mismatch")
	}
	if !s.now().Before(t.ExpiresAt) {
		return nil, errBadToken("expired")
	}
	if strings.HasPrefix(t.User, AgentPrefix) {
		return &Principal{Name: t.User, Token: t}, nil
	}
	u, err := s.cfg.Identity.User(ctx, t.User)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, errBadToken("user gone")
	}
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "load user of token: %w", err)
	}
	if u.Disabled {
		return nil, errBadToken("user disabled")
	}
	return s.principalOf(ctx, u, t)
}

// userScopes validates the scopes of a user's token, dropping duplicates.
func userScopes(in []Scope) ([]string, error) {
	if len(in) == 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "a token needs at least one scope of read, write, admin")
	}
	var out []string
	for _, sc := range in {
		switch sc {
		case ScopeRead, ScopeWrite, ScopeAdmin:
		case ScopeJob:
			return nil, gantry.Errorf(gantry.EInvalid, "the job scope is for agents only")
		default:
			return nil, gantry.Errorf(gantry.EInvalid, "scope %q is not one of read, write, admin", clip(string(sc)))
		}
		if !slices.Contains(out, string(sc)) {
			out = append(out, string(sc))
		}
	}
	slices.Sort(out)
	return out, nil
}

func validTokenName(name string) error {
	if name == "" || len(name) > 100 {
		return gantry.Errorf(gantry.EInvalid, "a token needs a name of 1 to 100 characters")
	}
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return gantry.Errorf(gantry.EInvalid, "a token name may hold only printable characters")
	}
	return nil
}

// projectNameRE is what gantry.Project.Name may be.
var projectNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`) })

// agentNameRE is what an agent may be called: a host name will do.
var agentNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`) })

func validAgentName(name string) error {
	if !agentNameRE().MatchString(name) {
		return gantry.Errorf(gantry.EInvalid, "agent name %q must be 1 to 63 of A-Z a-z 0-9 . _ -, starting with a letter or digit", clip(name))
	}
	return nil
}
