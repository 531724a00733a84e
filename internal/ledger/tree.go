package ledger

import (
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// storedIndex is tlog.StoredHashIndex in closed form, which Verify calls
// some forty million times: the hash of the perfect subtree at level l,
// number n, is stored right after the leaf hash of its last entry m and
// the l hashes that entry completes below it, and the leaf hash of entry
// m is at m + m/2 + m/4 + … = 2m - popcount(m).
func storedIndex(level int, n int64) int64 {
	m := (n+1)<<level - 1
	return 2*m - int64(bits.OnesCount64(uint64(m))) + int64(level)
}

// emptyHash is the root hash of the empty tree (RFC 6962: the hash of
// nothing).
var emptyHash, _ = tlog.TreeHash(0, nil)

// edge is the right edge of a tree: the root hashes of the perfect
// subtrees that its entries fill, one per bit set in size. It is all that
// appending to the tree and computing its root hash need.
type edge struct {
	size int64
	// roots[l] is the root of the subtree of 1<<l entries when bit l of
	// size is set.
	roots [63]tlog.Hash
}

// push appends the entry whose record hash is h and appends the stored
// hashes this completes, as tlog.StoredHashes computes them, to dst.
func (e *edge) push(h tlog.Hash, dst []tlog.Hash) []tlog.Hash {
	dst = append(dst, h)
	l := 0
	for ; e.size>>l&1 == 1; l++ {
		h = tlog.NodeHash(e.roots[l], h)
		dst = append(dst, h)
	}
	e.roots[l] = h
	e.size++
	return dst
}

// root returns the tree's root hash.
func (e *edge) root() tlog.Hash {
	if e.size == 0 {
		return emptyHash
	}
	l := bits.TrailingZeros64(uint64(e.size))
	h := e.roots[l]
	for l++; l < len(e.roots); l++ {
		if e.size>>l&1 == 1 {
			h = tlog.NodeHash(e.roots[l], h)
		}
	}
	return h
}

// edgeIndexes returns the stored-hash indexes of the roots of a tree of n
// entries' right edge, by level.
func edgeIndexes(n int64) (levels []int, indexes []int64) {
	for l := 0; n>>l > 0; l++ {
		if n>>l&1 == 1 {
			levels = append(levels, l)
			// The subtree of 1<<l entries that starts where the larger
			// ones end.
			indexes = append(indexes, storedIndex(l, n>>(l+1)<<1))
		}
	}
	return levels, indexes
}

// newEdge returns the edge of a tree of n entries, given the hashes at
// edgeIndexes(n).
func newEdge(n int64, hashes []tlog.Hash) (*edge, error) {
	levels, _ := edgeIndexes(n)
	if len(hashes) != len(levels) {
		return nil, fmt.Errorf("right edge of a tree of %d entries: %d hashes, want %d", n, len(hashes), len(levels))
	}
	e := &edge{size: n}
	for i, l := range levels {
		e.roots[l] = hashes[i]
	}
	return e, nil
}

// memTree is a whole tree in memory: its stored hashes, in stored-hash
// order. Verify recomputes one from the entries; 1,000,000 entries take
// 64 MB.
type memTree struct {
	edge
	hashes []tlog.Hash
	// right caches the hashes of the incomplete subtrees [lo, rightOf) on
	// the right edge of the tree of rightOf entries, by lo: the proofs in
	// one tree share them.
	right   map[int64]tlog.Hash
	rightOf int64
}

func (t *memTree) push(h tlog.Hash) { t.hashes = t.edge.push(h, t.hashes) }

// ReadHashes makes t a tlog.HashReader.
func (t *memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("hash %d is not in the tree of %d entries", x, t.size)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

// rootAt returns the root hash of the tree of its first n entries.
func (t *memTree) rootAt(n int64) tlog.Hash {
	if n == 0 {
		return emptyHash
	}
	return t.subtree(0, n, n)
}

// subtree returns the hash of the subtree of entries [lo, hi) in the tree
// of n entries: a stored hash when it is perfect, else (on the right edge)
// one computed from them.
func (t *memTree) subtree(lo, hi, n int64) tlog.Hash {
	w := hi - lo
	if w&(w-1) == 0 {
		l := bits.TrailingZeros64(uint64(w))
		return t.hashes[storedIndex(l, lo>>l)]
	}
	if t.rightOf != n || t.right == nil {
		t.right, t.rightOf = map[int64]tlog.Hash{}, n
	}
	if h, ok := t.right[lo]; ok {
		return h
	}
	k := int64(1) << (bits.Len64(uint64(w-1)) - 1)
	h := tlog.NodeHash(t.subtree(lo, lo+k, n), t.subtree(lo+k, hi, n))
	t.right[lo] = h
	return h
}

// proofMismatch compares a stored inclusion proof of entry i in the tree
// of n entries with the one t gives, without building it, and returns
// the position of the first hash that differs, len(proof) when the proof
// is too long, or -1 when they are equal.
func (t *memTree) proofMismatch(i, n int64, proof [][32]byte) int {
	// The path from the root down to the entry meets the proof's hashes
	// in reverse order.
	var path [64]tlog.Hash
	k := 0
	for lo, hi := int64(0), n; hi-lo > 1; k++ {
		split := int64(1) << (bits.Len64(uint64(hi-lo-1)) - 1)
		if i < lo+split {
			path[k] = t.subtree(lo+split, hi, n)
			hi = lo + split
		} else {
			path[k] = t.subtree(lo, lo+split, n)
			lo += split
		}
	}
	for j := range min(k, len(proof)) {
		if proof[j] != path[k-1-j] {
			return j
		}
	}
	if len(proof) != k {
		return min(k, len(proof))
	}
	return -1
}
