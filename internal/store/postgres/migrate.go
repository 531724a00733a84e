package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is a step of this store's schema.
type migration = store.Migration

func loadMigrations(fsys fs.FS) ([]migration, error) { return store.LoadMigrations(fsys) }

// migrate brings the schema to the newest version in one transaction,
// and refuses a schema newer than this code knows. PostgreSQL's DDL is
// transactional, so a failed migration leaves nothing behind; the
// transaction holds the schema's advisory lock, so that of several
// servers starting together one migrates and the others then find the
// schema up to date.
func (s *Store) migrate(ctx context.Context, ms []migration, now time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := s.lock(ctx, tx, lockMigrate); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL
		)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		latest := ms[len(ms)-1].Version
		if current > latest {
			return gantry.Errorf(gantry.EConflict,
				"database schema version %d is newer than %d, the newest this gantry knows: use a newer gantry", current, latest)
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, now.UnixNano()); err != nil {
				return fmt.Errorf("record migration %s: %w", m.Name, err)
			}
		}
		return nil
	})
}
