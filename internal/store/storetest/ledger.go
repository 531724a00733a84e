package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// ledgerTests check the LedgerStore part. The store keeps what it is
// given and checks only its shape: these tests use hashes and notes that
// no log would produce.
//
// Besides the interface's comments, they pin down: an append, a put of
// proofs and a put of a checkpoint are stored whole or not at all; the
// range reads skip what is missing (an entry deleted behind the store's
// back) and return an empty list for an empty range; negative indexes,
// empty entries and notes, hashes that are not exactly the ones an
// append completes and proofs of the wrong length are EInvalid.
var ledgerTests = []storeTest{
	{"Ledger/Empty", testLedgerEmpty},
	{"Ledger/AppendRoundTrip", testLedgerAppendRoundTrip},
	{"Ledger/AppendLarge", testLedgerAppendLarge},
	{"Ledger/AppendConflict", testLedgerAppendConflict},
	{"Ledger/AppendInvalid", testLedgerAppendInvalid},
	{"Ledger/AppendRace", testLedgerAppendRace},
	{"Ledger/Ranges", testLedgerRanges},
	{"Ledger/Hashes", testLedgerHashes},
	{"Ledger/Checkpoints", testLedgerCheckpoints},
	{"Ledger/CheckpointInvalid", testLedgerCheckpointInvalid},
	{"Ledger/Proofs", testLedgerProofs},
	{"Ledger/ProofsInvalid", testLedgerProofsInvalid},
	{"Ledger/Context", testLedgerContext},
	{"Ledger/Closed", testLedgerClosed},
}

// ledgerBatch returns n entries to append at index at, and the hashes
// they complete (made up, but as many and with the indexes a tree has).
func ledgerBatch(at int64, n int) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
	entries := make([]gantry.LedgerEntry, n)
	for i := range entries {
		x := at + int64(i)
		entries[i] = gantry.LedgerEntry{
			Index:     x,
			Data:      fmt.Appendf(nil, "entry %d\x00\xff", x), // not text: bytes
			CreatedAt: t0.Add(time.Duration(x) * time.Millisecond),
		}
	}
	first, end := store.StoredHashCount(at), store.StoredHashCount(at+int64(n))
	var hashes []gantry.LedgerHash
	for x := first; x < end; x++ {
		hashes = append(hashes, gantry.LedgerHash{Index: x, Hash: hashOf(x)})
	}
	return entries, hashes
}

func hashOf(x int64) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "hash %d", x)) }

func mustAppendLedger(t *testing.T, s gantry.Store, at int64, n int) []gantry.LedgerEntry {
	t.Helper()
	entries, hashes := ledgerBatch(at, n)
	if err := s.AppendLedger(t.Context(), at, entries, hashes); err != nil {
		t.Fatalf("AppendLedger(%d, %d entries): %v", at, n, err)
	}
	return entries
}

func wantLedgerSize(t *testing.T, s gantry.Store, want int64) {
	t.Helper()
	got, err := s.LedgerSize(t.Context())
	if err != nil {
		t.Fatalf("LedgerSize: %v", err)
	}
	if got != want {
		t.Errorf("LedgerSize = %d, want %d", got, want)
	}
}

