package ledger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// The chunks Verify reads: entries are small, proofs some 600 bytes.
const (
	entryChunk = 8192
	hashChunk  = 16384
	proofChunk = 4096
	// progressEvery is how many entries pass between two calls of
	// VerifyOptions.Progress.
	progressEvery = 1 << 16
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Progress, when set, is called from time to time with the number
	// of entries verified so far and the number in all.
	Progress func(done, total int64)
	// Trust, when set, remembers the log's latest checkpoint once the log
	// verifies, and refuses a log whose latest checkpoint is older than,
	// or not consistent with, the one remembered before.
	Trust *Trust
}

// VerifyResult says what Verify verified.
type VerifyResult struct {
	Entries     int64
	Checkpoints int
	Proofs      int64             // stored inclusion proofs compared with the tree
	Latest      *SignedCheckpoint // nil when the log has no checkpoint
}

// Verify checks the whole log kept in st against v, the log's public key.
// It recomputes the tree from the entries, trusting no stored hash, and
// checks:
//
//   - every stored checkpoint's signature and origin;
//   - that no entry is missing below the log's size or a checkpoint's;
//   - that each checkpoint's root hash is that of the recomputed tree at
//     its size (which makes the checkpoints consistent with each other);
//   - that the stored hashes are the recomputed ones, none missing and
//     none more;
//   - that every entry a checkpoint holds has a stored inclusion proof,
//     and that it is the recomputed tree's.
//
// Its error names the first of these that fails, by index, and what that
// means: "entry 41 is missing", "entry 7 does not match its inclusion
// proof in checkpoint 100: …". Those errors are *gantry.Error values of
// kind EConflict that wrap ErrInconsistent, or the errors of
// OpenCheckpoint for a checkpoint that does not verify, or with
// opts.Trust, ErrStale and ErrFork. Other errors are those of reading the
// store.
//
// The stored proofs are compared with the recomputed tree, not checked
// hash by hash; only when a checkpoint does not match the entries does
// Verify check them against the checkpoint's signed root, to find the
// entry that was altered.
//
// Verify reads the store as it is when it starts: entries and proofs a
// concurrent writer adds meanwhile are not verified, and not reported.
func Verify(ctx context.Context, st gantry.LedgerStore, v note.Verifier, opts *VerifyOptions) (*VerifyResult, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the readers
	vr := &verifier{ctx: ctx, st: st, v: v, opts: opts, bySize: map[int64]*SignedCheckpoint{}}
	res, err := vr.run()
	if err != nil {
		return nil, fmt.Errorf("verify ledger %s: %w", v.Name(), err)
	}
	return res, nil
}

// verifier is the state of one Verify.
type verifier struct {
	ctx  context.Context
	st   gantry.LedgerStore
	v    note.Verifier
	opts *VerifyOptions

	cps    []*SignedCheckpoint // by size
	bySize map[int64]*SignedCheckpoint
	total  int64 // the entries to verify
	tree   memTree

	entries *cursor[gantry.LedgerEntry]
	hashes  *cursor[gantry.LedgerHash]
	proofs  *cursor[gantry.LedgerProof]

	// mismatch is the first stored hash that is not the recomputed one,
	// until the checkpoint that holds it says whether the hash or the
	// entries were altered.
	mismatch *int64
	// proved is the number of entries whose proofs were checked: those
	// of the checkpoints so far.
	proved int64
	// later are proofs in trees larger than the recomputed one so far.
	later  []gantry.LedgerProof
	result VerifyResult
}

// inconsistent returns the error of an inconsistency.
func inconsistent(format string, args ...any) error {
	return &gantry.Error{Kind: gantry.EConflict, Message: fmt.Sprintf(format, args...), Err: ErrInconsistent}
}

