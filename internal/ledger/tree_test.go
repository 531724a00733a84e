package ledger

import (
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestStoredIndex(t *testing.T) {
	for level := range 20 {
		for n := range int64(300) {
			if got, want := storedIndex(level, n), tlog.StoredHashIndex(level, n); got != want {
				t.Fatalf("storedIndex(%d, %d) = %d, want %d", level, n, got, want)
			}
		}
	}
	for _, n := range []int64{1 << 20, 1<<40 + 12345, 1<<55 - 1} {
		if got, want := storedIndex(3, n), tlog.StoredHashIndex(3, n); got != want {
			t.Errorf("storedIndex(3, %d) = %d, want %d", n, got, want)
		}
	}
}

// tlogTree is a tree built the way tlog's documentation says, as a
// reference for edge and memTree.
type tlogTree []tlog.Hash

func (t tlogTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(t)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = t[x]
	}
	return out, nil
}

func TestTreeMatchesTlog(t *testing.T) {
	const n = 300
	var (
		ref tlogTree
		e   edge
		mem memTree
	)
	for i := range int64(n) {
		d := fmt.Appendf(nil, "entry %d", i)
		hs, err := tlog.StoredHashes(i, d, ref)
		if err != nil {
			t.Fatal(err)
		}
		ref = append(ref, hs...)
		got := e.push(tlog.RecordHash(d), nil)
		if fmt.Sprint(got) != fmt.Sprint(hs) {
			t.Fatalf("entry %d: edge.push stored %v, want %v", i, got, hs)
		}
		mem.push(tlog.RecordHash(d))
		root, err := tlog.TreeHash(i+1, ref)
		if err != nil {
			t.Fatal(err)
		}
		if e.root() != root {
			t.Fatalf("root of %d entries = %v, want %v", i+1, e.root(), root)
		}
		// The edge read back from the stored hashes is the same.
		_, indexes := edgeIndexes(i + 1)
		hashes, err := ref.ReadHashes(indexes)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := newEdge(i+1, hashes)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.root() != root {
			t.Fatalf("loaded edge of %d entries: root %v, want %v", i+1, loaded.root(), root)
		}
	}
	if fmt.Sprint(mem.hashes) != fmt.Sprint([]tlog.Hash(ref)) {
		t.Fatal("memTree's hashes differ from tlog's")
	}
	for size := int64(0); size <= n; size++ {
		root, _ := tlog.TreeHash(size, ref)
		if got := mem.rootAt(size); got != root {
			t.Fatalf("rootAt(%d) = %v, want %v", size, got, root)
		}
		for i := range size {
			p, err := tlog.ProveRecord(size, i, ref)
			if err != nil {
				t.Fatal(err)
			}
			if j := mem.proofMismatch(i, size, hashesOf(p)); j != -1 {
				t.Fatalf("proof of %d in %d: mismatch at %d", i, size, j)
			}
			if len(p) > 0 {
				bad := hashesOf(p)
				bad[len(bad)-1][0] ^= 1
				if j := mem.proofMismatch(i, size, bad); j != len(p)-1 {
					t.Fatalf("altered proof of %d in %d: mismatch at %d, want %d", i, size, j, len(p)-1)
				}
				if j := mem.proofMismatch(i, size, hashesOf(p)[1:]); j == -1 {
					t.Fatalf("short proof of %d in %d matches", i, size)
				}
			}
			if j := mem.proofMismatch(i, size, append(hashesOf(p), [32]byte{})); j != len(p) {
				t.Fatalf("long proof of %d in %d: mismatch at %d, want %d", i, size, j, len(p))
			}
		}
	}
}
