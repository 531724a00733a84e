package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gantry.dev/gantry"
)

// OIDCConfig configures single sign-on with an OpenID Connect provider.
type OIDCConfig struct {
	Issuer       string // the provider's issuer URL, as in its discovery document
	ClientID     string
	ClientSecret string
	RedirectURL  string   // the server's callback URL, registered with the provider
	Scopes       []string // default: openid, email, profile
	// UsernameClaim names the claim that is the Gantry user name: "email"
	// (the default; the provider must assert email_verified) or
	// "preferred_username".
	UsernameClaim string
	// AutoProvision creates a user, with no role anywhere, on their first
	// sign-in. Off by default: an admin creates users first.
	AutoProvision bool
	// LinkLocalUsers lets single sign-on sign in a user who also has a
	// local password. Off by default, so that a name asserted by the
	// provider cannot take over a local account.
	LinkLocalUsers bool
	HTTPClient     *http.Client // nil: http.DefaultClient
}

// OIDCFlow is what a browser keeps between the redirect to the provider
// and the callback: the state, the nonce and the PKCE verifier.
type OIDCFlow struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Expires  time.Time `json:"e"`
}

// flowTTL is how long a user has to sign in at the provider.
const flowTTL = 10 * time.Minute

// OIDC signs users in with the authorization-code flow, with state,
// nonce and PKCE (S256).
type OIDC struct {
	svc      *Service
	cfg      OIDCConfig
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	client   *http.Client
}

// NewOIDC discovers the provider at cfg.Issuer and returns an OIDC that
// signs users in to svc.
func NewOIDC(ctx context.Context, svc *Service, cfg OIDCConfig) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, fmt.Errorf("oidc: issuer, client id and redirect url are required")
	}
	switch cfg.UsernameClaim {
	case "":
		cfg.UsernameClaim = "email"
	case "email", "preferred_username":
	default:
		return nil, fmt.Errorf("oidc: username claim %q is not email or preferred_username", cfg.UsernameClaim)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "oidc: discover %s: %w", cfg.Issuer, err)
	}
	return &OIDC{
		svc: svc,
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: provider.Endpoint(), Scopes: cfg.Scopes,
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: svc.cfg.Now}),
		client:   client,
	}, nil
}

// Begin starts a sign-in: it returns the provider's URL to redirect the
// browser to, and the flow to keep in the browser (Sessions.FlowCookie).
func (o *OIDC) Begin() (string, *OIDCFlow, error) {
	var r [3][32]byte
	for i := range r {
		if _, err := io.ReadFull(o.svc.cfg.Rand, r[i][:]); err != nil {
			return "", nil, fmt.Errorf("oidc: begin: %w", err)
		}
	}
	enc := base64.RawURLEncoding.EncodeToString
	f := &OIDCFlow{State: enc(r[0][:]), Nonce: enc(r[1][:]), Verifier: enc(r[2][:]), Expires: o.svc.now().Add(flowTTL)}
	url := o.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return url, f, nil
}

// ssoClaims are the ID token claims Finish reads.
type ssoClaims struct {
	Email             string       `json:"email"`
	EmailVerified     verifiedFlag `json:"email_verified"`
	PreferredUsername string       `json:"preferred_username"`
}

// verifiedFlag reads email_verified as a JSON boolean or, as some
// providers send it, the string "true" or "false"; anything else is
// false.
type verifiedFlag bool

func (v *verifiedFlag) UnmarshalJSON(b []byte) error {
	*v = verifiedFlag(string(b) == "true" || string(b) == `"true"`)
	return nil
}

// Finish completes a sign-in at the callback: it checks state against
// the flow, exchanges code (with the PKCE verifier) for an ID token,
// verifies the token (signature, issuer, audience, expiry, nonce), maps
// its claims to a user and returns their principal. Every outcome is an
// audit event.
func (o *OIDC) Finish(ctx context.Context, flow *OIDCFlow, state, code, remote string) (*Principal, error) {
	var subject string
	fail := func(reason string, err error) (*Principal, error) {
		if len(reason) > 300 {
			reason = strings.ToValidUTF8(reason[:300], "") + "…"
		}
		detail := map[string]string{"reason": reason, "issuer": o.cfg.Issuer}
		if subject != "" {
			detail["subject"] = clip(subject)
		}
		o.svc.recordFailure(ctx, &gantry.AuditEvent{Actor: auditActorAnonymous, Action: AuditLoginSSOFailed, Target: "oidc:" + o.cfg.Issuer, Outcome: OutcomeFailure, Remote: remote, Detail: detail})
		return nil, err
	}
	denied := func(reason string) (*Principal, error) {
		return fail(reason, &gantry.Error{Kind: gantry.EUnauthorized, Message: "single sign-on failed: start again", Err: errors.New(reason)})
	}
	if flow == nil || !o.svc.now().Before(flow.Expires) {
		return denied("no sign-in in progress, or it expired")
	}
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(flow.State)) != 1 {
		return denied("state mismatch")
	}
	if code == "" {
		return denied("no authorization code")
	}
	tok, err := o.oauth.Exchange(context.WithValue(ctx, oauth2.HTTPClient, o.client), code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		return denied("exchange code: " + err.Error())
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return denied("token response has no id_token")
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return denied("verify id token: " + err.Error())
	}
	subject = idt.Subject
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		return denied("nonce mismatch")
	}
	var c ssoClaims
	if err := idt.Claims(&c); err != nil {
		return denied("read claims: " + err.Error())
	}
	name := c.PreferredUsername
	if o.cfg.UsernameClaim == "email" {
		if !c.EmailVerified {
			return fail("email not verified", gantry.Errorf(gantry.EForbidden, "the identity provider has not verified your email address"))
		}
		name = c.Email
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if ValidUserName(name) != nil {
		return fail("claim "+o.cfg.UsernameClaim+" is not a user name", gantry.Errorf(gantry.EForbidden, "the identity provider gave no usable %s for you", o.cfg.UsernameClaim))
	}
	email := ""
	if c.EmailVerified {
		email = strings.ToLower(c.Email)
	}
	return o.signIn(ctx, name, email, subject, remote, fail)
}

