package ledger

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/sqlite"
)

const testOrigin = "gantry.test/ledger"

// testKey is a key pair made once for the package's tests.
var testKey = newKey(testOrigin)

type keyPair struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

func newKey(name string) keyPair {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		panic(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	return keyPair{s, v, vkey}
}

// testClock is a fake clock: each call is a millisecond later.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func openSQLite(path string) (*sqlite.Store, error) {
	return sqlite.Open(context.Background(), path)
}

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := openSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newLog returns a log on a new SQLite store, and the store's path.
func newLog(t testing.TB) (*Log, *sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gantry.db")
	st := openStore(t, path)
	clock := &testClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	l, err := Open(context.Background(), st, testKey.signer, &Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l, st, path
}

func leaf(i int) Leaf {
	return Leaf{Kind: KindAttestation, Digest: gantry.DigestBytes(fmt.Appendf(nil, "envelope %d", i))}
}

func leaves(from, n int) []Leaf {
	ls := make([]Leaf, n)
	for i := range ls {
		ls[i] = leaf(from + i)
	}
	return ls
}

func mustAppend(t testing.TB, l *Log, ls ...Leaf) []int64 {
	t.Helper()
	idx, err := l.Append(context.Background(), ls...)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func mustCheckpoint(t testing.TB, l *Log) *SignedCheckpoint {
	t.Helper()
	c, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustVerify(t testing.TB, st gantry.LedgerStore) *VerifyResult {
	t.Helper()
	res, err := Verify(context.Background(), st, testKey.verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
