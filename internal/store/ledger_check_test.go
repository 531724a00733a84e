package store

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// memHashes is a tlog.HashReader of made-up hashes: the counts and
// lengths are what matters here.
type memHashes struct{}

func (memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return make([]tlog.Hash, len(indexes)), nil
}

func TestStoredHashCount(t *testing.T) {
	for n := range int64(2000) {
		if got, want := StoredHashCount(n), tlog.StoredHashCount(n); got != want {
			t.Fatalf("StoredHashCount(%d) = %d, want %d", n, got, want)
		}
	}
	for _, n := range []int64{1 << 30, 1<<40 + 7, 1<<50 - 1} {
		if got, want := StoredHashCount(n), tlog.StoredHashCount(n); got != want {
			t.Errorf("StoredHashCount(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestInclusionProofLen(t *testing.T) {
	for size := int64(1); size < 300; size++ {
		for i := range size {
			p, err := tlog.ProveRecord(size, i, memHashes{})
			if err != nil {
				t.Fatal(err)
			}
			if got := InclusionProofLen(i, size); got != len(p) {
				t.Fatalf("InclusionProofLen(%d, %d) = %d, want %d", i, size, got, len(p))
			}
		}
	}
}