func wantEntries(t *testing.T, s gantry.Store, from, to int64, want []gantry.LedgerEntry) {
	t.Helper()
	got, err := s.LedgerEntries(t.Context(), from, to)
	if err != nil {
		t.Fatalf("LedgerEntries(%d, %d): %v", from, to, err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("LedgerEntries(%d, %d) mismatch (-want +got):\n%s", from, to, diff)
	}
}

// wantStoredHashes checks that the store holds exactly the stored hashes
// of a tree of n entries, as ledgerBatch makes them.
func wantStoredHashes(t *testing.T, s gantry.Store, n int64) {
	t.Helper()
	got, err := s.LedgerHashRange(t.Context(), 0, store.StoredHashCount(n)+10)
	if err != nil {
		t.Fatalf("LedgerHashRange: %v", err)
	}
	var want []gantry.LedgerHash
	for x := range store.StoredHashCount(n) {
		want = append(want, gantry.LedgerHash{Index: x, Hash: hashOf(x)})
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("stored hashes of a tree of %d entries mismatch (-want +got):\n%s", n, diff)
	}
}

func testLedgerEmpty(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	wantLedgerSize(t, s, 0)
	wantEntries(t, s, 0, 10, nil)
	wantStoredHashes(t, s, 0)
	if hs, err := s.LedgerHashes(ctx, nil); err != nil || len(hs) != 0 {
		t.Errorf("LedgerHashes(none) = %v, %v; want none", hs, err)
	}
	_, err := s.LedgerHashes(ctx, []int64{0})
	wantNotFound(t, "LedgerHashes([0])", err)
	cs, err := s.Checkpoints(ctx)
	if err != nil || len(cs) != 0 {
		t.Errorf("Checkpoints = %v, %v; want none", cs, err)
	}
	_, err = s.LatestCheckpoint(ctx)
	wantNotFound(t, "LatestCheckpoint", err)
	_, err = s.LedgerProof(ctx, 0)
	wantNotFound(t, "LedgerProof(0)", err)
	if ps, err := s.LedgerProofs(ctx, 0, 10); err != nil || len(ps) != 0 {
		t.Errorf("LedgerProofs(0, 10) = %v, %v; want none", ps, err)
	}
}

func testLedgerAppendRoundTrip(t *testing.T, s gantry.Store) {
	first := mustAppendLedger(t, s, 0, 1)
	second := mustAppendLedger(t, s, 1, 6)
	third := mustAppendLedger(t, s, 7, 1)
	wantLedgerSize(t, s, 8)
	all := slices.Concat(first, second, third)
	wantEntries(t, s, 0, 8, all)
	wantEntries(t, s, 0, 100, all)
	wantEntries(t, s, 2, 5, all[2:5])
	wantEntries(t, s, 7, 8, all[7:])
	wantStoredHashes(t, s, 8)

	// Zero times stay zero.
	entries, hashes := ledgerBatch(8, 2)
	for i := range entries {
		entries[i].CreatedAt = time.Time{}
	}
	if err := s.AppendLedger(t.Context(), 8, entries, hashes); err != nil {
		t.Fatal(err)
	}
	wantEntries(t, s, 8, 10, entries)

	// The store keeps copies.
	entries[0].Data[0] = 'X'
	got, err := s.LedgerEntries(t.Context(), 8, 9)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Data[0] == 'X' {
		t.Error("the store kept the caller's slice of entry data")
	}
}

// testLedgerAppendLarge appends more rows than a store is likely to put
// in one statement, and sizes around powers of two.
func testLedgerAppendLarge(t *testing.T, s gantry.Store) {
	at := int64(0)
	var all []gantry.LedgerEntry
	for _, n := range []int{255, 1, 256, 257, 1000, 3} {
		all = append(all, mustAppendLedger(t, s, at, n)...)
		at += int64(n)
	}
	wantLedgerSize(t, s, at)
	wantEntries(t, s, 0, at, all)
	wantStoredHashes(t, s, at)
}

func testLedgerAppendConflict(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	entries, hashes := ledgerBatch(1, 2)
	wantKind(t, "AppendLedger at 1 to an empty log", s.AppendLedger(ctx, 1, entries, hashes), gantry.EConflict)
	mustAppendLedger(t, s, 0, 3)
	for _, at := range []int64{0, 2, 4} {
		entries, hashes := ledgerBatch(at, 2)
		err := s.AppendLedger(ctx, at, entries, hashes)
		wantKind(t, fmt.Sprintf("AppendLedger at %d to a log of 3", at), err, gantry.EConflict)
	}
	// Nothing of the failed appends was stored.
	wantLedgerSize(t, s, 3)
	entries, _ = ledgerBatch(0, 3)
	wantEntries(t, s, 0, 10, entries)
	wantStoredHashes(t, s, 3)
}

func testLedgerAppendInvalid(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustAppendLedger(t, s, 0, 3)
	for name, change := range map[string]func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash){
		"negative index": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			*at = -1
			for i := range es {
				es[i].Index = int64(i) - 1
			}
			return es, hs
		},
		"no entries": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			return nil, nil
		},
		"entry index skips": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			es[1].Index++
			return es, hs
		},
		"entry index not at": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			es[0].Index = 2
			return es, hs
		},
		"empty entry": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			es[2].Data = nil
			return es, hs
		},
		"entry too long": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			es[2].Data = make([]byte, store.MaxLedgerEntry+1)
			return es, hs
		},
		"time out of range": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			es[1].CreatedAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
			return es, hs
		},
		"a hash too few": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			return es, hs[:len(hs)-1]
		},
		"a hash too many": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			last := hs[len(hs)-1]
			return es, append(hs, gantry.LedgerHash{Index: last.Index + 1, Hash: last.Hash})
		},
		"no hashes": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			return es, nil
		},
		"hash index skips": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			hs[1].Index++
			return es, hs
		},
		"hashes out of order": func(at *int64, es []gantry.LedgerEntry, hs []gantry.LedgerHash) ([]gantry.LedgerEntry, []gantry.LedgerHash) {
			hs[0], hs[1] = hs[1], hs[0]
			return es, hs
		},
	} {
		at := int64(3)
		es, hs := ledgerBatch(at, 4)
		es, hs = change(&at, es, hs)
		wantKind(t, "AppendLedger with "+name, s.AppendLedger(ctx, at, es, hs), gantry.EInvalid)
	}
	wantLedgerSize(t, s, 3)
	wantStoredHashes(t, s, 3)
}

