package ledger

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
)

// ErrNotIncluded is wrapped by the errors of a proof that does not hold.
var ErrNotIncluded = errors.New("proof does not hold")

// readHashes reads stored hashes. When they lie close together (a tile's,
// the hashes a batch of proofs needs), it asks for the whole range they
// span, which a store reads in one scan.
func readHashes(ctx context.Context, st gantry.LedgerStore, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	ask := indexes
	lo, hi := indexes[0], indexes[0]+1
	for _, x := range indexes {
		lo, hi = min(lo, x), max(hi, x+1)
	}
	dense := len(indexes) > 16 && hi-lo <= 2*int64(len(indexes))
	if dense {
		ask = make([]int64, hi-lo)
		for i := range ask {
			ask[i] = lo + int64(i)
		}
	}
	hs, err := st.LedgerHashes(ctx, ask)
	if err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if dense {
			out[i] = hs[x-lo]
		} else {
			out[i] = hs[i]
		}
	}
	return out, nil
}

// storeReader is a tlog.HashReader on a store.
type storeReader struct {
	ctx context.Context
	st  gantry.LedgerStore
}

func (r storeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(r.ctx, r.st, indexes)
}

// rangeReader is a tlog.HashReader for the proofs of entries [from, n) in
// the tree of n entries: it holds the stored hashes those entries added
// and asks the store for the rest (the subtrees left of from, the same
// few for every proof), once each.
type rangeReader struct {
	storeReader
	first  int64 // the index of span[0]
	span   []tlog.Hash
	cached map[int64]tlog.Hash
}

func newRangeReader(ctx context.Context, st gantry.LedgerStore, from, n int64) (*rangeReader, error) {
	r := &rangeReader{storeReader: storeReader{ctx, st}, first: storedIndex(0, from), cached: map[int64]tlog.Hash{}}
	end := storedIndex(0, n)
	for x := r.first; x < end; {
		to := min(end, x+1<<16)
		hs, err := st.LedgerHashRange(ctx, x, to)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if h.Index != r.first+int64(len(r.span)) {
				return nil, gantry.Errorf(gantry.ENotFound, "stored hash %d is missing", r.first+int64(len(r.span)))
			}
			r.span = append(r.span, h.Hash)
		}
		if int64(len(r.span)) != to-r.first {
			return nil, gantry.Errorf(gantry.ENotFound, "stored hash %d is missing", r.first+int64(len(r.span)))
		}
		x = to
	}
	return r, nil
}

func (r *rangeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, x := range indexes {
		if j := x - r.first; j >= 0 && j < int64(len(r.span)) {
			out[i] = r.span[j]
		} else if h, ok := r.cached[x]; ok {
			out[i] = h
		} else {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	hs, err := r.storeReader.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	for i, x := range missing {
		r.cached[x] = hs[i]
	}
	return r.ReadHashes(indexes)
}

// Inclusion is everything that proves offline that an entry is in the
// log: the entry, the signed checkpoint of a tree that holds it and the
// entry's inclusion proof in that tree. Its JSON form is what evidence
// bundles carry.
type Inclusion struct {
	Index      int64       `json:"index"`
	Entry      []byte      `json:"entry"`      // the entry's data: an encoded Leaf
	Checkpoint []byte      `json:"checkpoint"` // the signed note
	Proof      []tlog.Hash `json:"proof"`      // leaf to root
}

// Check verifies the checkpoint with v, the log's key, and the proof
// against it, and returns the checkpoint. It needs no store.
func (in *Inclusion) Check(v note.Verifier) (Checkpoint, error) {
	c, err := OpenCheckpoint(in.Checkpoint, v)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := CheckInclusion(c, in.Index, in.Entry, in.Proof); err != nil {
		return Checkpoint{}, err
	}
	return c, nil
}

// CheckInclusion checks that entry is entry index of the tree that c
// signs, by proof.
func CheckInclusion(c Checkpoint, index int64, entry []byte, proof []tlog.Hash) error {
	if index < 0 || index >= c.Size {
		return &gantry.Error{Kind: gantry.EConflict, Err: ErrNotIncluded,
			Message: fmt.Sprintf("entry %d is not in checkpoint %d: it holds entries 0 to %d", index, c.Size, c.Size-1)}
	}
	if err := tlog.CheckRecord(proof, c.Size, c.Hash, index, tlog.RecordHash(entry)); err != nil {
		return &gantry.Error{Kind: gantry.EConflict, Err: ErrNotIncluded,
			Message: fmt.Sprintf("entry %d does not match its inclusion proof in checkpoint %d: the entry, its index or the proof was altered", index, c.Size)}
	}
	return nil
}

// latestCheckpoint returns the latest stored checkpoint, without
// checking its signature (the prover's reader does).
func latestCheckpoint(ctx context.Context, st gantry.LedgerStore) (*SignedCheckpoint, error) {
	latest, err := st.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	return readCheckpoint(latest)
}

// checkpointOf returns the stored checkpoint of size n, without checking
// its signature.
func checkpointOf(ctx context.Context, st gantry.LedgerStore, n int64) (*SignedCheckpoint, error) {
	latest, err := st.LatestCheckpoint(ctx)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, gantry.Errorf(gantry.ENotFound, "no checkpoint of size %d", n)
	}
	if err != nil {
		return nil, err
	}
	if latest.Size == n {
		return readCheckpoint(latest)
	}
	all, err := st.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Size == n {
			return readCheckpoint(c)
		}
	}
	return nil, gantry.Errorf(gantry.ENotFound, "no checkpoint of size %d", n)
}

