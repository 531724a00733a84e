// Package sqlite stores the webapp's users, sessions and items in one SQLite
// file. Every query is parameterised.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"example.com/webapp"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the webapp's store.
type DB struct {
	db *sql.DB
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	// The driver reads everything after '?' as options.
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open database %q: path must be non-empty and contain no '?' or '#'", path)
	}
	dsn := path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	sqlDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d := &DB{db: sqlDB}
	if err := d.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// migrate applies, in name order, each embedded migration not yet recorded in
// schema_migrations, each in its own transaction.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT    PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.apply(ctx, name); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func (d *DB) apply(ctx context.Context, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// CreateUser adds a user and returns it with its ID set. It returns an error
// wrapping webapp.ErrConflict if the username is taken.
func (d *DB) CreateUser(ctx context.Context, u webapp.User) (webapp.User, error) {
	res, err := d.db.ExecContext(ctx,
		`INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)
		 ON CONFLICT (username) DO NOTHING`,
		u.Username, u.PasswordHash, u.CreatedAt.Unix())
	if err != nil {
		return webapp.User{}, fmt.Errorf("create user %q: %w", u.Username, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return webapp.User{}, fmt.Errorf("create user %q: %w", u.Username, err)
	} else if n == 0 {
		return webapp.User{}, fmt.Errorf("create user %q: %w", u.Username, webapp.ErrConflict)
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return webapp.User{}, fmt.Errorf("create user %q: %w", u.Username, err)
	}
	u.CreatedAt = time.Unix(u.CreatedAt.Unix(), 0).UTC()
	return u, nil
}

// UserByName returns the user with the given username.
func (d *DB) UserByName(ctx context.Context, username string) (webapp.User, error) {
	row := d.db.QueryRowContext(ctx,
		`SELECT id, username, password_hash, created_at FROM users WHERE username = ?`, username)
	u, err := scanUser(row)
	if err != nil {
		return webapp.User{}, fmt.Errorf("get user %q: %w", username, err)
	}
	return u, nil
}

// CreateSession stores a session, and drops sessions that expired before it
// was created.
func (d *DB) CreateSession(ctx context.Context, s webapp.Session) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, s.CreatedAt.Unix()); err != nil {
		return fmt.Errorf("create session: drop expired: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		s.TokenHash, s.UserID, s.CreatedAt.Unix(), s.ExpiresAt.Unix()); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionUser returns the user of the session whose token hashes to
// tokenHash, if that session has not expired at now.
func (d *DB) SessionUser(ctx context.Context, tokenHash string, now time.Time) (webapp.User, error) {
	row := d.db.QueryRowContext(ctx,
		`SELECT u.id, u.username, u.password_hash, u.created_at
		 FROM sessions s JOIN users u ON u.id = s.user_id
		 WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, now.Unix())
	u, err := scanUser(row)
	if err != nil {
		return webapp.User{}, fmt.Errorf("get session: %w", err)
	}
	return u, nil
}

// DeleteSession removes a session. Removing one that does not exist is not
// an error.
func (d *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// CreateItem adds an item and returns it with its ID set.
func (d *DB) CreateItem(ctx context.Context, it webapp.Item) (webapp.Item, error) {
	res, err := d.db.ExecContext(ctx,
		`INSERT INTO items (owner_id, name, quantity, created_at) VALUES (?, ?, ?, ?)`,
		it.OwnerID, it.Name, it.Quantity, it.CreatedAt.Unix())
	if err != nil {
		return webapp.Item{}, fmt.Errorf("create item: %w", err)
	}
	if it.ID, err = res.LastInsertId(); err != nil {
		return webapp.Item{}, fmt.Errorf("create item: %w", err)
	}
	it.CreatedAt = time.Unix(it.CreatedAt.Unix(), 0).UTC()
	return it, nil
}

// Items returns up to limit of ownerID's items with IDs above afterID, in ID
// order.
func (d *DB) Items(ctx context.Context, ownerID, afterID int64, limit int) ([]webapp.Item, error) {
	rows, err := d.db.QueryContext(ctx,
		`SELECT id, owner_id, name, quantity, created_at FROM items
		 WHERE owner_id = ? AND id > ? ORDER BY id LIMIT ?`, ownerID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	defer rows.Close()
	items := []webapp.Item{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("list items: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	return items, nil
}

// Item returns ownerID's item with the given ID. Another user's item is
// reported as not found, so IDs reveal nothing.
func (d *DB) Item(ctx context.Context, ownerID, id int64) (webapp.Item, error) {
	row := d.db.QueryRowContext(ctx,
		`SELECT id, owner_id, name, quantity, created_at FROM items
		 WHERE owner_id = ? AND id = ?`, ownerID, id)
	it, err := scanItem(row)
	if err != nil {
		return webapp.Item{}, fmt.Errorf("get item %d: %w", id, err)
	}
	return it, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (webapp.User, error) {
	var u webapp.User
	var created int64
	if err := s.Scan(&u.ID, &u.Username, &u.PasswordHash, &created); err != nil {
		return webapp.User{}, notFound(err)
	}
	u.CreatedAt = time.Unix(created, 0).UTC()
	return u, nil
}

func scanItem(s scanner) (webapp.Item, error) {
	var it webapp.Item
	var created int64
	if err := s.Scan(&it.ID, &it.OwnerID, &it.Name, &it.Quantity, &created); err != nil {
		return webapp.Item{}, notFound(err)
	}
	it.CreatedAt = time.Unix(created, 0).UTC()
	return it, nil
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return webapp.ErrNotFound
	}
	return err
}
