package auth

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// Login errors a caller may tell apart with errors.Is. The others are
// gantry.EUnauthorized errors that say no more than "wrong user name or
// password".
var (
	// ErrRateLimited means too many attempts came from the remote address:
	// answer 429 Too Many Requests.
	ErrRateLimited = &gantry.Error{Kind: gantry.EUnavailable, Message: "too many login attempts from your address: wait a minute and try again"}
	// ErrLocked means the account is locked after repeated failures.
	ErrLocked = &gantry.Error{Kind: gantry.EUnauthorized, Message: "this account is locked after too many failed logins: try again later"}
	// ErrTOTPRequired means the password was right and a two-factor code
	// is needed: show the code field.
	ErrTOTPRequired = &gantry.Error{Kind: gantry.EUnauthorized, Message: "enter the code from your authenticator app"}
	// ErrTOTPWrong means the two-factor code was wrong or already used.
	ErrTOTPWrong = &gantry.Error{Kind: gantry.EUnauthorized, Message: "the two-factor code is wrong or was used already"}
)

// Login checks a user's password, and their two-factor code when they
// have two-factor on, from the remote address remote, and returns their
// principal. Attempts are rate-limited per remote address; MaxFailures
// consecutive failures lock the account for Lockout. Every outcome is an
// audit event.
func (s *Service) Login(ctx context.Context, name, password, code, remote string) (*Principal, error) {
	// User names are lower case; people type them as they like.
	name = strings.ToLower(strings.TrimSpace(name))
	target := "user:" + clip(name)
	if ok, first := s.remotes.allow(remote, s.now()); !ok {
		// One event per flood: an event per refused request would let
		// anyone write to the ledger as fast as they can send.
		if first {
			s.recordFailure(ctx, &gantry.AuditEvent{Actor: auditActorAnonymous, Action: AuditLoginRateLimit, Target: target, Outcome: OutcomeDenied, Remote: remote})
		}
		return nil, ErrRateLimited
	}
	wrong := gantry.Errorf(gantry.EUnauthorized, "wrong user name or password")
	fail := func(reason string) {
		s.recordFailure(ctx, &gantry.AuditEvent{Actor: auditActorAnonymous, Action: AuditLoginFailed, Target: target, Outcome: OutcomeFailure, Remote: remote, Detail: map[string]string{"reason": reason}})
	}

	var u *gantry.User
	if ValidUserName(name) == nil {
		unlock := s.users.lock(name)
		defer unlock()
		var err error
		u, err = s.cfg.Identity.User(ctx, name)
		if err != nil && !errors.Is(err, gantry.ErrNotFound) {
			return nil, gantry.Errorf(gantry.EUnavailable, "load user: %w", err)
		}
		if err != nil {
			u = nil
		}
	}
	if u == nil || u.PasswordHash == "" {
		// Spend the time a real check takes, so that timing does not
		// tell which names exist.
		if _, err := s.verify(ctx, password, s.dummyHash); err != nil {
			return nil, err
		}
		if u == nil {
			fail("unknown user")
		} else {
			fail("no password: the user signs in with single sign-on")
		}
		return nil, wrong
	}
	if s.now().Before(u.LockedUntil) {
		s.recordFailure(ctx, &gantry.AuditEvent{Actor: auditActorAnonymous, Action: AuditLoginLocked, Target: target, Outcome: OutcomeDenied, Remote: remote,
			Detail: map[string]string{"locked_until": u.LockedUntil.UTC().Format(time.RFC3339)}})
		return nil, ErrLocked
	}
	ok, err := s.verify(ctx, password, u.PasswordHash)
	if err != nil {
		if gantry.ErrorKind(err) == gantry.EUnavailable {
			return nil, err
		}
		s.log.ErrorContext(ctx, "verify password", "user", u.Name, "err", err)
	}
	if !ok {
		n := s.countFailure(ctx, u, remote)
		fail("wrong password, failure " + strconv.Itoa(n))
		return nil, wrong
	}
	if u.Disabled {
		fail("account disabled")
		return nil, gantry.Errorf(gantry.EUnauthorized, "this account is disabled")
	}
	if u.TOTPSecret != nil {
		if code == "" {
			// Counted, so that the password-was-right signal this
			// gives is rate-limited by the lockout too.
			n := s.countFailure(ctx, u, remote)
			s.recordFailure(ctx, &gantry.AuditEvent{Actor: u.Name, Action: AuditLoginTOTPFailed, Target: target, Outcome: OutcomeFailure, Remote: remote,
				Detail: map[string]string{"reason": "no code, failure " + strconv.Itoa(n)}})
			return nil, ErrTOTPRequired
		}
		ok, err := s.checkTOTP(u, code)
		if err != nil {
			return nil, err
		}
		if !ok {
			n := s.countFailure(ctx, u, remote)
			s.recordFailure(ctx, &gantry.AuditEvent{Actor: u.Name, Action: AuditLoginTOTPFailed, Target: target, Outcome: OutcomeFailure, Remote: remote,
				Detail: map[string]string{"reason": "wrong or reused code, failure " + strconv.Itoa(n)}})
			return nil, ErrTOTPWrong
		}
	}

	u.FailedLogins = 0
	u.LockedUntil = time.Time{}
	detail := map[string]string{"method": "password"}
	if u.TOTPSecret != nil {
		detail["method"] = "password+totp"
	}
	if PasswordNeedsRehash(u.PasswordHash, s.cfg.Password) {
		h, err := s.hash(ctx, password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
		detail["rehashed"] = "true"
	}
	if err := s.putUser(ctx, u); err != nil {
		return nil, err
	}
	if err := s.Record(ctx, &gantry.AuditEvent{Actor: u.Name, Action: AuditLogin, Target: target, Outcome: OutcomeSuccess, Remote: remote, Detail: detail}); err != nil {
		return nil, err
	}
	return s.principalOf(ctx, u, nil)
}

// countFailure counts a failed login of u and saves it, locking the
// account when the count reaches MaxFailures (and recording that). It
// returns the count. The caller holds u's lock.
func (s *Service) countFailure(ctx context.Context, u *gantry.User, remote string) int {
	u.FailedLogins++
	n := u.FailedLogins
	locked := false
	if u.FailedLogins >= s.cfg.MaxFailures {
		u.LockedUntil = s.now().Add(s.cfg.Lockout)
		u.FailedLogins = 0
		locked = true
	}
	if err := s.putUser(ctx, u); err != nil {
		s.log.ErrorContext(ctx, "count failed login", "user", u.Name, "err", err)
	}
	if locked {
		s.recordFailure(ctx, &gantry.AuditEvent{Actor: auditActorAnonymous, Action: AuditLoginLocked, Target: "user:" + u.Name, Outcome: OutcomeFailure, Remote: remote,
			Detail: map[string]string{"failures": strconv.Itoa(n), "locked_until": u.LockedUntil.UTC().Format(time.RFC3339)}})
	}
	return n
}
