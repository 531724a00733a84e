package gantry

import (
	"context"
	"time"
)

// LedgerEntry is one record of the transparency log.
type LedgerEntry struct {
	Index     int64     `json:"index"`
	Data      []byte    `json:"data"`
	CreatedAt time.Time `json:"created_at"`
}

// LedgerHash is one stored hash of the log's Merkle tree, at its stored-hash
// index (as golang.org/x/mod/sumdb/tlog numbers them).
type LedgerHash struct {
	Index int64    `json:"index"`
	Hash  [32]byte `json:"hash"`
}

// LedgerCheckpoint is a signed statement of the log's size and root hash:
// a C2SP tlog-checkpoint in a signed note.
type LedgerCheckpoint struct {
	Size      int64     `json:"size"`
	Note      []byte    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// LedgerProof is an entry's inclusion proof in the tree of a checkpoint's
// size.
type LedgerProof struct {
	Index    int64      `json:"index"`
	TreeSize int64      `json:"tree_size"`
	Hashes   [][32]byte `json:"hashes"`
}

// LedgerStore keeps the transparency log: entries, the tree's stored
// hashes, signed checkpoints and the entries' inclusion proofs. It keeps
// what it is given; internal/ledger computes and checks.
//
// The range reads skip what is missing instead of failing, so that a
// verifier sees the gaps that a deletion behind the store's back leaves.
type LedgerStore interface {
	// LedgerSize returns the number of entries: one more than the
	// highest index.
	LedgerSize(ctx context.Context) (int64, error)
	// AppendLedger appends entries at indexes at, at+1, … together with the
	// tree hashes they complete (stored-hash indexes from the first one of
	// entry at, without gaps), in one transaction. When the log does not
	// hold exactly at entries, it is an EConflict error and nothing is
	// stored: another writer appended first.
	AppendLedger(ctx context.Context, at int64, entries []LedgerEntry, hashes []LedgerHash) error
	// LedgerEntries returns the entries with indexes in [from, to), by
	// index.
	LedgerEntries(ctx context.Context, from, to int64) ([]LedgerEntry, error)
	// LedgerHashes returns the stored hashes at the given indexes, in
	// order; a missing one is ErrNotFound.
	LedgerHashes(ctx context.Context, indexes []int64) ([][32]byte, error)
	// LedgerHashRange returns the stored hashes with indexes in
	// [from, to), by index.
	LedgerHashRange(ctx context.Context, from, to int64) ([]LedgerHash, error)
	// PutCheckpoint records a checkpoint of a size the log has reached.
	// Putting the same note again does nothing; another note for a size
	// already recorded, or a size beyond the log, is an EConflict error.
	PutCheckpoint(ctx context.Context, c *LedgerCheckpoint) error
	// Checkpoints lists the checkpoints by size.
	Checkpoints(ctx context.Context) ([]*LedgerCheckpoint, error)
	// LatestCheckpoint returns the checkpoint of the largest size, or
	// ErrNotFound when there is none.
	LatestCheckpoint(ctx context.Context) (*LedgerCheckpoint, error)
	// PutLedgerProofs records inclusion proofs, replacing an entry's
	// earlier proof, all of them or none. A proof of an entry the log does
	// not hold is ErrNotFound; one in a tree larger than the log is an
	// EConflict error.
	PutLedgerProofs(ctx context.Context, proofs []LedgerProof) error
	// LedgerProof returns an entry's stored inclusion proof, or ErrNotFound.
	LedgerProof(ctx context.Context, index int64) (*LedgerProof, error)
	// LedgerProofs returns the stored proofs of the entries with indexes
	// in [from, to), by index.
	LedgerProofs(ctx context.Context, from, to int64) ([]LedgerProof, error)
}
