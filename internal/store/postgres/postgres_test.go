package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/storetest"
)

// testDSN returns the DSN of the database the tests use, from
// GANTRY_TEST_POSTGRES, or skips t.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("GANTRY_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL tests need a database: set GANTRY_TEST_POSTGRES to its DSN " +
			"(export GANTRY_TEST_POSTGRES=$(.ci/postgres) makes one on this machine)")
	}
	return dsn
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// freshSchema creates a schema of its own for t, dropped when t ends,
// and returns a DSN whose search_path is that schema: tests may run in
// parallel on one database and leave nothing behind.
//
// Tests, not benchmarks, commit without waiting for the disk
// (synchronous_commit off): what they check is the same, and on a busy
// disk each commit's flush took tens of milliseconds, a suite of
// schemas minutes.
func freshSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := nonWord.ReplaceAllString(strings.ToLower(t.Name()), "_")
	name = "test_" + name[:min(len(name), 40)] + "_" + hex.EncodeToString(b[:])
	admin := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin(t.Context(), `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context is done by now.
		if err := admin(context.Background(), `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	params := map[string]string{"search_path": name}
	if _, bench := t.(*testing.B); !bench {
		params["synchronous_commit"] = "off"
	}
	return withParams(t, dsn, params)
}

// withParams returns dsn with the given run-time parameters set.
func withParams(t testing.TB, dsn string, params map[string]string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("GANTRY_TEST_POSTGRES: %v", err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		dsn += " " + k + "=" + v
	}
	return dsn
}

// openTemp opens a store in a fresh schema; it is closed when t ends.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) gantry.Store {
		s, err := Open(t.Context(), freshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestServerStore(t *testing.T) {
	testDSN(t)
	storetest.RunServer(t, func(t *testing.T) gantry.ServerStore {
		s, err := Open(t.Context(), freshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestServerStoreShared opens two stores on one schema, as two servers
// on one database.
func TestServerStoreShared(t *testing.T) {
	testDSN(t)
	storetest.RunServerShared(t, func(t *testing.T) (gantry.ServerStore, gantry.ServerStore) {
		dsn := freshSchema(t)
		a, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(t.Context(), dsn)
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		return a, b
	})
}
