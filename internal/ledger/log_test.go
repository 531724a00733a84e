package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// storedTree reads the whole stored tree, checking that it is what tlog
// computes from the stored entries.
func storedTree(t *testing.T, st gantry.LedgerStore) tlogTree {
	t.Helper()
	ctx := t.Context()
	n, err := st.LedgerSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := st.LedgerEntries(ctx, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	var ref tlogTree
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), e.Data, ref)
		if err != nil {
			t.Fatal(err)
		}
		ref = append(ref, hs...)
	}
	stored, err := st.LedgerHashRange(ctx, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(ref) {
		t.Fatalf("%d stored hashes, want %d", len(stored), len(ref))
	}
	for i, h := range stored {
		if h.Index != int64(i) || tlog.Hash(h.Hash) != ref[i] {
			t.Fatalf("stored hash %d (at %d) differs from tlog's", i, h.Index)
		}
	}
	return ref
}

func TestAppend(t *testing.T) {
	l, st, _ := newLog(t)
	ctx := t.Context()
	var want []int64
	for _, n := range []int{1, 2, 5, 1, 100, 300} {
		idx := mustAppend(t, l, leaves(int(l.Size()), n)...)
		for i := range n {
			want = append(want, int64(len(want)))
			if idx[i] != want[len(want)-1] {
				t.Fatalf("Append returned %v", idx)
			}
		}
	}
	if l.Size() != int64(len(want)) {
		t.Errorf("Size = %d, want %d", l.Size(), len(want))
	}
	storedTree(t, st)
	entries, err := st.LedgerEntries(ctx, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		got, err := ParseLeaf(e.Data)
		if err != nil || got != leaf(i) {
			t.Errorf("entry %d is %v, %v; want %v", i, got, err, leaf(i))
		}
		if e.CreatedAt.IsZero() {
			t.Errorf("entry %d has no time", i)
		}
	}
	if idx, err := l.Append(ctx); err != nil || len(idx) != 0 {
		t.Errorf("Append() = %v, %v; want nothing", idx, err)
	}
	_, err = l.Append(ctx, leaf(1), Leaf{Kind: "Bad", Digest: leaf(1).Digest})
	if gantry.ErrorKind(err) != gantry.EInvalid || !errors.Is(err, ErrMalformedLeaf) {
		t.Errorf("Append of a malformed leaf: %v, want EInvalid", err)
	}
	if l.Size() != int64(len(want)) {
		t.Errorf("a failed Append changed the size to %d", l.Size())
	}
}

func TestAppendConcurrent(t *testing.T) {
	l, st, _ := newLog(t)
	const (
		writers = 40
		each    = 25
	)
	got := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				n := 1 + (w+i)%3
				idx, err := l.Append(context.Background(), leaves(1000*w+10*i, n)...)
				if err != nil {
					t.Error(err)
					return
				}
				for j := 1; j < len(idx); j++ {
					if idx[j] != idx[j-1]+1 {
						t.Errorf("the leaves of one Append got indexes %v", idx)
					}
				}
				got[w] = append(got[w], idx...)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(got...)
	slices.Sort(all)
	for i, x := range all {
		if x != int64(i) {
			t.Fatalf("indexes are not 0 to %d: %d at %d", len(all)-1, x, i)
		}
	}
	storedTree(t, st)
	mustCheckpoint(t, l)
	mustVerify(t, st)
}

