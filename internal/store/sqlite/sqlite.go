// Package sqlite is Gantry's embedded store: one SQLite file in WAL mode,
// through database/sql and the pure-Go driver modernc.org/sqlite.
//
// All writes go through one connection, so writers queue in the process
// instead of failing with SQLITE_BUSY, and reads use a pool of their own
// that WAL lets run beside the writer. Writes of other processes on the
// same file are waited for (busy_timeout).
//
// Checkpoints (copying the WAL back into the database, with fsyncs) run in
// a goroutine of their own rather than inside whichever commit crosses
// SQLite's threshold, so that no write of the engine waits for the disk.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gantry.dev/gantry"
)

var _ gantry.Store = (*Store)(nil)

const (
	// busyTimeout is how long a statement waits for another process's lock.
	busyTimeout = 5 * time.Second
	// checkpointEvery is how many write transactions pass between two
	// background checkpoints: a few hundred WAL frames.
	checkpointEvery = 64
	// autoCheckpoint is the WAL size, in pages, at which a commit
	// checkpoints by itself: the backstop when background checkpoints
	// cannot keep up.
	autoCheckpoint = 16384
	// journalSizeLimit is what an idle WAL file is truncated to.
	journalSizeLimit = 64 << 20
)

var errClosed = gantry.Errorf(gantry.EUnavailable, "store is closed")

// Store is a gantry.Store kept in one SQLite database. Its methods may be
// called from several goroutines.
//
// Writes hold the writer connection w, one at a time (wsem), and run their
// statements with a context that cannot be cancelled: a cancelled context
// stops a write before it begins, never halfway. A write takes tens of
// microseconds; a cancellable context would cost each statement a
// goroutine in the driver, and each transaction one in database/sql: that
// about doubled the CPU time of a small write.
type Store struct {
	wdb    *sql.DB       // the writer's pool: the one connection w
	w      *sql.Conn     // the writer connection
	wsem   chan struct{} // held by the write using w
	r      *sql.DB       // reads: a pool of read-only connections
	closed atomic.Bool

	writes     atomic.Int64  // write transactions committed
	checkpoint chan struct{} // a checkpoint is due
	stop       func()        // stops the checkpoints
	stopped    sync.WaitGroup

	// On w.
	begin, commit, rollback *sql.Stmt
	insertRun, updateRun    *sql.Stmt
	upsertStage, upsertStep *sql.Stmt
	insertArtifact          *sql.Stmt
	insertAttestation       *sql.Stmt
	insertSubject           *sql.Stmt
	insertLogs              [logBatchBits + 1]*sql.Stmt // [i] inserts 1<<i lines
	// On r.
	getRun, runExists, listStages, listSteps *sql.Stmt
	stepLogs, runLogs                        *sql.Stmt
	ledger                                   ledgerStmts // on both
	server                                   serverStmts // on both
}