func (vr *verifier) run() (*VerifyResult, error) {
	size, err := vr.st.LedgerSize(vr.ctx)
	if err != nil {
		return nil, err
	}
	if err := vr.readCheckpoints(); err != nil {
		return nil, err
	}
	vr.total = size
	if n := len(vr.cps); n > 0 {
		vr.total = max(size, vr.cps[n-1].Size)
	}
	vr.tree.hashes = make([]tlog.Hash, 0, storedIndex(0, vr.total))
	vr.entries = stream(vr.ctx, 0, vr.total, entryChunk, vr.st.LedgerEntries)
	vr.hashes = stream(vr.ctx, 0, storedIndex(0, vr.total), hashChunk, vr.st.LedgerHashRange)
	vr.proofs = stream(vr.ctx, 0, vr.total, proofChunk, vr.st.LedgerProofs)

	next := 0 // the next checkpoint
	for next < len(vr.cps) && vr.cps[next].Size == 0 {
		if err := vr.atCheckpoint(vr.cps[next]); err != nil {
			return nil, err
		}
		next++
	}
	for k := int64(0); k < vr.total; k++ {
		if err := vr.entry(k); err != nil {
			return nil, err
		}
		for next < len(vr.cps) && vr.cps[next].Size == k+1 {
			if err := vr.atCheckpoint(vr.cps[next]); err != nil {
				return nil, err
			}
			next++
		}
		if vr.opts.Progress != nil && (k+1)%progressEvery == 0 {
			vr.opts.Progress(k+1, vr.total)
		}
	}
	if vr.mismatch != nil {
		return nil, vr.hashAltered(*vr.mismatch, nil)
	}
	if err := vr.rest(); err != nil {
		return nil, err
	}
	if vr.opts.Progress != nil {
		vr.opts.Progress(vr.total, vr.total)
	}
	vr.result.Entries = vr.total
	vr.result.Checkpoints = len(vr.cps)
	if n := len(vr.cps); n > 0 {
		vr.result.Latest = vr.cps[n-1]
	}
	if vr.opts.Trust != nil {
		if err := vr.trust(); err != nil {
			return nil, err
		}
	}
	return &vr.result, nil
}

// readCheckpoints reads and verifies the stored checkpoints.
func (vr *verifier) readCheckpoints() error {
	stored, err := vr.st.Checkpoints(vr.ctx)
	if err != nil {
		return err
	}
	for _, s := range stored {
		c, err := openCheckpoint(s.Note, vr.v, fmt.Sprintf("checkpoint %d", s.Size))
		if err != nil {
			// A malformed note in the store is no caller's mistake:
			// like a bad signature, it was altered.
			var e *gantry.Error
			if errors.As(err, &e) {
				e.Kind = gantry.EConflict
			}
			return err
		}
		if c.Size != s.Size {
			return inconsistent("checkpoint %d is stored as a checkpoint of size %d: moved", c.Size, s.Size)
		}
		sc := &SignedCheckpoint{Checkpoint: c, Note: s.Note}
		vr.cps = append(vr.cps, sc)
		vr.bySize[c.Size] = sc
	}
	return nil
}

// entry adds entry k to the tree and compares the stored hashes it
// completes with the recomputed ones.
func (vr *verifier) entry(k int64) error {
	e, err := vr.entries.peek()
	if err != nil {
		return err
	}
	if e == nil || e.Index != k {
		return vr.first(inconsistent("entry %d is missing", k))
	}
	vr.entries.next()
	first := int64(len(vr.tree.hashes))
	vr.tree.push(tlog.RecordHash(e.Data))
	for x := first; x < int64(len(vr.tree.hashes)); x++ {
		h, err := vr.hashes.peek()
		if err != nil {
			return err
		}
		if h == nil || h.Index != x {
			return vr.first(inconsistent("stored hash %d (%s) is missing", x, hashName(x)))
		}
		vr.hashes.next()
		if h.Hash != vr.tree.hashes[x] && vr.mismatch == nil {
			vr.mismatch = &x
		}
	}
	return nil
}

