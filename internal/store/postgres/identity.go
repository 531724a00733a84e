package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const (
	userColumns  = `name, email, password_hash, totp_secret, server_admin, disabled, failed_logins, locked_until, created_at`
	tokenColumns = `id, hash, user_name, name, scopes, project, run_id, expires_at, created_at`
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
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (name) DO UPDATE SET email = excluded.email, password_hash = excluded.password_hash,
		totp_secret = excluded.totp_secret, server_admin = excluded.server_admin, disabled = excluded.disabled,
		failed_logins = excluded.failed_logins, locked_until = excluded.locked_until`,
		u.Name, u.Email, u.PasswordHash, nilIfEmpty(u.TOTPSecret), u.ServerAdmin, u.Disabled, u.FailedLogins,
		timeArg(u.LockedUntil), u.CreatedAt.UnixNano())
	return mapError(err, fmt.Sprintf("put user %s", u.Name))
}

// User returns the user named name.
func (s *Store) User(ctx context.Context, name string) (*gantry.User, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	u, err := getOne(ctx, s.pool, scanUser, `SELECT `+userColumns+` FROM users WHERE name = $1`, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "user %s not found", name)
	}
	return u, mapError(err, fmt.Sprintf("get user %s", name))
}

// Users lists every user by name.
func (s *Store) Users(ctx context.Context) ([]*gantry.User, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	us, err := getAll(ctx, s.pool, scanUser, `SELECT `+userColumns+` FROM users ORDER BY name`)
	return us, mapError(err, "list users")
}

func scanUser(row pgx.CollectableRow) (*gantry.User, error) {
	var (
		u       gantry.User
		locked  *int64
		created int64
	)
	if err := row.Scan(&u.Name, &u.Email, &u.PasswordHash, &u.TOTPSecret, &u.ServerAdmin, &u.Disabled,
		&u.FailedLogins, &locked, &created); err != nil {
		return nil, err
	}
	u.TOTPSecret = nilIfEmpty(u.TOTPSecret)
	u.LockedUntil, u.CreatedAt = timeOf(locked), timeOf(&created)
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
	var err error
	if g.Role == "" {
		_, err = s.pool.Exec(ctx, `DELETE FROM grants WHERE user_name = $1 AND project = $2`, g.User, g.Project)
	} else {
		_, err = s.pool.Exec(ctx, `INSERT INTO grants (user_name, project, role) VALUES ($1, $2, $3)
			ON CONFLICT (user_name, project) DO UPDATE SET role = excluded.role`, g.User, g.Project, g.Role)
	}
	if errorKind(err) == gantry.ENotFound {
		// Which one is missing, for the message.
		var one int
		if err := s.pool.QueryRow(ctx, `SELECT 1 FROM users WHERE name = $1`, g.User).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return gantry.Errorf(gantry.ENotFound, "grant %s in %s: user %s not found", g.Role, g.Project, g.User)
		}
		return gantry.Errorf(gantry.ENotFound, "grant %s to %s: project %s not found", g.Role, g.User, g.Project)
	}
	return mapError(err, fmt.Sprintf("grant %s to %s in %s", g.Role, g.User, g.Project))
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
	const cols = `SELECT user_name, project, role FROM grants `
	var (
		q    string
		args []any
	)
	switch {
	case user != "" && project != "":
		q, args = cols+`WHERE user_name = $1 AND project = $2`, []any{user, project}
	case user != "":
		q, args = cols+`WHERE user_name = $1 ORDER BY project`, []any{user}
	default:
		q, args = cols+`WHERE project = $1 ORDER BY user_name`, []any{project}
	}
	gs, err := getAll(ctx, s.pool, func(row pgx.CollectableRow) (gantry.Grant, error) {
		var g gantry.Grant
		err := row.Scan(&g.User, &g.Project, &g.Role)
		return g, err
	}, q, args...)
	return gs, mapError(err, "list grants")
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
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, user_name = excluded.user_name, name = excluded.name,
		scopes = excluded.scopes, project = excluded.project, run_id = excluded.run_id,
		expires_at = excluded.expires_at`,
		t.ID, t.Hash, t.User, t.Name, textArray(t.Scopes), t.Project, t.RunID, timeArg(t.ExpiresAt), t.CreatedAt.UnixNano())
	return mapError(err, fmt.Sprintf("put token %s", t.ID), reason{gantry.EConflict, "another token has its hash"})
}

// TokenByHash returns the token whose hash is hash; ErrNotFound when none.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*gantry.Token, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	t, err := getOne(ctx, s.pool, scanToken, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash)
	if errors.Is(err, pgx.ErrNoRows) {
		// The hash is not named: it is what a bearer presents, hashed.
		return nil, gantry.Errorf(gantry.ENotFound, "token not found")
	}
	return t, mapError(err, "find token by hash")
}

// Tokens lists a user's tokens, oldest first (by CreatedAt, then ID).
func (s *Store) Tokens(ctx context.Context, user string) ([]*gantry.Token, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	ts, err := getAll(ctx, s.pool, scanToken, `SELECT `+tokenColumns+` FROM tokens WHERE user_name = $1
		ORDER BY created_at, id`, user)
	return ts, mapError(err, fmt.Sprintf("list tokens of %s", user))
}

// DeleteToken deletes the token with the given ID; an unknown one is
// ErrNotFound.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return mapError(err, fmt.Sprintf("delete token %s", id))
	}
	if tag.RowsAffected() == 0 {
		return gantry.Errorf(gantry.ENotFound, "delete token %s: token not found", id)
	}
	return nil
}

func scanToken(row pgx.CollectableRow) (*gantry.Token, error) {
	var (
		t       gantry.Token
		expires *int64
		created int64
	)
	if err := row.Scan(&t.ID, &t.Hash, &t.User, &t.Name, &t.Scopes, &t.Project, &t.RunID, &expires, &created); err != nil {
		return nil, err
	}
	t.Scopes = nilIfEmpty(t.Scopes)
	t.ExpiresAt, t.CreatedAt = timeOf(expires), timeOf(&created)
	return &t, nil
}
