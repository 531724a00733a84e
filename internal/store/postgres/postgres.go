// Package postgres is Gantry's store for more than one machine: a
// gantry.ServerStore on PostgreSQL, through pgx's connection pool, that
// any number of servers and agents share.
//
// Its tables live in the first schema of the connection's search_path
// (public unless the DSN says otherwise, as in search_path=gantry), so
// that several installations, or tests, can share one database. Open
// brings that schema up to date under an advisory lock, so servers that
// start together do not race.
//
// Times are BIGINT nanoseconds since 1970, as in the SQLite store:
// PostgreSQL's timestamps keep only microseconds, and every store keeps
// times to the nanosecond.
//
// The DSN may also set the pool's size (pool_max_conns, by default the
// larger of 4 and the number of CPUs) and any run-time parameter of the
// session.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"gantry.dev/gantry"
)

var _ gantry.Store = (*Store)(nil)

var errClosed = gantry.Errorf(gantry.EUnavailable, "store is closed")

// The first keys of the advisory locks this package takes; the second is
// the schema's (Store.lockKey), so that installations in other schemas of
// the database do not wait for each other.
const (
	lockMigrate int32 = 0x47414e54 // "GANT"
	lockLedger  int32 = 0x47414e4c // "GANL"
)

// Store is a gantry.ServerStore kept in PostgreSQL. Its methods may be
// called from several goroutines, and several Stores, in this process or
// others, may share one database.
type Store struct {
	pool    *pgxpool.Pool
	lockKey int32 // the second key of the schema's advisory locks
	closed  atomic.Bool
}

// Open connects to the database at dsn (a postgres:// URL or a
// keyword=value string, as libpq takes them) and brings the schema up to
// date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The message may hold the password: keep only what the user
		// needs to fix.
		return nil, gantry.Errorf(gantry.EInvalid, "open store: malformed PostgreSQL DSN")
	}
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("open store %s@%s:%d/%s",
			cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database))
	}
	return s, nil
}

func open(ctx context.Context, cfg *pgxpool.Config) (_ *Store, err error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			pool.Close()
		}
	}()
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if schema == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "no schema of the search path exists: create it, or fix search_path in the DSN")
	}
	h := fnv.New32a()
	h.Write([]byte(*schema))
	s := &Store{pool: pool, lockKey: int32(h.Sum32())}
	if err := s.migrate(ctx, ms, time.Now()); err != nil {
		return nil, fmt.Errorf("migrate schema %s: %w", *schema, err)
	}
	return s, nil
}

// Close closes the connections, after the calls in progress. Calls
// after the first do nothing.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}

// check returns an error when s is closed; the methods start with it.
func (s *Store) check() error {
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// tx runs f in a transaction, committed when f returns nil.
func (s *Store) tx(ctx context.Context, f func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, f)
}

// lock takes the schema's advisory lock of kind key until tx ends.
func (s *Store) lock(ctx context.Context, tx pgx.Tx, key int32) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, key, s.lockKey)
	return err
}

// runExists returns an ENotFound error when run is not stored; the list
// methods ask it only when they found nothing, to tell an unknown run
// from an empty one.
func (s *Store) runExists(ctx context.Context, run gantry.RunID) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM runs WHERE id = $1`, run).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return gantry.Errorf(gantry.ENotFound, "run %s not found", run)
	}
	return err
}

// A querier is the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// A reason gives the message of the error of one kind that a call may
// meet, such as "run exists already" for a unique violation.
type reason struct {
	kind, msg string
}

// mapError turns err, met doing op, into what a caller gets; it is the
// one place that maps PostgreSQL's errors to Gantry's error kinds:
//
//   - nil stays nil, and a *gantry.Error is returned as it is: its
//     message says what went wrong already;
//   - a unique violation is EConflict, a foreign-key violation
//     ENotFound, data PostgreSQL cannot keep (a NUL in text, a number
//     out of range) EInvalid, a serialization failure or deadlock
//     EConflict, and a database that is not there (refused connection,
//     shutdown, too many connections) EUnavailable; the message is op
//     and the reason of that kind if one is given;
//   - anything else, a cancelled context included, is wrapped with op.
func mapError(err error, op string, reasons ...reason) error {
	if err == nil {
		return nil
	}
	var ge *gantry.Error
	if errors.As(err, &ge) {
		return err
	}
	kind := errorKind(err)
	if kind == "" {
		return fmt.Errorf("%s: %w", op, err)
	}
	// The database's own words stay in the cause, for logs: they may
	// name tables and values that a user is not to see.
	for _, r := range reasons {
		if r.kind == kind {
			return &gantry.Error{Kind: kind, Message: op + ": " + r.msg, Err: err}
		}
	}
	var msg string
	switch kind {
	case gantry.EConflict:
		msg = "conflicts with what is stored"
	case gantry.ENotFound:
		msg = "refers to something that is not stored"
	case gantry.EInvalid:
		msg = "the database cannot keep this value"
	case gantry.EUnavailable:
		msg = "the database is unavailable"
	}
	return &gantry.Error{Kind: kind, Message: op + ": " + msg, Err: err}
}

// errorKind returns the gantry error kind of a PostgreSQL or connection
// error, or "" for other errors.
func errorKind(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ""
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return gantry.EConflict
		case pe.Code == "23503": // foreign_key_violation
			return gantry.ENotFound
		case pe.Code == "40001", pe.Code == "40P01": // serialization_failure, deadlock_detected
			return gantry.EConflict
		case pe.Code[:2] == "22", pe.Code == "23502", pe.Code == "23514": // data exceptions, not null, check
			return gantry.EInvalid
		case pe.Code[:2] == "08", pe.Code[:2] == "53", pe.Code[:2] == "57": // connection, resources, operator intervention
			return gantry.EUnavailable
		}
		return ""
	}
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) {
		return gantry.EUnavailable
	}
	return ""
}

// Times are stored as nanoseconds since 1970, and the zero time as NULL.

func timeArg(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func timeOf(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}
