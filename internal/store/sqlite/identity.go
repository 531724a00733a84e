package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const (
	userColumns  = `name, email, password_hash, totp_secret, server_admin, disabled, failed_logins, locked_until, created_at`
	tokenColumns = `id, hash, user_name, name, scopes_json, project, run_id, expires_at, created_at`
)

// The identity statements. A replaced user or token keeps its created_at.
const (
	putUserSQL = `INSERT INTO users (` + userColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET email = excluded.email, password_hash = excluded.password_hash,
		totp_secret = excluded.totp_secret, server_admin = excluded.server_admin, disabled = excluded.disabled,
		failed_logins = excluded.failed_logins, locked_until = excluded.locked_until`
	getUserSQL    = `SELECT ` + userColumns + ` FROM users WHERE name = ?`
	listUsersSQL  = `SELECT ` + userColumns + ` FROM users ORDER BY name`
	userExistsSQL = `SELECT 1 FROM users WHERE name = ?`

	putGrantSQL = `INSERT INTO grants (user_name, project, role) VALUES (?, ?, ?)
		ON CONFLICT (user_name, project) DO UPDATE SET role = excluded.role`
	userGrantsSQL    = `SELECT user_name, project, role FROM grants WHERE user_name = ? ORDER BY project`
	projectGrantsSQL = `SELECT user_name, project, role FROM grants WHERE project = ? ORDER BY user_name`
	grantSQL         = `SELECT user_name, project, role FROM grants WHERE user_name = ? AND project = ?`

	putTokenSQL = `INSERT INTO tokens (` + tokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, user_name = excluded.user_name, name = excluded.name,
		scopes_json = excluded.scopes_json, project = excluded.project, run_id = excluded.run_id,
		expires_at = excluded.expires_at`
	tokenByHashSQL = `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ?`
	listTokensSQL  = `SELECT ` + tokenColumns + ` FROM tokens WHERE user_name = ? ORDER BY created_at, id`
)

// PutUser creates a user or replaces the one of that name, which keeps
// its CreatedAt.
func (s *Store) PutUser(ctx context.Context, u *gantry.User) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckUser(u); err != nil {
		return err
	}
	err := s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.putUser.ExecContext(ctx, u.Name, u.Email, u.PasswordHash, blobArg(u.TOTPSecret),
			u.ServerAdmin, u.Disabled, u.FailedLogins, timeArg(u.LockedUntil), u.CreatedAt.UnixNano())
		return err
	})
	if err != nil {
		return wrap(err, "put user %s", u.Name)
	}
	return nil
}

// User returns the user named name.
func (s *Store) User(ctx context.Context, name string) (*gantry.User, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	u, err := scanUser(s.server.user.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "user %s not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", name, err)
	}
	return u, nil
}

// Users lists every user by name.
func (s *Store) Users(ctx context.Context) ([]*gantry.User, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.server.users.QueryContext(ctx)
	us, err := scanRows(rows, err, scanUser)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

func scanUser(sc scanner) (*gantry.User, error) {
	var (
		u       gantry.User
		locked  sql.NullInt64
		created int64
	)
	if err := sc.Scan(&u.Name, &u.Email, &u.PasswordHash, &u.TOTPSecret, &u.ServerAdmin, &u.Disabled,
		&u.FailedLogins, &locked, &created); err != nil {
		return nil, err
	}
	if len(u.TOTPSecret) == 0 {
		u.TOTPSecret = nil
	}
	u.LockedUntil, u.CreatedAt = timeOf(locked), timeAt(created)
	return &u, nil
}

// PutGrant gives g.User the role g.Role in g.Project, replacing the role
// the user had there; an empty Role removes the grant, if there is one.
// An unknown user or project is ErrNotFound.
func (s *Store) PutGrant(ctx context.Context, g gantry.Grant) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckGrant(g); err != nil {
		return err
	}
	err := s.exclusive(ctx, func(ctx context.Context) error {
		var err error
		if g.Role == "" {
			_, err = s.server.deleteGrant.ExecContext(ctx, g.User, g.Project)
		} else {
			_, err = s.server.putGrant.ExecContext(ctx, g.User, g.Project, g.Role)
		}
		return err
	})
	if isForeignKey(err) {
		// Which one is missing, for the message.
		if ok, err := rowExists(ctx, s.server.userExists, g.User); err == nil && !ok {
			return gantry.Errorf(gantry.ENotFound, "grant %s in %s: user %s not found", g.Role, g.Project, g.User)
		}
		return gantry.Errorf(gantry.ENotFound, "grant %s to %s: project %s not found", g.Role, g.User, g.Project)
	}
	if err != nil {
		return wrap(err, "grant %s to %s in %s", g.Role, g.User, g.Project)
	}
	return nil
}

