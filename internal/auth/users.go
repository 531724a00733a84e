package auth

import (
	"context"
	"errors"
	"net/mail"
	"time"

	"gantry.dev/gantry"
)

// NewUser is what CreateUser needs to make a local user.
type NewUser struct {
	Name        string
	Email       string // optional
	Password    string // empty for a user who signs in only with single sign-on
	ServerAdmin bool
}

// Bootstrap creates the first user, a server admin, when there is no user
// yet; with users already there it is EConflict. It is how a new server
// gets its administrator.
func (s *Service) Bootstrap(ctx context.Context, name, password, remote string) (*gantry.User, error) {
	users, err := s.cfg.Identity.Users(ctx)
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "list users: %w", err)
	}
	if len(users) > 0 {
		return nil, gantry.Errorf(gantry.EConflict, "the server has users already: ask an admin for an account")
	}
	return s.createUser(ctx, auditActorSystem, NewUser{Name: name, Password: password, ServerAdmin: true}, remote)
}

// CreateUser makes a local user; p must be a server admin. The password,
// when given, must pass CheckPasswordPolicy. An existing name is
// EConflict.
func (s *Service) CreateUser(ctx context.Context, p *Principal, nu NewUser, remote string) (*gantry.User, error) {
	if err := Authorize(p, "", ActionUserManage); err != nil {
		return nil, err
	}
	return s.createUser(ctx, p.Name, nu, remote)
}

func (s *Service) createUser(ctx context.Context, actor string, nu NewUser, remote string) (*gantry.User, error) {
	if err := ValidUserName(nu.Name); err != nil {
		return nil, err
	}
	if nu.Email != "" {
		if a, err := mail.ParseAddress(nu.Email); err != nil || a.Address != nu.Email {
			return nil, gantry.Errorf(gantry.EInvalid, "email %q is not an address", clip(nu.Email))
		}
	}
	u := &gantry.User{Name: nu.Name, Email: nu.Email, ServerAdmin: nu.ServerAdmin, CreatedAt: s.now()}
	if nu.Password != "" {
		if err := CheckPasswordPolicy(nu.Name, nu.Password); err != nil {
			return nil, err
		}
		h, err := s.hash(ctx, nu.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	unlock := s.users.lock(nu.Name)
	defer unlock()
	_, err := s.cfg.Identity.User(ctx, nu.Name)
	switch {
	case err == nil:
		return nil, gantry.Errorf(gantry.EConflict, "user %s exists already", nu.Name)
	case !errors.Is(err, gantry.ErrNotFound):
		return nil, gantry.Errorf(gantry.EUnavailable, "look up user %s: %w", nu.Name, err)
	}
	if err := s.putUser(ctx, u); err != nil {
		return nil, err
	}
	detail := map[string]string{"server_admin": boolString(nu.ServerAdmin), "password": boolString(nu.Password != "")}
	if err := s.Record(ctx, &gantry.AuditEvent{Actor: actor, Action: AuditUserCreate, Target: "user:" + u.Name, Outcome: OutcomeSuccess, Remote: remote, Detail: detail}); err != nil {
		return nil, err
	}
	return u, nil
}

// SetPassword resets another user's password (p must be a server admin),
// clears their lockout, and records a password.reset event. Users change
// their own password with ChangePassword.
func (s *Service) SetPassword(ctx context.Context, p *Principal, user, password, remote string) error {
	if err := Authorize(p, "", ActionUserManage); err != nil {
		return err
	}
	if err := CheckPasswordPolicy(user, password); err != nil {
		return err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	unlock := s.users.lock(user)
	defer unlock()
	u, err := s.loadUser(ctx, user)
	if err != nil {
		return err
	}
	u.PasswordHash = h
	u.FailedLogins = 0
	u.LockedUntil = time.Time{}
	if err := s.putUser(ctx, u); err != nil {
		return err
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditPasswordReset, Target: "user:" + user, Outcome: OutcomeSuccess, Remote: remote})
}

// ChangePassword changes p's own password, given the current one. A wrong
// current password counts as a failed login.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, password, remote string) error {
	if err := Authorize(p, "", ActionAccountManage); err != nil {
		return err
	}
	if err := CheckPasswordPolicy(p.Name, password); err != nil {
		return err
	}
	unlock := s.users.lock(p.Name)
	defer unlock()
	u, err := s.loadUser(ctx, p.Name)
	if err != nil {
		return err
	}
	ok := false
	if u.PasswordHash != "" {
		if ok, err = s.verify(ctx, current, u.PasswordHash); err != nil {
			s.log.ErrorContext(ctx, "verify password", "user", u.Name, "err", err)
		}
	}
	if !ok {
		s.countFailure(ctx, u, remote)
		s.recordFailure(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditPasswordChange, Target: "user:" + u.Name, Outcome: OutcomeFailure, Remote: remote, Detail: map[string]string{"reason": "wrong current password"}})
		return gantry.Errorf(gantry.EForbidden, "the current password is wrong")
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	u.PasswordHash = h
	u.FailedLogins = 0
	if err := s.putUser(ctx, u); err != nil {
		return err
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditPasswordChange, Target: "user:" + u.Name, Outcome: OutcomeSuccess, Remote: remote})
}

// SetDisabled disables or enables a user; p must be a server admin and may
// not disable themselves. Enabling also clears a lockout. A disabled
// user's sessions and tokens stop working at once.
func (s *Service) SetDisabled(ctx context.Context, p *Principal, user string, disabled bool, remote string) error {
	if err := Authorize(p, "", ActionUserManage); err != nil {
		return err
	}
	if disabled && user == p.Name {
		return gantry.Errorf(gantry.EInvalid, "you may not disable your own account")
	}
	unlock := s.users.lock(user)
	defer unlock()
	u, err := s.loadUser(ctx, user)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	action := AuditUserDisable
	if !disabled {
		action = AuditUserEnable
		u.FailedLogins = 0
		u.LockedUntil = time.Time{}
	}
	if err := s.putUser(ctx, u); err != nil {
		return err
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: action, Target: "user:" + user, Outcome: OutcomeSuccess, Remote: remote})
}

// SetGrant gives g.User the role g.Role in g.Project, or removes their
// role when g.Role is "". p must manage the project's members.
func (s *Service) SetGrant(ctx context.Context, p *Principal, g gantry.Grant, remote string) error {
	if g.Project == "" {
		return gantry.Errorf(gantry.EInvalid, "a grant needs a project")
	}
	if err := Authorize(p, g.Project, ActionMemberManage); err != nil {
		return err
	}
	if g.Role != "" && !ValidRole(g.Role) {
		return gantry.Errorf(gantry.EInvalid, "role %q is not one of viewer, developer, approver, admin", clip(string(g.Role)))
	}
	if _, err := s.loadUser(ctx, g.User); err != nil {
		return err
	}
	if err := s.cfg.Identity.PutGrant(ctx, g); errors.Is(err, gantry.ErrNotFound) {
		return gantry.Errorf(gantry.ENotFound, "no project %s", clip(g.Project))
	} else if err != nil {
		return storeErr(err, "grant %s in %s", g.User, g.Project)
	}
	action, detail := AuditMemberGrant, map[string]string{"user": g.User, "role": string(g.Role)}
	if g.Role == "" {
		action, detail = AuditMemberRevoke, map[string]string{"user": g.User}
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: action, Target: "project:" + g.Project, Outcome: OutcomeSuccess, Remote: remote, Detail: detail})
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
