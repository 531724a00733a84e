package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"gantry.dev/gantry"
)

// TestOpenConcurrent opens one new schema from several stores at once,
// as servers starting together do: one migrates, the others wait for it
// under the advisory lock and find the schema up to date.
func TestOpenConcurrent(t *testing.T) {
	dsn := freshSchema(t)
	const n = 6
	var (
		wg     sync.WaitGroup
		stores [n]*Store
		errs   [n]error
	)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	var versions, newest int
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&versions, &newest); err != nil {
		t.Fatal(err)
	}
	if versions != len(ms) || newest != len(ms) {
		t.Errorf("schema_migrations holds %d versions up to %d, want %d", versions, newest, len(ms))
	}
	// Every store works on the one schema.
	for i, s := range stores {
		r := &gantry.Run{ID: gantry.RunID(fmt.Sprint("r", i)), Status: gantry.StatusPending, CreatedAt: t0}
		if err := s.CreateRun(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := stores[0].Runs(t.Context(), gantry.RunFilter{})
	if err != nil || len(runs) != n {
		t.Errorf("Runs = %d runs, %v; want %d", len(runs), err, n)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	dsn := freshSchema(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(t.Context(), dsn)
	wantKind(t, "Open of a schema from the future", err, gantry.EConflict)
	if err != nil && !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a schema from the future: %v, want it to say the schema is newer", err)
	}
}

func TestOpenReopen(t *testing.T) {
	dsn := freshSchema(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "r1")
	s.Close()
	s, err = Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(t.Context(), "r1"); err != nil {
		t.Errorf("Run after reopening: %v", err)
	}
}

func TestOpenMissingSchema(t *testing.T) {
	dsn := withParams(t, testDSN(t), map[string]string{"search_path": "no_such_schema_at_all"})
	_, err := Open(t.Context(), dsn)
	wantKind(t, "Open with a search_path of no schema", err, gantry.EInvalid)
}

// The tests below need no database.

func TestOpenMalformedDSN(t *testing.T) {
	_, err := Open(t.Context(), "postgres://gantry:s3cret@127.0.0.1:notaport/gantry")
	wantKind(t, "Open of a malformed DSN", err, gantry.EInvalid)
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestOpenUnavailable(t *testing.T) {
	// A port that nothing listens on: take one, and give it back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = Open(t.Context(), "postgres://gantry:s3cret@"+addr+"/gantry?sslmode=disable&connect_timeout=5")
	wantKind(t, "Open of a database that is not there", err, gantry.EUnavailable)
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestMapError(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "secret detail"})
	}
	for _, tc := range []struct {
		err     error
		reasons []reason
		kind    string
		msg     string
	}{
		{pg("23505"), nil, gantry.EConflict, "put x: conflicts with what is stored"},
		{pg("23505"), []reason{{gantry.EConflict, "x exists already"}}, gantry.EConflict, "put x: x exists already"},
		{pg("23503"), []reason{{gantry.EConflict, "no"}, {gantry.ENotFound, "run r not found"}}, gantry.ENotFound, "put x: run r not found"},
		{pg("22021"), nil, gantry.EInvalid, "put x: the database cannot keep this value"},
		{pg("22P05"), nil, gantry.EInvalid, ""},
		{pg("23502"), nil, gantry.EInvalid, ""},
		{pg("40001"), nil, gantry.EConflict, ""},
		{pg("40P01"), nil, gantry.EConflict, ""},
		{pg("57P01"), nil, gantry.EUnavailable, "put x: the database is unavailable"},
		{pg("53300"), nil, gantry.EUnavailable, ""},
		{pg("42P01"), nil, gantry.EInternal, ""},
		{gantry.Errorf(gantry.ENotFound, "run r not found"), nil, gantry.ENotFound, "run r not found"},
		{context.Canceled, nil, gantry.EInternal, ""},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, nil, gantry.EUnavailable, ""},
	} {
		err := mapError(tc.err, "put x", tc.reasons...)
		if got := gantry.ErrorKind(err); got != tc.kind {
			t.Errorf("mapError(%v) is of kind %s, want %s", tc.err, got, tc.kind)
		}
		if !errors.Is(err, tc.err) && !errors.Is(err, errors.Unwrap(tc.err)) {
			t.Errorf("mapError(%v) = %v, which does not wrap it", tc.err, err)
		}
		if tc.msg != "" && gantry.ErrorMessage(err) != tc.msg {
			t.Errorf("mapError(%v) says %q, want %q", tc.err, gantry.ErrorMessage(err), tc.msg)
		}
		if strings.Contains(gantry.ErrorMessage(err), "secret detail") {
			t.Errorf("mapError(%v) shows the database's words to the user: %q", tc.err, gantry.ErrorMessage(err))
		}
	}
	if mapError(nil, "put x") != nil {
		t.Error("mapError(nil) is not nil")
	}
}

// TestText: PostgreSQL's text holds neither NUL nor invalid UTF-8. Where
// the store package's checks let such text through, the database refuses
// it, as EInvalid; log lines, a process's bytes, are kept as they are.
func TestText(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for name, r := range map[string]*gantry.Run{
		"NUL":           {ID: "r-nul", Reason: "exit\x00code", Status: gantry.StatusFailed, CreatedAt: t0},
		"invalid UTF-8": {ID: "r-utf8", Project: "sh\xffop", Status: gantry.StatusPending, CreatedAt: t0},
	} {
		wantKind(t, "CreateRun with "+name, s.CreateRun(ctx, r), gantry.EInvalid)
		_, err := s.Run(ctx, r.ID)
		wantKind(t, "Run after CreateRun with "+name, err, gantry.ENotFound)
	}
	mustRun(t, s, "r1")
	lines := []gantry.LogLine{
		{Step: "build", Seq: 1, Stream: gantry.Stdout, Text: "a\x00b"},
		{Step: "build", Seq: 2, Stream: gantry.Stderr, Text: "\xff\xfe not UTF-8", Time: t0},
	}
	if err := s.AppendLogs(ctx, "r1", lines); err != nil {
		t.Fatal(err)
	}
	got, err := s.Logs(ctx, "r1", "build")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lines, got); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
}