// Open opens the database file at path, creating it if needed, and brings
// its schema up to date. Tests use a file in a temporary directory: an
// in-memory database could not be shared by the writer and the readers.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, gantry.Errorf(gantry.EInvalid, "open store: %q is not a database file path", path)
	}
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string) (_ *Store, err error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// A URI, so that '?', '#' and '%' in the path stay part of it.
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x becomes file:///C:/x
	}
	name := "file://" + (&url.URL{Path: p}).EscapedPath()
	bt := fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds())
	wdsn := name + "?" + bt + "&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)" +
		fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)&_pragma=journal_size_limit(%d)", autoCheckpoint, journalSizeLimit) +
		"&_txlock=immediate"

	s := &Store{wsem: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()
	if s.wdb, err = sql.Open("sqlite", wdsn); err != nil {
		return nil, err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.w, err = s.wdb.Conn(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := walMode(ctx, s.w); err != nil {
		return nil, err
	}
	if err := migrate(ctx, s.w, ms, time.Now()); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if s.r, err = sql.Open("sqlite", name+"?"+bt+"&_pragma=query_only(1)"); err != nil {
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	if err := s.r.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect reader: %w", err)
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	// The checkpoints outlive Open's ctx, and end with Close.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.checkpoint, s.stop = make(chan struct{}, 1), cancel
	s.stopped.Add(1)
	go s.checkpoints(cctx)
	return s, nil
}

// walMode puts the database in WAL mode, which it keeps. Switching a new
// database to WAL fails at once, without waiting, while another connection
// uses it (two processes creating it together): walMode tries again for up
// to busyTimeout.
func walMode(ctx context.Context, c *sql.Conn) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := c.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return gantry.Errorf(gantry.EUnavailable,
				"database cannot use WAL mode (journal mode is %s): put it on a local file system", mode)
		case sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline):
			return fmt.Errorf("set WAL mode: %w", err)
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// The prepared reads. (Runs and Artifacts build theirs from the filter.)
const (
	getRunSQL     = `SELECT ` + runColumns + ` FROM runs WHERE id = ?`
	runExistsSQL  = `SELECT 1 FROM runs WHERE id = ?`
	listStagesSQL = `SELECT run_id, name, idx, status, gate_json, started_at, finished_at
		FROM stages WHERE run_id = ? ORDER BY idx`
	listStepsSQL = `SELECT ` + stepColumns + ` FROM steps WHERE run_id = ?
		ORDER BY started_at NULLS LAST, id`
	stepLogsSQL = `SELECT step, seq, time, stream, text FROM logs WHERE run_id = ? AND step = ? ORDER BY id`
	runLogsSQL  = `SELECT step, seq, time, stream, text FROM logs WHERE run_id = ? ORDER BY id`
)

// A preparer is a connection or a pool.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		on   preparer
		stmt **sql.Stmt
		sql  string
	}{
		{s.w, &s.begin, `BEGIN IMMEDIATE`},
		{s.w, &s.commit, `COMMIT`},
		{s.w, &s.rollback, `ROLLBACK`},
		{s.w, &s.insertRun, `INSERT INTO runs (` + runColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{s.w, &s.updateRun, `UPDATE runs SET project = ?, pipeline = ?, pipeline_digest = ?, trigger_json = ?,
			status = ?, reason = ?, created_at = ?, started_at = ?, finished_at = ? WHERE id = ?`},
		{s.w, &s.upsertStage, `INSERT INTO stages (run_id, name, idx, status, gate_json, started_at, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, name) DO UPDATE SET idx = excluded.idx, status = excluded.status,
			gate_json = excluded.gate_json, started_at = excluded.started_at, finished_at = excluded.finished_at`},
		{s.w, &s.upsertStep, `INSERT INTO steps (` + stepColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, name) DO UPDATE SET stage = excluded.stage, uses = excluded.uses,
			executor = excluded.executor, image = excluded.image, status = excluded.status,
			exit_code = excluded.exit_code, attempts = excluded.attempts, reason = excluded.reason,
			allow_failure = excluded.allow_failure, started_at = excluded.started_at,
			finished_at = excluded.finished_at, command_digest = excluded.command_digest,
			env_digest = excluded.env_digest, inputs_json = excluded.inputs_json,
			outputs_json = excluded.outputs_json, log_digest = excluded.log_digest,
			sandbox = excluded.sandbox, meta_json = excluded.meta_json`},
		{s.w, &s.insertArtifact, `INSERT INTO artifacts (run_id, step, path, digest, size) VALUES (?, ?, ?, ?, ?)`},
		{s.w, &s.insertAttestation, insertAttestationSQL},
		{s.w, &s.insertSubject, `INSERT INTO attestation_subjects (attestation, digest) VALUES (?, ?)`},
		{s.r, &s.getRun, getRunSQL},
		{s.r, &s.runExists, runExistsSQL},
		{s.r, &s.listStages, listStagesSQL},
		{s.r, &s.listSteps, listStepsSQL},
		{s.r, &s.stepLogs, stepLogsSQL},
		{s.r, &s.runLogs, runLogsSQL},
	} {
		stmt, err := p.on.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = stmt
	}
	for i := range s.insertLogs {
		stmt, err := s.w.PrepareContext(ctx, insertLogsSQL(1<<i))
		if err != nil {
			return fmt.Errorf("prepare insert of %d log lines: %w", 1<<i, err)
		}
		s.insertLogs[i] = stmt
	}
	if err := s.prepareLedger(ctx); err != nil {
		return err
	}
	return s.prepareServer(ctx)
}

// exclusive runs f holding the writer connection. f's context cannot be
// cancelled; a ctx done before f begins is returned as the error.
func (s *Store) exclusive(ctx context.Context, f func(ctx context.Context) error) error {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wsem }()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	if err := f(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	s.wrote()
	return nil
}

// write runs f in a transaction on the writer connection.
func (s *Store) write(ctx context.Context, f func(ctx context.Context) error) error {
	return s.exclusive(ctx, func(ctx context.Context) error {
		if _, err := s.begin.ExecContext(ctx); err != nil {
			return err
		}
		err := f(ctx)
		if err == nil {
			_, err = s.commit.ExecContext(ctx)
		}
		if err != nil {
			if _, rerr := s.rollback.ExecContext(ctx); rerr != nil {
				return errors.Join(err, fmt.Errorf("roll back: %w", rerr))
			}
		}
		return err
	})
}

// wrote counts a committed write and asks for a checkpoint every
// checkpointEvery of them.
func (s *Store) wrote() {
	if s.writes.Add(1)%checkpointEvery == 0 {
		select {
		case s.checkpoint <- struct{}{}:
		default: // one is due already
		}
	}
}

// checkpoints runs passive checkpoints when they are due, on a reader
// connection: they copy what no reader still needs and never wait for
// the writer, which goes on meanwhile. A failed checkpoint is not an
// error of anyone's write: the next one, or SQLite's own at
// autoCheckpoint pages, does the work.
func (s *Store) checkpoints(ctx context.Context) {
	defer s.stopped.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.checkpoint:
			_, _ = s.r.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// Close closes the database, after the write in progress if there is
// one. Calls after the first do nothing.
func (s *Store) Close() error {
	s.wsem <- struct{}{}
	defer func() { <-s.wsem }()
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.stop()
	s.stopped.Wait()
	if err := s.closeDBs(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range append([]*sql.Stmt{s.begin, s.commit, s.rollback, s.insertRun, s.updateRun,
		s.upsertStage, s.upsertStep, s.insertArtifact, s.insertAttestation, s.insertSubject, s.getRun, s.runExists, s.listStages,
		s.listSteps, s.stepLogs, s.runLogs}, append(append(s.insertLogs[:], s.ledger.all()...), s.server.all()...)...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

// check returns an error when s is closed; the methods start with it.
func (s *Store) check() error {
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// exists reports whether run is stored; the list methods ask it only when
// they found nothing, to tell an unknown run from an empty one.
func (s *Store) exists(ctx context.Context, run gantry.RunID) error {
	var one int
	err := s.runExists.QueryRowContext(ctx, run).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return gantry.Errorf(gantry.ENotFound, "run %s not found", run)
	}
	return err
}

// wrap adds what was being done to err, unless err is a *gantry.Error,
// whose message says it already.
func wrap(err error, format string, args ...any) error {
	var e *gantry.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isForeignKey(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// Times are stored as nanoseconds since 1970, and the zero time as NULL.

func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// jsonArg encodes v, or returns NULL for an empty slice or map, so that
// the common empty case costs nothing.
func jsonArg[T any](v []T) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func jsonMapArg(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func unmarshalNull(s sql.NullString, v any) error {
	if !s.Valid {
		return nil
	}
	return json.Unmarshal([]byte(s.String), v)
}
