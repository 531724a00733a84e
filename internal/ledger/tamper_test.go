package ledger

import (
	"bytes"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/sqlite"
)

// tamperEnv is a log with checkpoints at 8 and 16 and four entries after
// them (20 in all), and the database under it, opened with database/sql
// beside the store: the store has no way to alter history, an attacker
// with the file does.
type tamperEnv struct {
	l    *Log
	st   *sqlite.Store
	path string
	db   *sql.DB
}

func newTamperEnv(t *testing.T) *tamperEnv {
	t.Helper()
	l, st, path := newLog(t)
	mustAppend(t, l, leaves(0, 8)...)
	mustCheckpoint(t, l)
	mustAppend(t, l, leaves(8, 8)...)
	mustCheckpoint(t, l)
	mustAppend(t, l, leaves(16, 4)...)
	mustVerify(t, st)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &tamperEnv{l, st, path, db}
}

func (e *tamperEnv) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	res, err := e.db.ExecContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed nothing", query)
	}
}

func (e *tamperEnv) blob(t *testing.T, query string, args ...any) []byte {
	t.Helper()
	var b []byte
	if err := e.db.QueryRowContext(t.Context(), query, args...).Scan(&b); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return b
}

// otherLeaf returns the data of another leaf than entry i's.
func otherLeaf(t *testing.T, i int) []byte {
	b, err := leaf(1000 + i).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// wantVerifyError checks that Verify fails with an error that wraps one
// of sentinels and whose message contains want.
func wantVerifyError(t *testing.T, st *sqlite.Store, opts *VerifyOptions, want string, sentinels ...error) {
	t.Helper()
	_, err := Verify(t.Context(), st, testKey.verifier, opts)
	if err == nil {
		t.Fatalf("Verify: no error, want one saying %q", want)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Verify: %v\nwant an error saying %q", err, want)
	}
	if gantry.ErrorKind(err) != gantry.EConflict {
		t.Errorf("Verify: error of kind %s, want %s", gantry.ErrorKind(err), gantry.EConflict)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Errorf("Verify: %v wraps none of %v", err, sentinels)
}

// TestTampering alters a verified log the ways issue 4 lists, and some
// more, and checks that Verify, or a verifier that remembers the log,
// names what failed.
func TestTampering(t *testing.T) {
	other := newKey(testOrigin) // the same name, another key
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, e *tamperEnv) *VerifyOptions
		want   string
		err    error
	}{
		{
			name: "entry altered",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 5`, flip(e.blob(t, `SELECT data FROM ledger_entries WHERE idx = 5`), 30))
				return nil
			},
			want: "entry 5 does not match its inclusion proof in checkpoint 8: the entry was altered",
			err:  ErrInconsistent,
		},
		{
			name: "entry altered with its stored hash",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				data := flip(e.blob(t, `SELECT data FROM ledger_entries WHERE idx = 9`), 40)
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 9`, data)
				h := tlog.RecordHash(data)
				e.exec(t, `UPDATE ledger_hashes SET hash = ? WHERE idx = ?`, h[:], storedIndex(0, 9))
				return nil
			},
			want: "entry 9 does not match its inclusion proof in checkpoint 16: the entry or its proof was altered",
			err:  ErrInconsistent,
		},
		{
			name: "entry after the last checkpoint altered",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 18`, flip(e.blob(t, `SELECT data FROM ledger_entries WHERE idx = 18`), 0))
				return nil
			},
			want: "entry 18 does not match its stored hash 34, and no checkpoint holds it yet",
			err:  ErrInconsistent,
		},
		{
			name: "entry deleted",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `DELETE FROM ledger_entries WHERE idx = 11`)
				return nil
			},
			want: "entry 11 is missing",
			err:  ErrInconsistent,
		},
		{
			name: "last entry deleted",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `DELETE FROM ledger_entries WHERE idx = 19`)
				return nil
			},
			want: "stored hash 35 is beyond the tree of the 19 stored entries: entries after 18 were deleted",
			err:  ErrInconsistent,
		},
		{
			name: "entries of a checkpoint deleted at the end",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `DELETE FROM ledger_entries WHERE idx >= 15`)
				e.exec(t, `DELETE FROM ledger_hashes WHERE idx >= ?`, storedIndex(0, 15))
				return nil
			},
			want: "entry 15 is missing",
			err:  ErrInconsistent,
		},
		{
			name: "entries reordered",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				a := e.blob(t, `SELECT data FROM ledger_entries WHERE idx = 2`)
				b := e.blob(t, `SELECT data FROM ledger_entries WHERE idx = 6`)
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 2`, b)
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 6`, a)
				return nil
			},
			want: "entry 2 does not match its inclusion proof in checkpoint 8: it holds the data of entry 6: entries were reordered or moved",
			err:  ErrInconsistent,
		},
		{
			name: "entries renumbered",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				// Entry 3 dropped, and the entries after it moved up.
				e.exec(t, `DELETE FROM ledger_entries WHERE idx = 3`)
				e.exec(t, `UPDATE ledger_entries SET idx = idx - 1 WHERE idx > 3`)
				e.exec(t, `INSERT INTO ledger_entries (idx, data) VALUES (19, ?)`, e.blob(t, `SELECT data FROM ledger_entries WHERE idx = 18`))
				return nil
			},
			want: "entry 3 does not match its inclusion proof in checkpoint 8: it holds the data of entry 4",
			err:  ErrInconsistent,
		},
		{
			name: "stored leaf hash altered",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_hashes SET hash = ? WHERE idx = ?`, make([]byte, 32), storedIndex(0, 3))
				return nil
			},
			want: "stored hash 4 (the hash of entry 3) does not match the tree recomputed from the entries, which checkpoint 8 confirms: the stored hash was altered",
			err:  ErrInconsistent,
		},
		{
			name: "stored inner hash altered",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_hashes SET hash = ? WHERE idx = ?`, make([]byte, 32), storedIndex(2, 2))
				return nil
			},
			want: "stored hash 21 (the hash of entries 8 to 11) does not match the tree recomputed from the entries, which checkpoint 16 confirms",
			err:  ErrInconsistent,
		},
		{
			name: "stored hash deleted",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `DELETE FROM ledger_hashes WHERE idx = ?`, storedIndex(1, 3))
				return nil
			},
			want: "stored hash 12 (the hash of entries 6 to 7) is missing",
			err:  ErrInconsistent,
		},
		{
			name: "stored hash added",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `INSERT INTO ledger_hashes (idx, hash) VALUES (1000, ?)`, make([]byte, 32))
				return nil
			},
			want: "stored hash 1000 is beyond the tree of the 20 stored entries",
			err:  ErrInconsistent,
		},
		{
			name: "inclusion proof altered",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_proofs SET hashes = ? WHERE idx = 9`, flip(e.blob(t, `SELECT hashes FROM ledger_proofs WHERE idx = 9`), 70))
				return nil
			},
			want: "entry 9: hash 2 of its stored inclusion proof in checkpoint 16 does not match the tree: the proof was altered",
			err:  ErrInconsistent,
		},
		{
			name: "inclusion proof cut",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_proofs SET hashes = substr(hashes, 33) WHERE idx = 9`)
				return nil
			},
			want: "entry 9: hash 0 of its stored inclusion proof in checkpoint 16 does not match the tree",
			err:  ErrInconsistent,
		},
		{
			name: "inclusion proof deleted",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `DELETE FROM ledger_proofs WHERE idx = 12`)
				return nil
			},
			want: "entry 12 has no stored inclusion proof, although checkpoint 16 holds it: the proof was deleted",
			err:  ErrInconsistent,
		},
		{
			name: "inclusion proof moved to another tree",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_proofs SET tree_size = 12 WHERE idx = 9`)
				return nil
			},
			want: "entry 9 has an inclusion proof in a tree of 12 entries, of which there is no checkpoint",
			err:  ErrInconsistent,
		},
		{
			name: "checkpoint deleted",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `DELETE FROM ledger_checkpoints WHERE size = 8`)
				return nil
			},
			want: "entry 0 has an inclusion proof in a tree of 8 entries, of which there is no checkpoint",
			err:  ErrInconsistent,
		},
		{
			name: "checkpoint moved",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				e.exec(t, `UPDATE ledger_checkpoints SET size = 17 WHERE size = 16`)
				return nil
			},
			want: "checkpoint 16 is stored as a checkpoint of size 17: moved",
			err:  ErrInconsistent,
		},
		{
			name: "checkpoint signed with another key",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				c, err := OpenCheckpoint(e.blob(t, `SELECT note FROM ledger_checkpoints WHERE size = 16`), testKey.verifier)
				if err != nil {
					t.Fatal(err)
				}
				forged, err := SignCheckpoint(c, other.signer)
				if err != nil {
					t.Fatal(err)
				}
				e.exec(t, `UPDATE ledger_checkpoints SET note = ? WHERE size = 16`, forged)
				return nil
			},
			want: "checkpoint 16: signed by " + KeyID(other.verifier) + ", not by the trusted key " + KeyID(testKey.verifier),
			err:  ErrUnknownKey,
		},
		{
			name: "history rewritten and signed with another key",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				// Entry 4 altered, and every stored hash, proof and
				// checkpoint made again to match, with a key the attacker
				// has.
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 4`, otherLeaf(t, 4))
				rewrite(t, e, other)
				return nil
			},
			want: "checkpoint 8: signed by " + KeyID(other.verifier) + ", not by the trusted key",
			err:  ErrUnknownKey,
		},
		{
			name: "older checkpoint presented to a verifier that remembers a newer one",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				trust := rememberLatest(t, e)
				// The log rolled back to its checkpoint 8.
				e.exec(t, `DELETE FROM ledger_checkpoints WHERE size > 8`)
				e.exec(t, `DELETE FROM ledger_proofs WHERE idx >= 8`)
				e.exec(t, `DELETE FROM ledger_entries WHERE idx >= 8`)
				e.exec(t, `DELETE FROM ledger_hashes WHERE idx >= ?`, storedIndex(0, 8))
				return &VerifyOptions{Trust: trust}
			},
			want: "checkpoint 8 of gantry.test/ledger is older than checkpoint 16, which this verifier trusted before: the log was rolled back, or this is a stale view of it",
			err:  ErrStale,
		},
		{
			name: "forked checkpoint presented to a verifier that remembers another",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				trust := rememberLatest(t, e)
				// Entry 12 altered, and the log made again from there
				// with the log's own key (a key holder's fork), grown
				// past the remembered checkpoint.
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 12`, otherLeaf(t, 12))
				rewrite(t, e, testKey)
				return &VerifyOptions{Trust: trust}
			},
			want: "checkpoint 20 of gantry.test/ledger is not consistent with checkpoint 16, which this verifier trusted before: the log's history was rewritten, or it forked (a split view)",
			err:  ErrFork,
		},
		{
			name: "forked checkpoint of the remembered size",
			tamper: func(t *testing.T, e *tamperEnv) *VerifyOptions {
				trust := rememberLatest(t, e)
				e.exec(t, `DELETE FROM ledger_entries WHERE idx >= 16`)
				e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 12`, otherLeaf(t, 12))
				rewrite(t, e, testKey)
				return &VerifyOptions{Trust: trust}
			},
			want: "checkpoint 16 of gantry.test/ledger has another root hash than the checkpoint of the same size this verifier trusted before: the log forked (a split view) or its history was rewritten",
			err:  ErrFork,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTamperEnv(t)
			opts := tc.tamper(t, e)
			wantVerifyError(t, e.st, opts, tc.want, tc.err)
		})
	}
}

// TestTamperingAnyByte alters each byte of an entry, and of a checkpoint,
// one at a time, and checks that Verify names the entry or the checkpoint.
func TestTamperingAnyByte(t *testing.T) {
	e := newTamperEnv(t)
	entry := e.blob(t, `SELECT data FROM ledger_entries WHERE idx = 13`)
	for i := range entry {
		e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 13`, flip(entry, i))
		wantVerifyError(t, e.st, nil, "entry 13 does not match its inclusion proof in checkpoint 16: the entry was altered", ErrInconsistent)
	}
	e.exec(t, `UPDATE ledger_entries SET data = ? WHERE idx = 13`, entry)
	mustVerify(t, e.st)

	note := e.blob(t, `SELECT note FROM ledger_checkpoints WHERE size = 16`)
	for i := range note {
		e.exec(t, `UPDATE ledger_checkpoints SET note = ? WHERE size = 16`, flip(note, i))
		wantVerifyError(t, e.st, nil, "checkpoint 16: ", ErrBadSignature, ErrUnknownKey, ErrMalformedCheckpoint)
	}
	e.exec(t, `UPDATE ledger_checkpoints SET note = ? WHERE size = 16`, note)
	mustVerify(t, e.st)
}