// Grants lists a user's grants by project (only the one in project when
// it is set too), or, with user "", a project's grants by user.
func (s *Store) Grants(ctx context.Context, user, project string) ([]gantry.Grant, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckGrantsQuery(user, project); err != nil {
		return nil, err
	}
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case user != "" && project != "":
		rows, err = s.server.grant.QueryContext(ctx, user, project)
	case user != "":
		rows, err = s.server.userGrants.QueryContext(ctx, user)
	default:
		rows, err = s.server.projectGrants.QueryContext(ctx, project)
	}
	gs, err := scanRows(rows, err, func(sc scanner) (gantry.Grant, error) {
		var g gantry.Grant
		err := sc.Scan(&g.User, &g.Project, &g.Role)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return gs, nil
}

// PutToken creates a token or replaces the one with its ID, which keeps
// its CreatedAt. Another token with the same hash is an EConflict error.
func (s *Store) PutToken(ctx context.Context, t *gantry.Token) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckToken(t); err != nil {
		return err
	}
	scopes, err := jsonArg(t.Scopes)
	if err != nil {
		return fmt.Errorf("put token %s: %w", t.ID, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.putToken.ExecContext(ctx, t.ID, t.Hash, t.User, t.Name, scopes, t.Project, t.RunID,
			timeArg(t.ExpiresAt), t.CreatedAt.UnixNano())
		return err
	})
	if isUnique(err) {
		return gantry.Errorf(gantry.EConflict, "put token %s: another token has its hash", t.ID)
	}
	if err != nil {
		return wrap(err, "put token %s", t.ID)
	}
	return nil
}

// TokenByHash returns the token whose hash is hash; ErrNotFound when none.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*gantry.Token, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	t, err := scanToken(s.server.tokenByHash.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		// The hash is not named: it is what a bearer presents, hashed.
		return nil, gantry.Errorf(gantry.ENotFound, "token not found")
	}
	if err != nil {
		return nil, fmt.Errorf("find token by hash: %w", err)
	}
	return t, nil
}

// Tokens lists a user's tokens, oldest first (by CreatedAt, then ID).
func (s *Store) Tokens(ctx context.Context, user string) ([]*gantry.Token, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.server.tokens.QueryContext(ctx, user)
	ts, err := scanRows(rows, err, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", user, err)
	}
	return ts, nil
}

// DeleteToken deletes the token with the given ID; an unknown one is
// ErrNotFound.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	n, err := s.execCount(ctx, s.server.deleteToken, id)
	if err != nil {
		return wrap(err, "delete token %s", id)
	}
	if n == 0 {
		return gantry.Errorf(gantry.ENotFound, "delete token %s: token not found", id)
	}
	return nil
}

func scanToken(sc scanner) (*gantry.Token, error) {
	var (
		t       gantry.Token
		scopes  sql.NullString
		expires sql.NullInt64
		created int64
	)
	if err := sc.Scan(&t.ID, &t.Hash, &t.User, &t.Name, &scopes, &t.Project, &t.RunID, &expires, &created); err != nil {
		return nil, err
	}
	if err := unmarshalNull(scopes, &t.Scopes); err != nil {
		return nil, fmt.Errorf("token %s: scopes: %w", t.ID, err)
	}
	t.ExpiresAt, t.CreatedAt = timeOf(expires), timeAt(created)
	return &t, nil
}

// execCount runs stmt, on the writer, and returns how many rows it
// changed.
func (s *Store) execCount(ctx context.Context, stmt *sql.Stmt, args ...any) (int64, error) {
	var n int64
	err := s.exclusive(ctx, func(ctx context.Context) error {
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
