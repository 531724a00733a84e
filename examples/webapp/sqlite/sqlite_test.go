package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"example.com/webapp"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "webapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func createUser(t *testing.T, db *DB, name string) webapp.User {
	t.Helper()
	u, err := db.CreateUser(t.Context(), webapp.User{Username: name, PasswordHash: "h:" + name, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestOpenTwiceKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "webapp.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	createUser(t, db, "alice")
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(ctx, path) // migrations must not run again
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.UserByName(ctx, "alice"); err != nil {
		t.Errorf("after reopen: %v", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", "x.db?mode=ro", "x.db#y", filepath.Join(t.TempDir(), "missing", "x.db")} {
		if db, err := Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q): no error", p)
		}
	}
}

func TestUsers(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	u := createUser(t, db, "alice")
	if u.ID == 0 {
		t.Error("CreateUser did not set ID")
	}
	got, err := db.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got != u {
		t.Errorf("UserByName = %+v, want %+v", got, u)
	}
	if _, err := db.CreateUser(ctx, webapp.User{Username: "alice", PasswordHash: "x", CreatedAt: t0}); !errors.Is(err, webapp.ErrConflict) {
		t.Errorf("duplicate CreateUser: %v, want ErrConflict", err)
	}
	if _, err := db.UserByName(ctx, "bob"); !errors.Is(err, webapp.ErrNotFound) {
		t.Errorf("UserByName(bob): %v, want ErrNotFound", err)
	}
	// Parameterised queries: this is a name, not SQL.
	if _, err := db.UserByName(ctx, "' OR '1'='1"); !errors.Is(err, webapp.ErrNotFound) {
		t.Errorf("UserByName(injection): %v, want ErrNotFound", err)
	}
}

func TestSessions(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	u := createUser(t, db, "alice")
	s := webapp.Session{TokenHash: "hash1", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := db.SessionUser(ctx, "hash1", t0.Add(time.Minute))
	if err != nil || got.ID != u.ID {
		t.Fatalf("SessionUser = %+v, %v; want alice", got, err)
	}
	if _, err := db.SessionUser(ctx, "hash1", t0.Add(time.Hour)); !errors.Is(err, webapp.ErrNotFound) {
		t.Errorf("expired session: %v, want ErrNotFound", err)
	}
	if _, err := db.SessionUser(ctx, "nope", t0); !errors.Is(err, webapp.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}

	// A new session sweeps out expired ones.
	s2 := webapp.Session{TokenHash: "hash2", UserID: u.ID, CreatedAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}
	if err := db.CreateSession(ctx, s2); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil || n != 1 {
		t.Errorf("sessions after sweep = %d, %v; want 1", n, err)
	}

	if err := db.DeleteSession(ctx, "hash2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionUser(ctx, "hash2", t0.Add(2*time.Hour)); !errors.Is(err, webapp.ErrNotFound) {
		t.Errorf("deleted session: %v, want ErrNotFound", err)
	}
	if err := db.DeleteSession(ctx, "hash2"); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	if err := db.CreateSession(ctx, webapp.Session{TokenHash: "h3", UserID: 999, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err == nil {
		t.Error("session for a missing user: no error (foreign keys off?)")
	}
}

func TestItems(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	alice, bob := createUser(t, db, "alice"), createUser(t, db, "bob")

	var created []webapp.Item
	for i, name := range []string{"bolts", "nuts", "washers"} {
		it, err := db.CreateItem(ctx, webapp.Item{OwnerID: alice.ID, Name: name, Quantity: int64(i * 10), CreatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, it)
	}
	if _, err := db.CreateItem(ctx, webapp.Item{OwnerID: bob.ID, Name: "bob's", Quantity: 1, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}

	got, err := db.Item(ctx, alice.ID, created[1].ID)
	if err != nil || got != created[1] {
		t.Errorf("Item = %+v, %v; want %+v", got, err, created[1])
	}
	if _, err := db.Item(ctx, bob.ID, created[1].ID); !errors.Is(err, webapp.ErrNotFound) {
		t.Errorf("bob reading alice's item: %v, want ErrNotFound", err)
	}

	page1, err := db.Items(ctx, alice.ID, 0, 2)
	if err != nil || len(page1) != 2 || page1[0] != created[0] || page1[1] != created[1] {
		t.Fatalf("Items page 1 = %+v, %v", page1, err)
	}
	page2, err := db.Items(ctx, alice.ID, page1[1].ID, 2)
	if err != nil || len(page2) != 1 || page2[0] != created[2] {
		t.Fatalf("Items page 2 = %+v, %v", page2, err)
	}
	none, err := db.Items(ctx, 999, 0, 10)
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("Items of nobody = %#v, %v; want empty non-nil", none, err)
	}

	// The schema enforces the input rules too.
	if _, err := db.CreateItem(ctx, webapp.Item{OwnerID: alice.ID, Name: "", Quantity: 1, CreatedAt: t0}); err == nil {
		t.Error("empty name stored")
	}
	if _, err := db.CreateItem(ctx, webapp.Item{OwnerID: alice.ID, Name: "x", Quantity: -1, CreatedAt: t0}); err == nil {
		t.Error("negative quantity stored")
	}
}

func TestClosedDB(t *testing.T) {
	db := open(t)
	db.Close()
	ctx := t.Context()
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping on closed db: no error")
	}
	if _, err := db.Items(ctx, 1, 0, 1); err == nil {
		t.Error("Items on closed db: no error")
	}
	if _, err := db.CreateItem(ctx, webapp.Item{Name: "x"}); err == nil {
		t.Error("CreateItem on closed db: no error")
	}
	if _, err := db.CreateUser(ctx, webapp.User{Username: "x"}); err == nil {
		t.Error("CreateUser on closed db: no error")
	}
	if err := db.CreateSession(ctx, webapp.Session{}); err == nil {
		t.Error("CreateSession on closed db: no error")
	}
	if err := db.DeleteSession(ctx, "x"); err == nil {
		t.Error("DeleteSession on closed db: no error")
	}
}