// testLedgerAppendRace has writers append at the same index at once:
// exactly one wins, the others get EConflict and store nothing.
func testLedgerAppendRace(t *testing.T, s gantry.Store) {
	const writers = 8
	mustAppendLedger(t, s, 0, 5)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			entries, hashes := ledgerBatch(5, 3+w)
			errs[w] = s.AppendLedger(t.Context(), 5, entries, hashes)
		})
	}
	wg.Wait()
	won := -1
	for w, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both appended at 5", won, w)
		case err == nil:
			won = w
		default:
			wantKind(t, fmt.Sprintf("writer %d", w), err, gantry.EConflict)
		}
	}
	if won < 0 {
		t.Fatal("no writer appended")
	}
	n := 5 + 3 + int64(won)
	wantLedgerSize(t, s, n)
	entries, _ := ledgerBatch(0, int(n))
	wantEntries(t, s, 0, 100, entries)
	wantStoredHashes(t, s, n)
}

func testLedgerRanges(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	entries := mustAppendLedger(t, s, 0, 10)
	wantEntries(t, s, 4, 4, nil)
	wantEntries(t, s, 10, 20, nil)
	wantEntries(t, s, 9, 1<<40, entries[9:])
	for _, r := range [][2]int64{{-1, 5}, {5, 4}, {-3, -1}} {
		_, err := s.LedgerEntries(ctx, r[0], r[1])
		wantKind(t, fmt.Sprintf("LedgerEntries(%d, %d)", r[0], r[1]), err, gantry.EInvalid)
		_, err = s.LedgerHashRange(ctx, r[0], r[1])
		wantKind(t, fmt.Sprintf("LedgerHashRange(%d, %d)", r[0], r[1]), err, gantry.EInvalid)
		_, err = s.LedgerProofs(ctx, r[0], r[1])
		wantKind(t, fmt.Sprintf("LedgerProofs(%d, %d)", r[0], r[1]), err, gantry.EInvalid)
	}
	hs, err := s.LedgerHashRange(ctx, 3, 6)
	if err != nil {
		t.Fatal(err)
	}
	want := []gantry.LedgerHash{{Index: 3, Hash: hashOf(3)}, {Index: 4, Hash: hashOf(4)}, {Index: 5, Hash: hashOf(5)}}
	if diff := cmp.Diff(want, hs); diff != "" {
		t.Errorf("LedgerHashRange(3, 6) mismatch (-want +got):\n%s", diff)
	}
}