// TestAppendTwoProcesses appends through two Logs on one database file,
// as two gantry processes do: each finds the other's entries on conflict.
func TestAppendTwoProcesses(t *testing.T) {
	a, st, path := newLog(t)
	st2 := openStore(t, path)
	b, err := Open(t.Context(), st2, testKey.signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w, l := range []*Log{a, b} {
		wg.Go(func() {
			for i := range 50 {
				if _, err := l.Append(context.Background(), leaves(1000*w+10*i, 1+i%4)...); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 9 {
					if _, err := l.Checkpoint(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	ref := storedTree(t, st)
	mustCheckpoint(t, a)
	c := mustCheckpoint(t, b) // b may know fewer entries: it catches up
	n, _ := st.LedgerSize(t.Context())
	if root, _ := tlog.TreeHash(n, ref); c.Size != n || c.Hash != root {
		t.Errorf("latest checkpoint is %d %v, want %d %v", c.Size, c.Hash, n, root)
	}
	res := mustVerify(t, st)
	if res.Entries != n || res.Proofs != n {
		t.Errorf("Verify: %+v, want %d entries and proofs", res, n)
	}
}

func TestAppendCancelled(t *testing.T) {
	l, _, _ := newLog(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Either the call took the writer and appended, or it stopped: it
	// never returns an error for leaves it appended.
	idx, err := l.Append(ctx, leaf(1))
	switch {
	case err == nil && len(idx) == 1 && l.Size() == 1:
	case errors.Is(err, context.Canceled) && l.Size() == 0:
	default:
		t.Errorf("Append with a cancelled context = %v, %v; size %d", idx, err, l.Size())
	}
}

func TestCheckpoint(t *testing.T) {
	l, st, _ := newLog(t)
	ctx := t.Context()
	// An empty log's checkpoint is of the empty tree.
	c0 := mustCheckpoint(t, l)
	if c0.Size != 0 || c0.Hash != emptyHash || c0.Origin != testOrigin {
		t.Errorf("checkpoint of the empty log = %v", c0.Checkpoint)
	}
	var cps []*SignedCheckpoint
	for _, n := range []int{1, 6, 9, 1, 300} {
		mustAppend(t, l, leaves(int(l.Size()), n)...)
		c := mustCheckpoint(t, l)
		opened, err := OpenCheckpoint(c.Note, testKey.verifier)
		if err != nil || opened != c.Checkpoint {
			t.Fatalf("OpenCheckpoint = %v, %v; want %v", opened, err, c.Checkpoint)
		}
		cps = append(cps, c)
	}
	// No growth, no new checkpoint.
	again := mustCheckpoint(t, l)
	if diff := cmp.Diff(cps[len(cps)-1], again); diff != "" {
		t.Errorf("Checkpoint without appends made another one (-want +got):\n%s", diff)
	}
	stored, err := st.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(cps)+1 {
		t.Errorf("%d stored checkpoints, want %d", len(stored), len(cps)+1)
	}
	ref := storedTree(t, st)
	// Every entry has its proof, in the first checkpoint that holds it.
	prev := int64(0)
	for _, c := range cps {
		if root, _ := tlog.TreeHash(c.Size, ref); root != c.Hash {
			t.Errorf("checkpoint %d: root %v, want %v", c.Size, c.Hash, root)
		}
		for i := prev; i < c.Size; i++ {
			p, err := st.LedgerProof(ctx, i)
			if err != nil {
				t.Fatalf("proof of %d: %v", i, err)
			}
			want, _ := tlog.ProveRecord(c.Size, i, ref)
			if p.TreeSize != c.Size || fmt.Sprint(p.Hashes) != fmt.Sprint(hashesOf(want)) {
				t.Fatalf("proof of %d is in %d, want the one in %d", i, p.TreeSize, c.Size)
			}
		}
		prev = c.Size
	}
}

// TestCheckpointResumes: proofs stored without their checkpoint (the
// process stopped in between) are made again by the next Checkpoint.
func TestCheckpointResumes(t *testing.T) {
	l, st, _ := newLog(t)
	ctx := t.Context()
	mustAppend(t, l, leaves(0, 10)...)
	mustCheckpoint(t, l)
	mustAppend(t, l, leaves(10, 10)...)
	if err := l.storeProofs(ctx, 10, 15); err != nil { // as if stopped
		t.Fatal(err)
	}
	mustAppend(t, l, leaves(20, 10)...)
	c := mustCheckpoint(t, l)
	if c.Size != 30 {
		t.Fatalf("checkpoint of size %d, want 30", c.Size)
	}
	for _, i := range []int64{10, 14, 29} {
		if p, err := st.LedgerProof(ctx, i); err != nil || p.TreeSize != 30 {
			t.Errorf("proof of %d: %v, %v; want one in 30", i, p, err)
		}
	}
	mustVerify(t, st)
}

func TestProveInclusion(t *testing.T) {
	l, st, _ := newLog(t)
	ctx := t.Context()
	mustAppend(t, l, leaves(0, 13)...)
	c13 := mustCheckpoint(t, l)
	mustAppend(t, l, leaves(13, 30)...)
	c43 := mustCheckpoint(t, l)
	mustAppend(t, l, leaves(43, 2)...) // in no checkpoint
	for _, tc := range []struct {
		index, size int64
		want        *SignedCheckpoint
	}{
		{0, 0, c43}, {12, 0, c43}, {42, 0, c43}, // computed
		{5, 13, c13}, {20, 43, c43}, // stored
		{12, 13, c13}, {0, 43, c43},
	} {
		in, err := ProveInclusion(ctx, st, tc.index, tc.size)
		if err != nil {
			t.Fatalf("ProveInclusion(%d, %d): %v", tc.index, tc.size, err)
		}
		got, err := in.Check(testKey.verifier)
		if err != nil {
			t.Fatalf("Check of entry %d in %d: %v", tc.index, tc.size, err)
		}
		if got != tc.want.Checkpoint || in.Index != tc.index {
			t.Errorf("ProveInclusion(%d, %d) is in %v, want %v", tc.index, tc.size, got, tc.want.Checkpoint)
		}
		if l, err := ParseLeaf(in.Entry); err != nil || l != leaf(int(tc.index)) {
			t.Errorf("ProveInclusion(%d, %d) entry is %v, %v", tc.index, tc.size, l, err)
		}
		// Offline, each part matters.
		for name, alter := range map[string]func(in *Inclusion){
			"entry": func(in *Inclusion) { in.Entry = append([]byte(nil), in.Entry...); in.Entry[20] ^= 1 },
			"index": func(in *Inclusion) { in.Index ^= 1 },
			"proof": func(in *Inclusion) { in.Proof = slices.Clone(in.Proof); in.Proof[0][0] ^= 1 },
		} {
			bad := *in
			alter(&bad)
			if _, err := bad.Check(testKey.verifier); !errors.Is(err, ErrNotIncluded) {
				t.Errorf("Check of entry %d in %d with its %s altered: %v, want ErrNotIncluded", tc.index, tc.size, name, err)
			}
		}
	}
	for _, tc := range []struct {
		index, size int64
		kind        string
	}{
		{43, 0, gantry.ENotFound},  // not in a checkpoint yet
		{13, 13, gantry.ENotFound}, // not in that one
		{1, 14, gantry.ENotFound},  // no such checkpoint
		{-1, 0, gantry.EInvalid},
	} {
		_, err := ProveInclusion(ctx, st, tc.index, tc.size)
		if gantry.ErrorKind(err) != tc.kind {
			t.Errorf("ProveInclusion(%d, %d) = %v, want %s", tc.index, tc.size, err, tc.kind)
		}
	}
}

func TestProveConsistency(t *testing.T) {
	l, st, _ := newLog(t)
	ctx := t.Context()
	c0 := mustCheckpoint(t, l)
	var sizes []int64
	for _, n := range []int{1, 1, 5, 64, 3} {
		mustAppend(t, l, leaves(int(l.Size()), n)...)
		sizes = append(sizes, mustCheckpoint(t, l).Size)
	}
	sizes = append(sizes, c0.Size)
	for _, older := range sizes {
		for _, newer := range sizes {
			if older > newer {
				continue
			}
			cs, err := ProveConsistency(ctx, st, older, newer)
			if err != nil {
				t.Fatalf("ProveConsistency(%d, %d): %v", older, newer, err)
			}
			o, n, err := cs.Check(testKey.verifier)
			if err != nil || o.Size != older || n.Size != newer {
				t.Fatalf("Check of %d in %d: %v, %v, %v", older, newer, o, n, err)
			}
			if len(cs.Proof) > 0 {
				bad := *cs
				bad.Proof = slices.Clone(cs.Proof)
				bad.Proof[len(bad.Proof)-1][3] ^= 1
				if _, _, err := bad.Check(testKey.verifier); !errors.Is(err, ErrInconsistent) {
					t.Errorf("Check of an altered proof of %d in %d: %v, want ErrInconsistent", older, newer, err)
				}
			}
		}
	}
	if _, err := ProveConsistency(ctx, st, 2, 1); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("ProveConsistency(2, 1): %v, want EInvalid", err)
	}
	if _, err := ProveConsistency(ctx, st, 1, 4); gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("ProveConsistency(1, 4): %v, want ENotFound", err)
	}
}

func TestVerifyProgress(t *testing.T) {
	l, st, _ := newLog(t)
	mustAppend(t, l, leaves(0, progressEvery+10)...)
	mustCheckpoint(t, l)
	var calls [][2]int64
	res, err := Verify(t.Context(), st, testKey.verifier, &VerifyOptions{Progress: func(done, total int64) {
		calls = append(calls, [2]int64{done, total})
	}})
	if err != nil {
		t.Fatal(err)
	}
	n := int64(progressEvery + 10)
	if res.Entries != n || res.Proofs != n || res.Checkpoints != 1 || res.Latest.Size != n {
		t.Errorf("Verify = %+v", res)
	}
	want := [][2]int64{{progressEvery, n}, {n, n}}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if store.StoredHashCount(n) != storedIndex(0, n) {
		t.Error("store.StoredHashCount and storedIndex disagree")
	}
}

func TestVerifyEmpty(t *testing.T) {
	_, st, _ := newLog(t)
	res := mustVerify(t, st)
	if res.Entries != 0 || res.Latest != nil {
		t.Errorf("Verify of an empty log = %+v", res)
	}
}

// TestCheckpointRefusesFork: a Log does not sign a tree that does not
// extend its latest checkpoint, whatever the stored hashes say.
func TestCheckpointRefusesFork(t *testing.T) {
	e := newTamperEnv(t)
	// The stored hash of entries 0 to 15, on the right edge the next
	// Log reads, altered.
	e.exec(t, `UPDATE ledger_hashes SET hash = ? WHERE idx = ?`, make([]byte, 32), storedIndex(4, 0))
	st := openStore(t, e.path)
	l, err := Open(t.Context(), st, testKey.signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, leaves(20, 3)...)
	_, err = l.Checkpoint(t.Context())
	if gantry.ErrorKind(err) != gantry.EConflict || !strings.Contains(err.Error(), "not consistent with checkpoint 16") {
		t.Errorf("Checkpoint over altered hashes: %v, want a refusal", err)
	}
}

// TestVerifyWhileAppending: entries, proofs and checkpoints that a writer
// adds while Verify runs are not inconsistencies.
func TestVerifyWhileAppending(t *testing.T) {
	l, st, _ := newLog(t)
	mustAppend(t, l, leaves(0, 3000)...)
	mustCheckpoint(t, l)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := l.Append(context.Background(), leaves(10000+i*7, 7)...); err != nil {
				t.Error(err)
				return
			}
			if i%5 == 0 {
				if _, err := l.Checkpoint(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	for range 10 {
		mustVerify(t, st)
	}
	close(stop)
	wg.Wait()
	mustCheckpoint(t, l)
	mustVerify(t, st)
}