// rememberLatest verifies e's log with a new Trust, which remembers its
// latest checkpoint, and returns the Trust.
func rememberLatest(t *testing.T, e *tamperEnv) *Trust {
	t.Helper()
	trust := NewTrust(t.TempDir())
	if _, err := Verify(t.Context(), e.st, testKey.verifier, &VerifyOptions{Trust: trust}); err != nil {
		t.Fatal(err)
	}
	return trust
}

// rewrite makes the stored hashes, proofs and checkpoints of e's log
// again from its entries, signing with k: what an attacker who altered
// entries does to cover them.
func rewrite(t *testing.T, e *tamperEnv, k keyPair) {
	t.Helper()
	ctx := t.Context()
	var sizes []int64
	rows, err := e.db.QueryContext(ctx, `SELECT size FROM ledger_checkpoints ORDER BY size`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		rows.Scan(&n)
		sizes = append(sizes, n)
	}
	rows.Close()
	entries, err := e.st.LedgerEntries(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM ledger_hashes`, `DELETE FROM ledger_proofs`, `DELETE FROM ledger_checkpoints`, `DELETE FROM ledger_entries`} {
		e.exec(t, q)
	}
	e.st.Close()
	st := openStore(t, e.path)
	l, err := Open(ctx, st, k.signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, n := range append(sizes, int64(len(entries))) {
		for ; done < int(n) && done < len(entries); done++ {
			ll, err := ParseLeaf(entries[done].Data)
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, l, ll)
		}
		mustCheckpoint(t, l)
	}
	e.st = st
}