func testLedgerHashes(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	const n = 1000
	mustAppendLedger(t, s, 0, n)
	count := store.StoredHashCount(n)
	all := make([]int64, count)
	for i := range all {
		all[i] = int64(i)
	}
	for name, indexes := range map[string][]int64{
		"one":            {7},
		"scattered":      {1, 17, 300, 1500, count - 1},
		"unsorted":       {1500, 3, 999, 2},
		"repeated":       {5, 5, 9, 5},
		"contiguous":     all[100:400],
		"all":            all,
		"dense reversed": reversed(all[:600]),
	} {
		got, err := s.LedgerHashes(ctx, indexes)
		if err != nil {
			t.Errorf("LedgerHashes(%s): %v", name, err)
			continue
		}
		want := make([][32]byte, len(indexes))
		for i, x := range indexes {
			want[i] = hashOf(x)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("LedgerHashes(%s) mismatch (-want +got):\n%s", name, diff)
		}
	}
	for name, indexes := range map[string][]int64{
		"one beyond":         {count},
		"far beyond":         {3, 1 << 40},
		"contiguous, beyond": all[count-10:],
	} {
		if name == "contiguous, beyond" {
			indexes = append(slices.Clone(indexes), count)
		}
		_, err := s.LedgerHashes(ctx, indexes)
		wantNotFound(t, "LedgerHashes("+name+")", err)
	}
	_, err := s.LedgerHashes(ctx, []int64{3, -1})
	wantKind(t, "LedgerHashes with a negative index", err, gantry.EInvalid)
}

func reversed(s []int64) []int64 {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func checkpointNote(size int64, what string) []byte {
	return fmt.Appendf(nil, "example.com/log\n%d\n%s\n\n— example.com/log sig\n", size, what)
}

func testLedgerCheckpoints(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustAppendLedger(t, s, 0, 10)
	c5 := &gantry.LedgerCheckpoint{Size: 5, Note: checkpointNote(5, "a"), CreatedAt: t0}
	c2 := &gantry.LedgerCheckpoint{Size: 2, Note: checkpointNote(2, "b"), CreatedAt: t0.Add(time.Second)}
	c0 := &gantry.LedgerCheckpoint{Size: 0, Note: checkpointNote(0, "c")} // an empty tree, no time
	for _, c := range []*gantry.LedgerCheckpoint{c5, c2, c0} {
		if err := s.PutCheckpoint(ctx, c); err != nil {
			t.Fatalf("PutCheckpoint(%d): %v", c.Size, err)
		}
	}
	// The same note again is nothing new.
	if err := s.PutCheckpoint(ctx, &gantry.LedgerCheckpoint{Size: 5, Note: checkpointNote(5, "a"), CreatedAt: t0.Add(time.Hour)}); err != nil {
		t.Errorf("PutCheckpoint of the same note again: %v", err)
	}
	err := s.PutCheckpoint(ctx, &gantry.LedgerCheckpoint{Size: 5, Note: checkpointNote(5, "other"), CreatedAt: t0})
	wantKind(t, "PutCheckpoint of another note of size 5", err, gantry.EConflict)
	err = s.PutCheckpoint(ctx, &gantry.LedgerCheckpoint{Size: 11, Note: checkpointNote(11, "a"), CreatedAt: t0})
	wantKind(t, "PutCheckpoint of size 11 in a log of 10", err, gantry.EConflict)

	got, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*gantry.LedgerCheckpoint{c0, c2, c5}, got, cmpOpts...); diff != "" {
		t.Errorf("Checkpoints mismatch (-want +got):\n%s", diff)
	}
	latest, err := s.LatestCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c5, latest, cmpOpts...); diff != "" {
		t.Errorf("LatestCheckpoint mismatch (-want +got):\n%s", diff)
	}
	// The store keeps a copy of the note.
	c5.Note[0] = 'X'
	latest, _ = s.LatestCheckpoint(ctx)
	if latest.Note[0] == 'X' {
		t.Error("the store kept the caller's note")
	}
}

