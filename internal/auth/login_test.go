package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/time/rate"

	"gantry.dev/gantry"
)

func TestLoginSuccess(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, map[string]gantry.Role{"web": gantry.RoleViewer})
	p, err := f.svc.Login(ctx, "dev", "developer password", "", "192.0.2.1:5555")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "dev" || p.Role("web") != gantry.RoleViewer || p.Token != nil || p.Stamp == "" {
		t.Errorf("principal = %+v", p)
	}
	e := f.lastAudit(t)
	if e.Action != AuditLogin || e.Outcome != OutcomeSuccess || e.Actor != "dev" || e.Remote != "192.0.2.1:5555" || e.LedgerIndex != -1 || !e.Time.Equal(f.clock.Now()) {
		t.Errorf("audit event = %+v", e)
	}
	if len(f.hooked) != 1 || f.hooked[0].ID != e.ID || f.hooked[0].ID == 0 {
		t.Errorf("hook saw %d events (%+v): want the stored one", len(f.hooked), f.hooked)
	}
}

func TestLoginFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	sso := &gantry.User{Name: "sso", CreatedAt: f.clock.Now()}
	f.store.PutUser(ctx, sso)
	for _, tc := range []struct{ user, password, reason string }{
		{"dev", "wrong password", "wrong password, failure 1"},
		{"ghost", "developer password", "unknown user"},
		{"sso", "", "no password: the user signs in with single sign-on"},
	} {
		_, err := f.svc.Login(ctx, tc.user, tc.password, "", "192.0.2.9:1")
		wantKind(t, err, gantry.EUnauthorized)
		if err.Error() != "wrong user name or password" {
			t.Errorf("%s: message %q tells too much", tc.user, err)
		}
		e := f.lastAudit(t)
		if e.Action != AuditLoginFailed || e.Outcome != OutcomeFailure || e.Target != "user:"+tc.user || e.Detail["reason"] != tc.reason {
			t.Errorf("%s: audit event = %+v", tc.user, e)
		}
	}
}

func TestLockout(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	for i := 1; i <= 4; i++ {
		if _, err := f.svc.Login(ctx, "dev", "guess", "", fmt.Sprintf("192.0.2.%d:1", i)); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	u, _ := f.store.User(ctx, "dev")
	if u.FailedLogins != 4 || !u.LockedUntil.IsZero() {
		t.Fatalf("after 4 failures: %d failures, locked until %v", u.FailedLogins, u.LockedUntil)
	}
	// A success resets the count.
	if _, err := f.svc.Login(ctx, "dev", "developer password", "", "192.0.2.1:1"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		f.svc.Login(ctx, "dev", "guess", "", "192.0.2.1:1")
	}
	u, _ = f.store.User(ctx, "dev")
	if want := f.clock.Now().Add(15 * time.Minute); !u.LockedUntil.Equal(want) {
		t.Fatalf("locked until %v, want %v", u.LockedUntil, want)
	}
	if !containsAll(f.actions(t), AuditLoginLocked) {
		t.Errorf("no %s event in %v", AuditLoginLocked, f.actions(t))
	}
	// Locked: even the right password is refused, without a check.
	_, err := f.svc.Login(ctx, "dev", "developer password", "", "192.0.2.2:1")
	wantIs(t, err, ErrLocked)
	if e := f.lastAudit(t); e.Action != AuditLoginLocked || e.Outcome != OutcomeDenied {
		t.Errorf("audit event = %+v", e)
	}
	f.clock.Advance(15*time.Minute - time.Second)
	_, err = f.svc.Login(ctx, "dev", "developer password", "", "192.0.2.2:1")
	wantIs(t, err, ErrLocked)
	f.clock.Advance(time.Second)
	if _, err := f.svc.Login(ctx, "dev", "developer password", "", "192.0.2.2:1"); err != nil {
		t.Errorf("after the lockout: %v", err)
	}
}

func TestLoginRateLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *Config) { c.LoginBurst = 3; c.LoginRate = rate.Every(10 * time.Second); c.MaxFailures = 100 })
	f.user(t, "dev", "developer password", false, nil)
	for i := range 3 {
		if _, err := f.svc.Login(ctx, "dev", "guess", "", "203.0.113.5:"+fmt.Sprint(1000+i)); err == ErrRateLimited {
			t.Fatalf("attempt %d rate-limited", i+1)
		}
	}
	_, err := f.svc.Login(ctx, "dev", "developer password", "", "203.0.113.5:2000")
	wantIs(t, err, ErrRateLimited)
	if e := f.lastAudit(t); e.Action != AuditLoginRateLimit || e.Outcome != OutcomeDenied || e.Remote != "203.0.113.5:2000" {
		t.Errorf("audit event = %+v", e)
	}
	// A flood is one event, not one per request.
	before := len(f.audit(t))
	for range 50 {
		_, err := f.svc.Login(ctx, "dev", "developer password", "", "203.0.113.5:3000")
		wantIs(t, err, ErrRateLimited)
	}
	if n := len(f.audit(t)); n != before {
		t.Errorf("50 refused attempts made %d audit events", n-before)
	}
	// Another address is not limited; the same host by another port is.
	if _, err := f.svc.Login(ctx, "dev", "developer password", "", "203.0.113.6:2000"); err != nil {
		t.Errorf("other address: %v", err)
	}
	f.clock.Advance(10 * time.Second)
	if _, err := f.svc.Login(ctx, "dev", "developer password", "", "203.0.113.5:2001"); err != nil {
		t.Errorf("after a token refilled: %v", err)
	}
	_, err = f.svc.Login(ctx, "dev", "developer password", "", "203.0.113.5")
	wantIs(t, err, ErrRateLimited)
}

func TestRemoteKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:443":              "192.0.2.1",
		"192.0.2.1":                  "192.0.2.1",
		"[::ffff:192.0.2.1]:443":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":       "2001:db8:1:2::/64",
		"[fe80::1%eth0]:22":          "fe80::/64",
		"not an address":             "not an address",
	} {
		if got := remoteKey(in); got != want {
			t.Errorf("remoteKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRateLimiterBounded: a flood of addresses keeps the table within its
// bound, and a drained bucket's address that is evicted merely starts
// again.
func TestRateLimiterBounded(t *testing.T) {
	l := newRemoteLimiter(rate.Every(time.Minute), 2, 100)
	now := newTestClock().Now()
	for i := range 10000 {
		l.allow(fmt.Sprintf("10.%d.%d.%d:1", i>>16, (i>>8)&255, i&255), now)
		if n := l.len(); n > 100 {
			t.Fatalf("after %d addresses the limiter holds %d", i+1, n)
		}
	}
	// A bucket made after the flood still limits.
	l.allow("198.51.100.1:1", now)
	l.allow("198.51.100.1:1", now)
	if ok, _ := l.allow("198.51.100.1:1", now); ok {
		t.Fatal("third attempt within the burst of 2 allowed")
	}
}

func TestLoginWithTOTP(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	dev := f.principal(t, "dev")

	key, err := f.svc.BeginTOTP(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.URL, "otpauth://totp/Gantry:dev?") || !strings.Contains(key.URL, "secret="+key.Secret) {
		t.Errorf("otpauth URL = %s", key.URL)
	}
	code := func(offset time.Duration) string {
		c, err := totp.GenerateCode(key.Secret, f.clock.Now().Add(offset))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrongCode := func() string { return fmt.Sprintf("%06d", (atoi(code(0))+1)%1000000) }
	if err := f.svc.EnableTOTP(ctx, dev, key.Enrolment, wrongCode(), ""); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Fatalf("enabling with a wrong code: %v", err)
	}
	if err := f.svc.EnableTOTP(ctx, dev, key.Enrolment, code(0), "192.0.2.1:1"); err != nil {
		t.Fatal(err)
	}
	u, _ := f.store.User(ctx, "dev")
	if len(u.TOTPSecret) == 0 || strings.Contains(string(u.TOTPSecret), key.Secret) {
		t.Fatalf("TOTPSecret = %q: want it sealed", u.TOTPSecret)
	}
	if e := f.lastAudit(t); e.Action != AuditTOTPEnable || e.Outcome != OutcomeSuccess {
		t.Errorf("audit event = %+v", e)
	}

	// The code used to enable cannot sign in: one use per step.
	_, err = f.svc.Login(ctx, "dev", "developer password", code(0), "")
	wantIs(t, err, ErrTOTPWrong)
	_, err = f.svc.Login(ctx, "dev", "developer password", "", "")
	wantIs(t, err, ErrTOTPRequired)
	_, err = f.svc.Login(ctx, "dev", "developer password", wrongCode(), "")
	wantIs(t, err, ErrTOTPWrong)
	if e := f.lastAudit(t); e.Action != AuditLoginTOTPFailed || e.Outcome != OutcomeFailure {
		t.Errorf("audit event = %+v", e)
	}
	_, err = f.svc.Login(ctx, "dev", "wrong password", code(30*time.Second), "")
	wantKind(t, err, gantry.EUnauthorized)

	// The next step's code, within the window of one step.
	if _, err := f.svc.Login(ctx, "dev", "developer password", code(30*time.Second), ""); err != nil {
		t.Fatalf("code of the next step: %v", err)
	}
	if e := f.lastAudit(t); e.Action != AuditLogin || e.Detail["method"] != "password+totp" {
		t.Errorf("audit event = %+v", e)
	}
	// Replay of that code, and of an older one, is refused.
	_, err = f.svc.Login(ctx, "dev", "developer password", code(30*time.Second), "")
	wantIs(t, err, ErrTOTPWrong)
	_, err = f.svc.Login(ctx, "dev", "developer password", code(0), "")
	wantIs(t, err, ErrTOTPWrong)

	// Two steps on: the previous step's code is within the window.
	f.clock.Advance(90 * time.Second)
	if _, err := f.svc.Login(ctx, "dev", "developer password", code(-30*time.Second), ""); err != nil {
		t.Fatalf("code of the previous step: %v", err)
	}
	// Outside the window.
	f.clock.Advance(5 * time.Minute)
	for _, off := range []time.Duration{-60 * time.Second, 60 * time.Second} {
		_, err = f.svc.Login(ctx, "dev", "developer password", code(off), "")
		wantIs(t, err, ErrTOTPWrong)
	}
	u, _ = f.store.User(ctx, "dev")
	if u.FailedLogins != 2 {
		t.Errorf("FailedLogins = %d after two wrong codes, want 2", u.FailedLogins)
	}
	if _, err := f.svc.Login(ctx, "dev", "developer password", code(0), ""); err != nil {
		t.Fatal(err)
	}

	// Turning it off takes a fresh code.
	f.clock.Advance(30 * time.Second)
	if err := f.svc.DisableTOTP(ctx, dev, wrongCode(), ""); gantry.ErrorKind(err) != gantry.EForbidden {
		t.Errorf("disable with a wrong code: %v", err)
	}
	if err := f.svc.DisableTOTP(ctx, dev, code(0), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, "dev", "developer password", "", ""); err != nil {
		t.Errorf("login after turning two-factor off: %v", err)
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

func TestTOTPEnrolmentBound(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	f.user(t, "eve", "another password", false, nil)
	key, err := f.svc.BeginTOTP(ctx, f.principal(t, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret, f.clock.Now())
	// Someone else's enrolment, a forged one, an expired one.
	wantKind(t, f.svc.EnableTOTP(ctx, f.principal(t, "eve"), key.Enrolment, code, ""), gantry.EInvalid)
	wantKind(t, f.svc.EnableTOTP(ctx, f.principal(t, "dev"), key.Enrolment[:len(key.Enrolment)-2]+"AA", code, ""), gantry.EInvalid)
	f.clock.Advance(16 * time.Minute)
	code, _ = totp.GenerateCode(key.Secret, f.clock.Now())
	wantKind(t, f.svc.EnableTOTP(ctx, f.principal(t, "dev"), key.Enrolment, code, ""), gantry.EInvalid)

	// Without a sealer there is no two-factor.
	g := newFixture(t, func(c *Config) { c.Sealer = nil })
	g.user(t, "dev", "developer password", false, nil)
	_, err = g.svc.BeginTOTP(ctx, g.principal(t, "dev"))
	wantKind(t, err, gantry.EUnavailable)
}

func TestResetTOTPAndPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "root", "root password!", true, nil)
	f.user(t, "dev", "developer password", false, nil)
	root, dev := f.principal(t, "root"), f.principal(t, "dev")
	key, _ := f.svc.BeginTOTP(ctx, dev)
	code, _ := totp.GenerateCode(key.Secret, f.clock.Now())
	if err := f.svc.EnableTOTP(ctx, dev, key.Enrolment, code, ""); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.svc.ResetTOTP(ctx, dev, "dev", ""), gantry.EForbidden)
	if err := f.svc.ResetTOTP(ctx, root, "dev", "192.0.2.1:1"); err != nil {
		t.Fatal(err)
	}
	if e := f.lastAudit(t); e.Action != AuditTOTPReset || e.Actor != "root" || e.Target != "user:dev" {
		t.Errorf("audit event = %+v", e)
	}

	// Lock dev out, then reset the password: the lock goes too.
	for range 5 {
		f.svc.Login(ctx, "dev", "guess", "", "")
	}
	wantKind(t, f.svc.SetPassword(ctx, dev, "dev", "a new password", ""), gantry.EForbidden)
	wantKind(t, f.svc.SetPassword(ctx, root, "dev", "dev", ""), gantry.EInvalid)
	if err := f.svc.SetPassword(ctx, root, "dev", "a new password", ""); err != nil {
		t.Fatal(err)
	}
	if e := f.lastAudit(t); e.Action != AuditPasswordReset || e.Actor != "root" {
		t.Errorf("audit event = %+v", e)
	}
	if _, err := f.svc.Login(ctx, "dev", "a new password", "", ""); err != nil {
		t.Errorf("login with the reset password: %v", err)
	}

	// Changing one's own takes the current password.
	wantKind(t, f.svc.ChangePassword(ctx, dev, "not it", "another new password", ""), gantry.EForbidden)
	if err := f.svc.ChangePassword(ctx, dev, "a new password", "another new password", ""); err != nil {
		t.Fatal(err)
	}
	if !containsAll(f.actions(t), AuditPasswordChange, AuditPasswordReset, AuditTOTPEnable, AuditTOTPReset, AuditLoginLocked) {
		t.Errorf("audit actions %v", f.actions(t))
	}
}

func TestRehashOnLogin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	newer := PasswordParams{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	g := newFixture(t, func(c *Config) { c.Password = newer })
	g.store, g.svc.cfg.Identity, g.svc.cfg.Audit = f.store, f.store, f.store
	if _, err := g.svc.Login(ctx, "dev", "developer password", "", ""); err != nil {
		t.Fatal(err)
	}
	u, _ := f.store.User(ctx, "dev")
	if PasswordNeedsRehash(u.PasswordHash, newer) {
		t.Errorf("hash %s was not upgraded", u.PasswordHash)
	}
	if e := g.lastAudit(t); e.Detail["rehashed"] != "true" {
		t.Errorf("audit event = %+v", e)
	}
	if _, err := g.svc.Login(ctx, "dev", "developer password", "", ""); err != nil {
		t.Fatal(err)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	root, err := f.svc.Bootstrap(ctx, "root", "root password!", "")
	if err != nil {
		t.Fatal(err)
	}
	if !root.ServerAdmin {
		t.Error("bootstrap user is not a server admin")
	}
	_, err = f.svc.Bootstrap(ctx, "root2", "root password!", "")
	wantKind(t, err, gantry.EConflict)
	admin := f.principal(t, "root")

	for _, tc := range []struct {
		nu   NewUser
		kind string
	}{
		{NewUser{Name: "dev", Password: "developer password", Email: "dev@example.com"}, ""},
		{NewUser{Name: "dev", Password: "developer password"}, gantry.EConflict},
		{NewUser{Name: "Dev", Password: "developer password"}, gantry.EInvalid},
		{NewUser{Name: "agent:x", Password: "developer password"}, gantry.EInvalid},
		{NewUser{Name: "anonymous"}, gantry.EInvalid},
		{NewUser{Name: "short", Password: "short"}, gantry.EInvalid},
		{NewUser{Name: "mail", Email: "not an email"}, gantry.EInvalid},
		{NewUser{Name: "sso@example.com"}, ""},
	} {
		_, err := f.svc.CreateUser(ctx, admin, tc.nu, "")
		if gantry.ErrorKind(err) != tc.kind {
			t.Errorf("CreateUser(%+v) = %v, want kind %q", tc.nu, err, tc.kind)
		}
	}
	_, err = f.svc.CreateUser(ctx, f.principal(t, "dev"), NewUser{Name: "x"}, "")
	wantKind(t, err, gantry.EForbidden)

	// Least privilege: a new user sees nothing.
	dev := f.principal(t, "dev")
	if len(dev.Roles) != 0 || dev.ServerAdmin {
		t.Errorf("new user = %+v", dev)
	}
	wantKind(t, Authorize(dev, "web", ActionProjectRead), gantry.EForbidden)

	wantKind(t, f.svc.SetGrant(ctx, dev, gantry.Grant{User: "dev", Project: "web", Role: gantry.RoleAdmin}, ""), gantry.EForbidden)
	wantKind(t, f.svc.SetGrant(ctx, admin, gantry.Grant{User: "dev", Project: "web", Role: "owner"}, ""), gantry.EInvalid)
	wantKind(t, f.svc.SetGrant(ctx, admin, gantry.Grant{User: "ghost", Project: "web", Role: gantry.RoleViewer}, ""), gantry.ENotFound)
	wantKind(t, f.svc.SetGrant(ctx, admin, gantry.Grant{User: "dev", Project: "web", Role: gantry.RoleViewer}, ""), gantry.ENotFound)
	wantKind(t, f.svc.SetGrant(ctx, admin, gantry.Grant{User: "dev", Role: gantry.RoleViewer}, ""), gantry.EInvalid)
	f.project(t, "web")
	if err := f.svc.SetGrant(ctx, admin, gantry.Grant{User: "dev", Project: "web", Role: gantry.RoleDeveloper}, ""); err != nil {
		t.Fatal(err)
	}
	if err := Authorize(f.principal(t, "dev"), "web", ActionRunTrigger); err != nil {
		t.Errorf("after the grant: %v", err)
	}
	if err := f.svc.SetGrant(ctx, admin, gantry.Grant{User: "dev", Project: "web"}, ""); err != nil {
		t.Fatal(err)
	}
	wantKind(t, Authorize(f.principal(t, "dev"), "web", ActionProjectRead), gantry.EForbidden)

	wantKind(t, f.svc.SetDisabled(ctx, admin, "root", true, ""), gantry.EInvalid)
	if err := f.svc.SetDisabled(ctx, admin, "dev", true, ""); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Principal(ctx, "dev")
	wantKind(t, err, gantry.EUnauthorized)
	_, err = f.svc.Login(ctx, "dev", "developer password", "", "")
	if err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled user's login: %v", err)
	}
	want := []string{AuditUserCreate, AuditMemberGrant, AuditMemberRevoke, AuditUserDisable, AuditLoginFailed}
	if !containsAll(f.actions(t), want...) {
		t.Errorf("audit actions %v, want all of %v", f.actions(t), want)
	}
	if n := len(slices.DeleteFunc(f.actions(t), func(a string) bool { return a != AuditUserCreate })); n != 3 {
		t.Errorf("%d user.create events, want 3", n)
	}
}

// TestHookSeesEveryEvent: the ledger hook is called once per stored
// event, after it is stored (with its ID).
func TestHookSeesEveryEvent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	f.svc.Login(ctx, "dev", "developer password", "", "")
	f.svc.Login(ctx, "dev", "wrong", "", "")
	f.svc.Login(ctx, "ghost", "wrong", "", "")
	p := f.principal(t, "dev")
	_, tok, _ := f.svc.CreateToken(ctx, p, TokenRequest{Name: "x", Scopes: []Scope{ScopeRead}, TTL: time.Hour}, "")
	f.svc.DeleteToken(ctx, p, "dev", tok.ID, "")
	stored := f.audit(t)
	if len(f.hooked) != len(stored) || len(f.hooked) != 5 {
		t.Fatalf("hook saw %d events, the store has %d, want 5", len(f.hooked), len(stored))
	}
	for i, e := range f.hooked {
		if e.ID != stored[i].ID || e.Action != stored[i].Action {
			t.Errorf("hooked event %d = %+v, stored %+v", i, e, stored[i])
		}
	}
}

// TestConcurrentFailuresCount: failed logins of one user at once are all
// counted (the per-user lock).
func TestConcurrentFailuresCount(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *Config) { c.MaxFailures = 1000; c.LoginBurst = 1000 })
	f.user(t, "dev", "developer password", false, nil)
	done := make(chan struct{})
	for i := range 20 {
		go func() {
			defer func() { done <- struct{}{} }()
			f.svc.Login(ctx, "dev", "guess", "", fmt.Sprintf("192.0.2.%d:1", i))
		}()
	}
	for range 20 {
		<-done
	}
	u, _ := f.store.User(ctx, "dev")
	if u.FailedLogins != 20 {
		t.Errorf("FailedLogins = %d, want 20", u.FailedLogins)
	}
}

func TestLoginNameInput(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "dev", "developer password", false, nil)
	if _, err := f.svc.Login(ctx, " Dev ", "developer password", "", ""); err != nil {
		t.Errorf("name in another case: %v", err)
	}
	long := strings.Repeat("x", 10000) + "\n\x1b[31mforged line"
	_, err := f.svc.Login(ctx, long, "developer password", "", "")
	wantKind(t, err, gantry.EUnauthorized)
	e := f.lastAudit(t)
	if len(e.Target) > 80 || strings.ContainsAny(e.Target, "\n\x1b") || e.Detail["reason"] != "unknown user" {
		t.Errorf("audit event for a hostile name = %+v", e)
	}
}
