package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const secretColumns = `project, env, name, ciphertext, key_id, updated_at, updated_by`

// The secret statements. The store sees only ciphertext.
const (
	putSecretSQL = `INSERT INTO secrets (` + secretColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (project, env, name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id,
		updated_at = excluded.updated_at, updated_by = excluded.updated_by`
	getSecretSQL   = `SELECT ` + secretColumns + ` FROM secrets WHERE project = ? AND env = ? AND name = ?`
	listSecretsSQL = `SELECT ` + secretColumns + ` FROM secrets WHERE project = ? ORDER BY env, name`
)

// PutSecret creates or replaces the secret of its project, environment
// and name. An unknown project is ErrNotFound.
func (s *Store) PutSecret(ctx context.Context, sec *gantry.SecretRecord) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckSecret(sec); err != nil {
		return err
	}
	err := s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.putSecret.ExecContext(ctx, sec.Project, sec.Env, sec.Name, sec.Ciphertext, sec.KeyID,
			sec.UpdatedAt.UnixNano(), sec.UpdatedBy)
		return err
	})
	if isForeignKey(err) {
		return gantry.Errorf(gantry.ENotFound, "put secret %s: project %s not found", sec.Name, sec.Project)
	}
	if err != nil {
		return wrap(err, "put secret %s of %s", sec.Name, sec.Project)
	}
	return nil
}

// Secret returns the secret of project, env and name.
func (s *Store) Secret(ctx context.Context, project, env, name string) (*gantry.SecretRecord, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	sec, err := scanSecret(s.server.secret.QueryRowContext(ctx, project, env, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "secret %s not found", secretName(project, env, name))
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", secretName(project, env, name), err)
	}
	return sec, nil
}

// Secrets lists a project's secrets, of every environment, by env ("",
// every environment's, first) and name.
func (s *Store) Secrets(ctx context.Context, project string) ([]*gantry.SecretRecord, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.server.secrets.QueryContext(ctx, project)
	ss, err := scanRows(rows, err, scanSecret)
	if err != nil {
		return nil, fmt.Errorf("list secrets of %s: %w", project, err)
	}
	return ss, nil
}

// DeleteSecret deletes the secret of project, env and name; an unknown
// one is ErrNotFound.
func (s *Store) DeleteSecret(ctx context.Context, project, env, name string) error {
	if err := s.check(); err != nil {
		return err
	}
	n, err := s.execCount(ctx, s.server.deleteSecret, project, env, name)
	if err != nil {
		return wrap(err, "delete secret %s", secretName(project, env, name))
	}
	if n == 0 {
		return gantry.Errorf(gantry.ENotFound, "delete secret %s: secret not found", secretName(project, env, name))
	}
	return nil
}

// secretName names a secret in messages: project/env/NAME, or
// project/NAME for every environment's.
func secretName(project, env, name string) string {
	if env == "" {
		return project + "/" + name
	}
	return project + "/" + env + "/" + name
}

func scanSecret(sc scanner) (*gantry.SecretRecord, error) {
	var (
		sec     gantry.SecretRecord
		updated int64
	)
	if err := sc.Scan(&sec.Project, &sec.Env, &sec.Name, &sec.Ciphertext, &sec.KeyID, &updated, &sec.UpdatedBy); err != nil {
		return nil, err
	}
	sec.UpdatedAt = timeAt(updated)
	return &sec, nil
}