func testLedgerCheckpointInvalid(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustAppendLedger(t, s, 0, 4)
	for name, c := range map[string]*gantry.LedgerCheckpoint{
		"nil":            nil,
		"negative size":  {Size: -1, Note: checkpointNote(-1, "a"), CreatedAt: t0},
		"empty note":     {Size: 2, CreatedAt: t0},
		"long note":      {Size: 2, Note: []byte(strings.Repeat("x", store.MaxLedgerEntry+1)), CreatedAt: t0},
		"time too early": {Size: 2, Note: checkpointNote(2, "a"), CreatedAt: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		wantKind(t, "PutCheckpoint with "+name, s.PutCheckpoint(ctx, c), gantry.EInvalid)
	}
	if cs, err := s.Checkpoints(ctx); err != nil || len(cs) != 0 {
		t.Errorf("Checkpoints = %v, %v; want none", cs, err)
	}
}

// proofOf returns a made-up proof of entry n in a tree of t entries, with
// as many hashes as the real one has.
func proofOf(n, t int64, salt string) gantry.LedgerProof {
	p := gantry.LedgerProof{Index: n, TreeSize: t, Hashes: make([][32]byte, store.InclusionProofLen(n, t))}
	for i := range p.Hashes {
		p.Hashes[i] = sha256.Sum256(fmt.Appendf(nil, "%s %d %d %d", salt, n, t, i))
	}
	return p
}

func testLedgerProofs(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustAppendLedger(t, s, 0, 20)
	// A proof in a tree of one entry has no hashes.
	if err := s.PutLedgerProofs(ctx, []gantry.LedgerProof{proofOf(0, 1, "a")}); err != nil {
		t.Fatal(err)
	}
	// Out of order.
	first := []gantry.LedgerProof{proofOf(3, 8, "a"), proofOf(1, 8, "a"), proofOf(7, 8, "a")}
	if err := s.PutLedgerProofs(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLedgerProofs(ctx, nil); err != nil {
		t.Errorf("PutLedgerProofs(none): %v", err)
	}
	// Replaced by a proof in a larger tree.
	if err := s.PutLedgerProofs(ctx, []gantry.LedgerProof{proofOf(3, 20, "b"), proofOf(19, 20, "b")}); err != nil {
		t.Fatal(err)
	}
	want := []gantry.LedgerProof{proofOf(0, 1, "a"), proofOf(1, 8, "a"), proofOf(3, 20, "b"), proofOf(7, 8, "a"), proofOf(19, 20, "b")}
	got, err := s.LedgerProofs(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("LedgerProofs(0, 100) mismatch (-want +got):\n%s", diff)
	}
	got, err = s.LedgerProofs(ctx, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[2:4], got, cmpOpts...); diff != "" {
		t.Errorf("LedgerProofs(2, 8) mismatch (-want +got):\n%s", diff)
	}
	for _, w := range want {
		p, err := s.LedgerProof(ctx, w.Index)
		if err != nil {
			t.Errorf("LedgerProof(%d): %v", w.Index, err)
			continue
		}
		if diff := cmp.Diff(&w, p, cmpOpts...); diff != "" {
			t.Errorf("LedgerProof(%d) mismatch (-want +got):\n%s", w.Index, diff)
		}
	}
	_, err = s.LedgerProof(ctx, 2)
	wantNotFound(t, "LedgerProof(2)", err)
	_, err = s.LedgerProof(ctx, 1000)
	wantNotFound(t, "LedgerProof(1000)", err)
}

func testLedgerProofsInvalid(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustAppendLedger(t, s, 0, 10)
	good := proofOf(2, 10, "a")
	short := proofOf(2, 10, "a")
	short.Hashes = short.Hashes[1:]
	long := proofOf(2, 10, "a")
	long.Hashes = append(long.Hashes, long.Hashes[0])
	for name, p := range map[string]gantry.LedgerProof{
		"negative index":       {Index: -1, TreeSize: 4, Hashes: make([][32]byte, 2)},
		"tree without entry":   proofOf(4, 4, "a"),
		"tree smaller":         {Index: 4, TreeSize: 2, Hashes: make([][32]byte, 1)},
		"a hash too few":       short,
		"a hash too many":      long,
		"hashes in tree of 1":  {Index: 0, TreeSize: 1, Hashes: make([][32]byte, 1)},
		"no hashes in tree 10": {Index: 3, TreeSize: 10},
	} {
		// The good proof beside it is not stored either.
		err := s.PutLedgerProofs(ctx, []gantry.LedgerProof{good, p})
		wantKind(t, "PutLedgerProofs with "+name, err, gantry.EInvalid)
	}
	err := s.PutLedgerProofs(ctx, []gantry.LedgerProof{good, proofOf(10, 11, "a")})
	wantNotFound(t, "PutLedgerProofs of entry 10 in a log of 10", err)
	err = s.PutLedgerProofs(ctx, []gantry.LedgerProof{good, proofOf(3, 11, "a")})
	wantKind(t, "PutLedgerProofs in a tree of 11 in a log of 10", err, gantry.EConflict)
	if ps, err := s.LedgerProofs(ctx, 0, 100); err != nil || len(ps) != 0 {
		t.Errorf("LedgerProofs = %v, %v; want none", ps, err)
	}
	_, err = s.LedgerProof(ctx, -1)
	wantKind(t, "LedgerProof(-1)", err, gantry.EInvalid)
}

func testLedgerContext(t *testing.T, s gantry.Store) {
	mustAppendLedger(t, s, 0, 2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	entries, hashes := ledgerBatch(2, 2)
	_, errSize := s.LedgerSize(ctx)
	_, errEntries := s.LedgerEntries(ctx, 0, 2)
	_, errHashes := s.LedgerHashRange(ctx, 0, 2)
	for what, err := range map[string]error{
		"AppendLedger":    s.AppendLedger(ctx, 2, entries, hashes),
		"PutCheckpoint":   s.PutCheckpoint(ctx, &gantry.LedgerCheckpoint{Size: 2, Note: checkpointNote(2, "a")}),
		"PutLedgerProofs": s.PutLedgerProofs(ctx, []gantry.LedgerProof{proofOf(0, 2, "a")}),
		"LedgerSize":      errSize,
		"LedgerEntries":   errEntries,
		"LedgerHashRange": errHashes,
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", what, err)
		}
	}
	wantLedgerSize(t, s, 2)
	if cs, err := s.Checkpoints(t.Context()); err != nil || len(cs) != 0 {
		t.Errorf("Checkpoints = %v, %v; want none", cs, err)
	}
}

func testLedgerClosed(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustAppendLedger(t, s, 0, 2)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	entries, hashes := ledgerBatch(2, 2)
	_, errSize := s.LedgerSize(ctx)
	_, errEntries := s.LedgerEntries(ctx, 0, 2)
	_, errHashes := s.LedgerHashes(ctx, []int64{0})
	_, errRange := s.LedgerHashRange(ctx, 0, 2)
	_, errCheckpoints := s.Checkpoints(ctx)
	_, errLatest := s.LatestCheckpoint(ctx)
	_, errProof := s.LedgerProof(ctx, 0)
	_, errProofs := s.LedgerProofs(ctx, 0, 2)
	for what, err := range map[string]error{
		"AppendLedger":     s.AppendLedger(ctx, 2, entries, hashes),
		"LedgerSize":       errSize,
		"LedgerEntries":    errEntries,
		"LedgerHashes":     errHashes,
		"LedgerHashRange":  errRange,
		"PutCheckpoint":    s.PutCheckpoint(ctx, &gantry.LedgerCheckpoint{Size: 2, Note: checkpointNote(2, "a")}),
		"Checkpoints":      errCheckpoints,
		"LatestCheckpoint": errLatest,
		"PutLedgerProofs":  s.PutLedgerProofs(ctx, []gantry.LedgerProof{proofOf(0, 2, "a")}),
		"LedgerProof":      errProof,
		"LedgerProofs":     errProofs,
	} {
		if err == nil {
			t.Errorf("%s on a closed store: no error", what)
		}
	}
}