func (o *OIDC) signIn(ctx context.Context, name, email, subject, remote string, fail func(string, error) (*Principal, error)) (*Principal, error) {
	s := o.svc
	unlock := s.users.lock(name)
	defer unlock()
	u, err := s.cfg.Identity.User(ctx, name)
	provisioned := false
	switch {
	case errors.Is(err, gantry.ErrNotFound):
		if !o.cfg.AutoProvision {
			return fail("no such user "+name, gantry.Errorf(gantry.EForbidden, "there is no Gantry account for %s: ask an admin to create one", name))
		}
		u = &gantry.User{Name: name, Email: email, CreatedAt: s.now()}
		if err := s.putUser(ctx, u); err != nil {
			return nil, err
		}
		provisioned = true
		if err := s.Record(ctx, &gantry.AuditEvent{Actor: name, Action: AuditUserCreate, Target: "user:" + name, Outcome: OutcomeSuccess, Remote: remote,
			Detail: map[string]string{"via": "oidc", "issuer": o.cfg.Issuer, "subject": clip(subject)}}); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, gantry.Errorf(gantry.EUnavailable, "load user %s: %w", name, err)
	}
	if u.Disabled {
		return fail("account disabled", gantry.Errorf(gantry.EUnauthorized, "this account is disabled"))
	}
	if u.PasswordHash != "" && !o.cfg.LinkLocalUsers {
		return fail("local user "+name+" may not sign in with single sign-on", gantry.Errorf(gantry.EForbidden, "%s is a local account: sign in with its password", name))
	}
	detail := map[string]string{"issuer": o.cfg.Issuer, "subject": clip(subject)}
	if provisioned {
		detail["provisioned"] = "true"
	}
	if err := s.Record(ctx, &gantry.AuditEvent{Actor: name, Action: AuditLoginSSO, Target: "user:" + name, Outcome: OutcomeSuccess, Remote: remote, Detail: detail}); err != nil {
		return nil, err
	}
	return s.principalOf(ctx, u, nil)
}

// flowCookieName is the cookie that carries an OIDCFlow.
const flowCookieName = "gantry_oidc"

// FlowCookie returns the cookie that carries flow to the callback: signed,
// HttpOnly, SameSite=Lax (so that the provider's redirect brings it).
func (m *Sessions) FlowCookie(flow *OIDCFlow) *http.Cookie {
	payload, _ := json.Marshal(flow)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return &http.Cookie{
		Name: flowCookieName, Value: p + "." + base64.RawURLEncoding.EncodeToString(mac(m.keys[0].mac, "oidc flow", p)),
		Path: "/", Expires: flow.Expires, MaxAge: int(flow.Expires.Sub(m.cfg.Now()).Seconds()),
		HttpOnly: true, Secure: !m.cfg.Insecure, SameSite: http.SameSiteLaxMode,
	}
}

// ClearFlowCookie returns the cookie that removes the flow once used.
func (m *Sessions) ClearFlowCookie() *http.Cookie {
	return &http.Cookie{Name: flowCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !m.cfg.Insecure, SameSite: http.SameSiteLaxMode}
}

// ParseFlow checks a flow cookie's value and returns its flow; Finish
// checks its expiry.
func (m *Sessions) ParseFlow(value string) (*OIDCFlow, error) {
	bad := &gantry.Error{Kind: gantry.EUnauthorized, Message: "single sign-on failed: start again"}
	if len(value) > maxCookieLen {
		return nil, bad
	}
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, bad
	}
	valid := false
	for _, k := range m.keys {
		valid = hmac.Equal(got, mac(k.mac, "oidc flow", p)) || valid
	}
	if !valid || len(got) != sha256.Size {
		return nil, bad
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, bad
	}
	var f OIDCFlow
	if err := json.Unmarshal(payload, &f); err != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return nil, bad
	}
	return &f, nil
}

// FlowFromRequest returns the flow of r's flow cookie.
func (m *Sessions) FlowFromRequest(r *http.Request) (*OIDCFlow, error) {
	c, err := r.Cookie(flowCookieName)
	if err != nil {
		return nil, &gantry.Error{Kind: gantry.EUnauthorized, Message: "single sign-on failed: no sign-in in progress in this browser"}
	}
	return m.ParseFlow(c.Value)
}