// first returns the error of an earlier stored hash that did not match,
// if there is one, and else err.
func (vr *verifier) first(err error) error {
	if vr.mismatch != nil {
		return vr.hashAltered(*vr.mismatch, nil)
	}
	return err
}

// hashName says which entries a stored hash is of.
func hashName(x int64) string {
	level, n := tlog.SplitStoredHashIndex(x)
	if level == 0 {
		return fmt.Sprintf("the hash of entry %d", n)
	}
	return fmt.Sprintf("the hash of entries %d to %d", n<<level, (n+1)<<level-1)
}

// hashAltered returns the error of stored hash x, which does not match
// the tree recomputed from the entries. When checkpoint c, which holds
// the entries, matches the recomputed tree, the hash was altered;
// without such a checkpoint, it may be the hash or the entries.
func (vr *verifier) hashAltered(x int64, c *SignedCheckpoint) error {
	level, n := tlog.SplitStoredHashIndex(x)
	switch {
	case c != nil:
		return inconsistent("stored hash %d (%s) does not match the tree recomputed from the entries, which checkpoint %d confirms: the stored hash was altered",
			x, hashName(x), c.Size)
	case level == 0:
		return inconsistent("entry %d does not match its stored hash %d, and no checkpoint holds it yet: the entry or the hash was altered", n, x)
	default:
		return inconsistent("stored hash %d (%s) does not match the tree recomputed from the entries, and no checkpoint holds them yet: an entry or the hash was altered",
			x, hashName(x))
	}
}

