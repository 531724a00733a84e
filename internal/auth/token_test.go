package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

func TestTokenFormat(t *testing.T) {
	secret, err := newTokenSecret(strings.NewReader(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^gty_[a-z2-7]{58}$`).MatchString(secret) {
		t.Fatalf("token %q has the wrong shape", secret)
	}
	hash, err := ParseToken(secret)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if hash != hex.EncodeToString(sum[:]) {
		t.Errorf("hash = %s, want the hex sha256 of the secret", hash)
	}
	flip := []byte(secret)
	flip[10] = map[bool]byte{true: 'b', false: 'a'}[flip[10] == 'a']
	for _, bad := range []string{
		"", "gty_", secret[:len(secret)-1], secret + "a", strings.ToUpper(secret),
		"ghp_" + secret[4:], string(flip), strings.Replace(secret, secret[20:21], "1", 1),
	} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted it", bad)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer gty_abc": "gty_abc", "bearer gty_abc": "gty_abc", "Bearer  gty_abc ": "gty_abc",
		"Basic dXNlcjpwYXNz": "", "gty_abc": "", "": "",
	} {
		if got := BearerToken(in); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCreateAndAuthenticateToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, map[string]gantry.Role{"web": gantry.RoleDeveloper})
	dev := f.principal(t, "dev")

	secret, tok, err := f.svc.CreateToken(ctx, dev, TokenRequest{Name: "ci", Scopes: []Scope{ScopeWrite, ScopeRead, ScopeRead}, TTL: 24 * time.Hour}, "192.0.2.1:4000")
	if err != nil {
		t.Fatal(err)
	}
	if tok.User != "dev" || strings.Join(tok.Scopes, ",") != "read,write" || !tok.ExpiresAt.Equal(f.clock.Now().Add(24*time.Hour)) {
		t.Errorf("token = %+v", tok)
	}
	stored, err := f.store.TokenByHash(ctx, TokenHash(secret))
	if err != nil {
		t.Fatal(err)
	}
	if stored.Hash == secret || strings.Contains(stored.Hash, secret[4:]) {
		t.Error("the store holds the secret")
	}
	if e := f.lastAudit(t); e.Action != AuditTokenCreate || e.Actor != "dev" || e.Target != "token:"+tok.ID || e.Remote != "192.0.2.1:4000" || e.Detail["scopes"] != "read,write" {
		t.Errorf("audit event = %+v", e)
	}

	p, err := f.svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "dev" || p.Role("web") != gantry.RoleDeveloper || p.Token == nil || p.Token.ID != tok.ID || p.Stamp != "" {
		t.Errorf("principal = %+v", p)
	}
	if err := Authorize(p, "web", ActionRunTrigger); err != nil {
		t.Errorf("token with write scope may not trigger: %v", err)
	}
	if err := Authorize(p, "", ActionTokenCreate); err == nil {
		t.Error("a token without the admin scope may make tokens")
	}

	// Every failure gives the same message.
	check := func(name, bearer string) {
		t.Helper()
		_, err := f.svc.Authenticate(ctx, bearer)
		wantKind(t, err, gantry.EUnauthorized)
		if err.Error() != "the token is invalid or expired" {
			t.Errorf("%s: message %q", name, err)
		}
	}
	check("malformed", "gty_nonsense")
	check("empty", "")
	unknown, _ := newTokenSecret(strings.NewReader(strings.Repeat("u", 32)))
	check("unknown", unknown)

	f.clock.Advance(24*time.Hour - time.Second)
	if _, err := f.svc.Authenticate(ctx, secret); err != nil {
		t.Errorf("token a second before expiry: %v", err)
	}
	f.clock.Advance(time.Second)
	check("expired", secret)
}

func TestTokenOfDisabledOrDeletedUser(t *testing.T) {
	ctx := context.Background()
	f, mem := newMemFixture(t)
	f.user(t, "root", "root password!", true, nil)
	f.user(t, "dev", "developer password", false, nil)
	root, dev := f.principal(t, "root"), f.principal(t, "dev")
	secret, _, err := f.svc.CreateToken(ctx, dev, TokenRequest{Name: "x", Scopes: []Scope{ScopeRead}, TTL: time.Hour}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetDisabled(ctx, root, "dev", true, ""); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Authenticate(ctx, secret)
	wantKind(t, err, gantry.EUnauthorized)
	if err := f.svc.SetDisabled(ctx, root, "dev", false, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, secret); err != nil {
		t.Errorf("token after enabling its user: %v", err)
	}
	delete(mem.users, "dev") // the contract has no DeleteUser yet

	_, err = f.svc.Authenticate(ctx, secret)
	wantKind(t, err, gantry.EUnauthorized)
}

func TestCreateTokenRefuses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "root", "root password!", true, nil)
	f.user(t, "dev", "developer password", false, map[string]gantry.Role{"web": gantry.RoleAdmin})
	f.user(t, "eve", "another password", false, nil)
	dev := f.principal(t, "dev")
	ok := TokenRequest{Name: "n", Scopes: []Scope{ScopeRead}, TTL: time.Hour}
	for _, tc := range []struct {
		name string
		p    *Principal
		edit func(*TokenRequest)
		kind string
	}{
		{"no expiry", dev, func(r *TokenRequest) { r.TTL = 0 }, gantry.EInvalid},
		{"too long", dev, func(r *TokenRequest) { r.TTL = 367 * 24 * time.Hour }, gantry.EInvalid},
		{"no scope", dev, func(r *TokenRequest) { r.Scopes = nil }, gantry.EInvalid},
		{"job scope", dev, func(r *TokenRequest) { r.Scopes = []Scope{ScopeJob} }, gantry.EInvalid},
		{"unknown scope", dev, func(r *TokenRequest) { r.Scopes = []Scope{"root"} }, gantry.EInvalid},
		{"no name", dev, func(r *TokenRequest) { r.Name = "" }, gantry.EInvalid},
		{"control in name", dev, func(r *TokenRequest) { r.Name = "a\nb" }, gantry.EInvalid},
		{"bad project", dev, func(r *TokenRequest) { r.Project = "Web!" }, gantry.EInvalid},
		{"for another user", dev, func(r *TokenRequest) { r.User = "eve" }, gantry.EForbidden},
		{"nobody", nil, func(r *TokenRequest) {}, gantry.EUnauthorized},
		{"no such user", f.principal(t, "root"), func(r *TokenRequest) { r.User = "ghost" }, gantry.ENotFound},
	} {
		req := ok
		tc.edit(&req)
		_, _, err := f.svc.CreateToken(ctx, tc.p, req, "")
		if gantry.ErrorKind(err) != tc.kind {
			t.Errorf("%s: err = %v, want kind %s", tc.name, err, tc.kind)
		}
	}
	// A server admin may make a token for another user.
	if _, tok, err := f.svc.CreateToken(ctx, f.principal(t, "root"), TokenRequest{User: "eve", Name: "n", Scopes: []Scope{ScopeRead}, TTL: time.Hour}, ""); err != nil || tok.User != "eve" {
		t.Errorf("admin making eve's token: %v", err)
	}
}

// TestTokenCannotEscalate: a token that makes a token gives at most what
// it has.
func TestTokenCannotEscalate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, map[string]gantry.Role{"web": gantry.RoleAdmin})
	secret, _, err := f.svc.CreateToken(ctx, f.principal(t, "dev"), TokenRequest{Name: "admin", Scopes: []Scope{ScopeAdmin, ScopeRead}, Project: "web", TTL: time.Hour}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	// Project tokens cannot make tokens at all: token.create is not a
	// project action.
	_, _, err = f.svc.CreateToken(ctx, p, TokenRequest{Name: "child", Scopes: []Scope{ScopeRead}, Project: "web", TTL: time.Minute}, "")
	wantKind(t, err, gantry.EForbidden)

	secret, _, err = f.svc.CreateToken(ctx, f.principal(t, "dev"), TokenRequest{Name: "admin", Scopes: []Scope{ScopeAdmin, ScopeRead}, TTL: time.Hour}, "")
	if err != nil {
		t.Fatal(err)
	}
	if p, err = f.svc.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]TokenRequest{
		"more scope":  {Name: "c", Scopes: []Scope{ScopeWrite}, TTL: time.Minute},
		"longer life": {Name: "c", Scopes: []Scope{ScopeRead}, TTL: 2 * time.Hour},
	} {
		_, _, err := f.svc.CreateToken(ctx, p, req, "")
		wantKind(t, err, gantry.EForbidden)
		if t.Failed() {
			t.Logf("case %s", name)
		}
	}
	if _, _, err := f.svc.CreateToken(ctx, p, TokenRequest{Name: "c", Scopes: []Scope{ScopeRead}, TTL: time.Minute}, ""); err != nil {
		t.Errorf("a lesser token: %v", err)
	}
}

func TestDeleteToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "root", "root password!", true, nil)
	f.user(t, "dev", "developer password", false, nil)
	f.user(t, "eve", "another password", false, nil)
	dev := f.principal(t, "dev")
	secret, tok, err := f.svc.CreateToken(ctx, dev, TokenRequest{Name: "x", Scopes: []Scope{ScopeRead}, TTL: time.Hour}, "")
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.svc.DeleteToken(ctx, f.principal(t, "eve"), "dev", tok.ID, ""), gantry.EForbidden)
	wantKind(t, f.svc.DeleteToken(ctx, f.principal(t, "eve"), "eve", tok.ID, ""), gantry.ENotFound)
	if err := f.svc.DeleteToken(ctx, dev, "dev", tok.ID, "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if e := f.lastAudit(t); e.Action != AuditTokenDelete || e.Target != "token:"+tok.ID || e.Actor != "dev" {
		t.Errorf("audit event = %+v", e)
	}
	_, err = f.svc.Authenticate(ctx, secret)
	wantKind(t, err, gantry.EUnauthorized)

	_, tok, _ = f.svc.CreateToken(ctx, dev, TokenRequest{Name: "y", Scopes: []Scope{ScopeRead}, TTL: time.Hour}, "")
	if err := f.svc.DeleteToken(ctx, f.principal(t, "root"), "dev", tok.ID, ""); err != nil {
		t.Errorf("server admin deleting dev's token: %v", err)
	}
}

func TestAgentAndJobTokens(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "root", "root password!", true, nil)
	f.user(t, "dev", "developer password", false, map[string]gantry.Role{"web": gantry.RoleAdmin})
	_, _, err := f.svc.CreateAgentToken(ctx, f.principal(t, "dev"), "a1", time.Hour, "")
	wantKind(t, err, gantry.EForbidden)
	agentSecret, _, err := f.svc.CreateAgentToken(ctx, f.principal(t, "root"), "a1", 30*24*time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := f.svc.Authenticate(ctx, agentSecret)
	if err != nil {
		t.Fatal(err)
	}
	if agent.Name != "agent:a1" || !agent.IsAgent() || agent.IsJob() {
		t.Errorf("agent principal = %+v", agent)
	}
	if err := Authorize(agent, "", ActionJobLease); err != nil {
		t.Errorf("agent may not lease: %v", err)
	}
	if err := Authorize(agent, "web", ActionRunRead); err == nil {
		t.Error("an agent token may read runs")
	}

	_, _, err = f.svc.CreateJobToken(ctx, "a1", "web", "r1", 13*time.Hour)
	wantKind(t, err, gantry.EInvalid)
	jobSecret, jt, err := f.svc.CreateJobToken(ctx, "a1", "web", "r1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if jt.RunID != "r1" || jt.Project != "web" || jt.User != "agent:a1" {
		t.Errorf("job token = %+v", jt)
	}
	job, err := f.svc.Authenticate(ctx, jobSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := AuthorizeRun(job, "web", "r1", ActionSecretUse); err != nil {
		t.Errorf("job may not read its secrets: %v", err)
	}
	if err := AuthorizeRun(job, "web", "r2", ActionSecretUse); err == nil {
		t.Error("job token works for another run")
	}
	if err := Authorize(job, "", ActionJobLease); err == nil {
		t.Error("a job token may lease jobs")
	}
	f.clock.Advance(time.Hour)
	_, err = f.svc.Authenticate(ctx, jobSecret)
	wantKind(t, err, gantry.EUnauthorized)

	jobSecret, _, _ = f.svc.CreateJobToken(ctx, "a1", "web", "r2", time.Hour)
	if err := f.svc.RevokeJobTokens(ctx, "a1", "r2"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Authenticate(ctx, jobSecret)
	wantKind(t, err, gantry.EUnauthorized)
	if _, err := f.svc.Authenticate(ctx, agentSecret); err != nil {
		t.Errorf("revoking a run's tokens revoked the agent's: %v", err)
	}
}

// failingAudit is an AuditStore that cannot store.
type failingAudit struct{ testStore }

func (failingAudit) AppendAudit(context.Context, *gantry.AuditEvent) error {
	return errors.New("disk full")
}

// TestUnrecordedTokenDoesNotWork: when the audit log cannot take the
// token's creation, the token is removed and the call fails.
func TestUnrecordedTokenDoesNotWork(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	f := newFixtureOn(t, store, func(c *Config) { c.Audit = failingAudit{store} })
	f.user(t, "dev", "developer password", false, nil)
	_, _, err := f.svc.CreateToken(ctx, f.principal(t, "dev"), TokenRequest{Name: "x", Scopes: []Scope{ScopeRead}, TTL: time.Hour}, "")
	wantKind(t, err, gantry.EUnavailable)
	if toks, _ := store.Tokens(ctx, "dev"); len(toks) != 0 {
		t.Errorf("%d tokens kept", len(toks))
	}
}