// ProveInclusion returns the proof that entry index is in the tree of the
// stored checkpoint of size n, or of the latest checkpoint when n is 0
// (no entry is in the empty tree).
// It uses the entry's stored proof when that is in the same tree, and
// computes it from the stored hashes otherwise.
func ProveInclusion(ctx context.Context, st gantry.LedgerStore, index, n int64) (*Inclusion, error) {
	in, err := proveInclusion(ctx, st, index, n)
	if err != nil {
		return nil, fmt.Errorf("prove ledger entry %d: %w", index, err)
	}
	return in, nil
}

func proveInclusion(ctx context.Context, st gantry.LedgerStore, index, n int64) (*Inclusion, error) {
	if index < 0 || n < 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "negative index or size")
	}
	var c *SignedCheckpoint
	var err error
	if n == 0 {
		c, err = latestCheckpoint(ctx, st)
	} else {
		c, err = checkpointOf(ctx, st, n)
	}
	if err != nil {
		return nil, err
	}
	if index >= c.Size {
		return nil, gantry.Errorf(gantry.ENotFound, "checkpoint %d does not hold entry %d: make a checkpoint", c.Size, index)
	}
	entries, err := st.LedgerEntries(ctx, index, index+1)
	if err != nil {
		return nil, err
	}
	if len(entries) != 1 {
		return nil, gantry.Errorf(gantry.ENotFound, "ledger entry %d is missing", index)
	}
	in := &Inclusion{Index: index, Entry: entries[0].Data, Checkpoint: c.Note}
	stored, err := st.LedgerProof(ctx, index)
	switch {
	case err == nil && stored.TreeSize == c.Size:
		in.Proof = make([]tlog.Hash, len(stored.Hashes))
		for i, h := range stored.Hashes {
			in.Proof[i] = h
		}
		return in, nil
	case err != nil && !errors.Is(err, gantry.ErrNotFound):
		return nil, err
	}
	if in.Proof, err = tlog.ProveRecord(c.Size, index, storeReader{ctx, st}); err != nil {
		return nil, err
	}
	return in, nil
}

// Consistency proves offline that a checkpoint's tree extends an older
// one's: the two signed checkpoints and the consistency proof.
type Consistency struct {
	Older []byte      `json:"older"` // signed notes
	Newer []byte      `json:"newer"`
	Proof []tlog.Hash `json:"proof"`
}

// Check verifies both checkpoints with v, the log's key, and the proof
// between them, and returns them. It needs no store.
func (cs *Consistency) Check(v note.Verifier) (older, newer Checkpoint, err error) {
	if older, err = openCheckpoint(cs.Older, v, "older checkpoint"); err != nil {
		return Checkpoint{}, Checkpoint{}, err
	}
	if newer, err = openCheckpoint(cs.Newer, v, "newer checkpoint"); err != nil {
		return Checkpoint{}, Checkpoint{}, err
	}
	if err := CheckConsistency(older, newer, cs.Proof); err != nil {
		return Checkpoint{}, Checkpoint{}, err
	}
	return older, newer, nil
}

// ErrInconsistent is wrapped by the errors that say two states of a log
// contradict each other: checkpoints that are not consistent, or stored
// data that does not match what was signed.
var ErrInconsistent = errors.New("inconsistent ledger")

// CheckConsistency checks by proof that newer's tree extends older's.
func CheckConsistency(older, newer Checkpoint, proof []tlog.Hash) error {
	if older.Origin != newer.Origin {
		return &gantry.Error{Kind: gantry.EConflict, Err: ErrInconsistent,
			Message: fmt.Sprintf("checkpoints of two logs, %q and %q", older.Origin, newer.Origin)}
	}
	if older.Size > newer.Size {
		return &gantry.Error{Kind: gantry.EConflict, Err: ErrInconsistent,
			Message: fmt.Sprintf("checkpoint %d is not older than checkpoint %d", older.Size, newer.Size)}
	}
	var err error
	if older.Size == 0 {
		if older.Hash != emptyHash || len(proof) != 0 {
			err = ErrInconsistent
		}
	} else {
		err = tlog.CheckTree(proof, newer.Size, newer.Hash, older.Size, older.Hash)
	}
	if err != nil {
		return &gantry.Error{Kind: gantry.EConflict, Err: ErrInconsistent,
			Message: fmt.Sprintf("checkpoint %d is not consistent with checkpoint %d: the log's history was rewritten, or it forked", newer.Size, older.Size)}
	}
	return nil
}

// ProveConsistency returns the proof that the tree of the stored
// checkpoint of size newer extends that of size older.
func ProveConsistency(ctx context.Context, st gantry.LedgerStore, older, newer int64) (*Consistency, error) {
	cs, err := proveConsistency(ctx, st, older, newer)
	if err != nil {
		return nil, fmt.Errorf("prove checkpoint %d consistent with checkpoint %d: %w", newer, older, err)
	}
	return cs, nil
}

func proveConsistency(ctx context.Context, st gantry.LedgerStore, older, newer int64) (*Consistency, error) {
	if older < 0 || newer < older {
		return nil, gantry.Errorf(gantry.EInvalid, "sizes %d and %d are not older and newer", older, newer)
	}
	o, err := checkpointOf(ctx, st, older)
	if err != nil {
		return nil, err
	}
	n, err := checkpointOf(ctx, st, newer)
	if err != nil {
		return nil, err
	}
	cs := &Consistency{Older: o.Note, Newer: n.Note}
	if older > 0 { // the empty tree is in every tree
		if cs.Proof, err = tlog.ProveTree(newer, older, storeReader{ctx, st}); err != nil {
			return nil, err
		}
	}
	return cs, nil
}
