package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is a step of this store's schema.
type migration = store.Migration

func loadMigrations(fsys fs.FS) ([]migration, error) { return store.LoadMigrations(fsys) }

// A txBeginner is a connection or a pool.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// migrate brings db's schema to the newest version, in one transaction,
// and refuses a database whose schema is newer than this code knows. The
// writer's transactions begin immediate, so two processes opening the same
// new database do not both apply the migrations.
func migrate(ctx context.Context, db txBeginner, ms []migration, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	if current > latest {
		return gantry.Errorf(gantry.EConflict,
			"database schema version %d is newer than %d, the newest this gantry knows: use a newer gantry", current, latest)
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, now.UnixNano()); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
	}
	return tx.Commit()
}