// atCheckpoint checks checkpoint c when the recomputed tree has reached
// its size, and the proofs of the entries it adds.
func (vr *verifier) atCheckpoint(c *SignedCheckpoint) error {
	if vr.tree.root() != c.Hash {
		return vr.localize(c)
	}
	if vr.mismatch != nil {
		return vr.hashAltered(*vr.mismatch, c)
	}
	// The proofs of the entries c adds, and those left waiting for a
	// tree as large as c's.
	later := vr.later[:0]
	for _, p := range vr.later {
		if p.TreeSize > c.Size {
			later = append(later, p)
		} else if err := vr.checkProof(&p); err != nil {
			return err
		}
	}
	vr.later = later
	last := vr.cps[len(vr.cps)-1].Size
	for ; vr.proved < c.Size; vr.proved++ {
		p, err := vr.proofs.peek()
		if err != nil {
			return err
		}
		if p == nil || p.Index != vr.proved {
			return inconsistent("entry %d has no stored inclusion proof, although checkpoint %d holds it: the proof was deleted", vr.proved, c.Size)
		}
		vr.proofs.next()
		switch {
		case p.TreeSize > last:
			// Proved in a checkpoint made after Verify started.
		case p.TreeSize > c.Size:
			vr.later = append(vr.later, *p)
		default:
			if err := vr.checkProof(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkProof compares a stored proof with the recomputed tree, which is
// at least as large as the proof's.
func (vr *verifier) checkProof(p *gantry.LedgerProof) error {
	if _, ok := vr.bySize[p.TreeSize]; !ok || p.TreeSize <= p.Index {
		return inconsistent("entry %d has an inclusion proof in a tree of %d entries, of which there is no checkpoint: the proof was altered", p.Index, p.TreeSize)
	}
	switch j := vr.tree.proofMismatch(p.Index, p.TreeSize, p.Hashes); {
	case j == len(p.Hashes):
		return inconsistent("entry %d: its stored inclusion proof in checkpoint %d has %d hashes, want %d: the proof was altered",
			p.Index, p.TreeSize, len(p.Hashes), store.InclusionProofLen(p.Index, p.TreeSize))
	case j >= 0:
		return inconsistent("entry %d: hash %d of its stored inclusion proof in checkpoint %d does not match the tree: the proof was altered",
			p.Index, j, p.TreeSize)
	}
	vr.result.Proofs++
	return nil
}

// localize explains why checkpoint c's root is not that of the recomputed
// tree. The entries below the previous checkpoint matched it, so one of
// those since is not what c signed: the stored inclusion proofs, checked
// against c's signed root, say which.
func (vr *verifier) localize(c *SignedCheckpoint) error {
	var from int64
	for _, p := range vr.cps {
		if p.Size < c.Size && vr.tree.size >= p.Size {
			from = max(from, p.Size)
		}
	}
	suspect := int64(-1) // the first entry that failed its proof, when neither it nor the proof can be blamed
	for lo := from; lo < c.Size; lo += proofChunk {
		hi := min(c.Size, lo+proofChunk)
		entries, err := vr.st.LedgerEntries(vr.ctx, lo, hi)
		if err != nil {
			return err
		}
		proofs, err := vr.st.LedgerProofs(vr.ctx, lo, hi)
		if err != nil {
			return err
		}
		byIndex := make(map[int64]*gantry.LedgerProof, len(proofs))
		for i := range proofs {
			byIndex[proofs[i].Index] = &proofs[i]
		}
		for _, e := range entries {
			p := byIndex[e.Index]
			if p == nil {
				continue
			}
			pc := vr.bySize[p.TreeSize]
			if pc == nil || p.TreeSize <= e.Index {
				continue
			}
			h := tlog.RecordHash(e.Data)
			if tlog.CheckRecord(asProof(p.Hashes), pc.Size, pc.Hash, e.Index, h) == nil {
				continue
			}
			// Is the proof sound, and the entry not what it proves?
			if stored, err := vr.st.LedgerHashes(vr.ctx, []int64{storedIndex(0, e.Index)}); err == nil &&
				tlog.CheckRecord(asProof(p.Hashes), pc.Size, pc.Hash, e.Index, stored[0]) == nil {
				if j, ok := vr.movedFrom(h, from, c.Size, e.Index); ok {
					return inconsistent("entry %d does not match its inclusion proof in checkpoint %d: it holds the data of entry %d: entries were reordered or moved",
						e.Index, pc.Size, j)
				}
				return inconsistent("entry %d does not match its inclusion proof in checkpoint %d: the entry was altered", e.Index, pc.Size)
			}
			if suspect < 0 {
				suspect = e.Index
			}
		}
	}
	if suspect >= 0 {
		pc := vr.proofTree(suspect)
		return inconsistent("entry %d does not match its inclusion proof in checkpoint %d: the entry or its proof was altered", suspect, pc)
	}
	if vr.mismatch != nil {
		level, n := tlog.SplitStoredHashIndex(*vr.mismatch)
		return inconsistent("checkpoint %d does not match the tree of the stored entries, and stored hash %d (%s) does not either: entry %d or after was altered, with its proof",
			c.Size, *vr.mismatch, hashName(*vr.mismatch), n<<level)
	}
	return inconsistent("checkpoint %d does not match the tree of the stored entries: entries %d to %d were altered, with their proofs and hashes",
		c.Size, from, c.Size-1)
}

// proofTree returns the tree size of entry i's stored proof, for messages.
func (vr *verifier) proofTree(i int64) int64 {
	p, err := vr.st.LedgerProof(vr.ctx, i)
	if err != nil {
		return 0
	}
	return p.TreeSize
}

// movedFrom looks for the entry in [from, to), other than not, whose
// stored hash is h and whose proof confirms that it is: the place an
// entry with hash h was moved from.
func (vr *verifier) movedFrom(h tlog.Hash, from, to, not int64) (int64, bool) {
	for lo := from; lo < to; lo += hashChunk / 2 {
		hi := min(to, lo+hashChunk/2)
		hashes, err := vr.st.LedgerHashRange(vr.ctx, storedIndex(0, lo), storedIndex(0, hi))
		if err != nil {
			return 0, false
		}
		for _, sh := range hashes {
			level, j := tlog.SplitStoredHashIndex(sh.Index)
			if level != 0 || j == not || tlog.Hash(sh.Hash) != h {
				continue
			}
			p, err := vr.st.LedgerProof(vr.ctx, j)
			if err != nil {
				continue
			}
			if pc := vr.bySize[p.TreeSize]; pc != nil && p.TreeSize > j &&
				tlog.CheckRecord(asProof(p.Hashes), pc.Size, pc.Hash, j, h) == nil {
				return j, true
			}
		}
	}
	return 0, false
}

func asProof(hs [][32]byte) tlog.RecordProof {
	p := make(tlog.RecordProof, len(hs))
	for i, h := range hs {
		p[i] = h
	}
	return p
}

// rest checks what lies beyond the recomputed tree: stored hashes there,
// and proofs still waiting for a larger tree.
func (vr *verifier) rest() error {
	end := storedIndex(0, vr.total)
	extra, err := vr.st.LedgerHashRange(vr.ctx, end, math.MaxInt64)
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		// Unless a writer appended since Verify started: the entries of
		// stored hashes are stored with them, in one transaction.
		n, err := vr.st.LedgerSize(vr.ctx)
		if err != nil {
			return err
		}
		extra = slices.DeleteFunc(extra, func(h gantry.LedgerHash) bool { return h.Index < storedIndex(0, n) })
	}
	if len(extra) > 0 {
		return inconsistent("stored hash %d is beyond the tree of the %d stored entries: entries after %d were deleted, or the hash was added",
			extra[0].Index, vr.total, vr.total-1)
	}
	if len(vr.later) > 0 {
		p := vr.later[0]
		return inconsistent("entry %d has an inclusion proof in a tree of %d entries, of which there is no checkpoint: the proof was altered", p.Index, p.TreeSize)
	}
	return nil
}

// trust checks the latest checkpoint against the one the verifier
// trusted before, and remembers it.
func (vr *verifier) trust() error {
	t := vr.opts.Trust
	old, err := t.Trusted(vr.v)
	if err != nil {
		return err
	}
	latest := vr.result.Latest
	if latest == nil {
		if old != nil {
			return &gantry.Error{Kind: gantry.EConflict, Err: ErrStale,
				Message: fmt.Sprintf("the log has no checkpoint, but this verifier trusted its checkpoint %d before: the log was rolled back or replaced", old.Size)}
		}
		return nil
	}
	var proof []tlog.Hash
	if old != nil && old.Size > 0 && old.Size < latest.Size {
		if proof, err = tlog.ProveTree(latest.Size, old.Size, &vr.tree); err != nil {
			return err
		}
	}
	_, err = t.Update(vr.v, latest.Note, proof)
	return err
}

// cursor reads items of a range from a store ahead of their use, a chunk
// at a time, in a goroutine of its own.
type cursor[T any] struct {
	ch  <-chan chunk[T]
	buf []T
	i   int
}

type chunk[T any] struct {
	items []T
	err   error
}

// stream starts reading [from, to) in chunks of n with read. It stops
// when ctx is done.
func stream[T any](ctx context.Context, from, to, n int64, read func(ctx context.Context, from, to int64) ([]T, error)) *cursor[T] {
	ch := make(chan chunk[T], 2)
	go func() {
		defer close(ch)
		for x := from; x < to; x += n {
			items, err := read(ctx, x, min(to, x+n))
			select {
			case ch <- chunk[T]{items, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return &cursor[T]{ch: ch}
}

// peek returns the next item, or nil at the end. It is valid until next.
func (c *cursor[T]) peek() (*T, error) {
	for c.i == len(c.buf) {
		ch, ok := <-c.ch
		if !ok {
			return nil, nil
		}
		if ch.err != nil {
			return nil, ch.err
		}
		c.buf, c.i = ch.items, 0
	}
	return &c.buf[c.i], nil
}

// next moves past the item peek returned.
func (c *cursor[T]) next() { c.i++ }
