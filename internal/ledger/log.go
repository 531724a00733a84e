// Package ledger is Gantry's transparency log: an append-only RFC 6962
// Merkle tree (golang.org/x/mod/sumdb/tlog) of the evidence a run leaves,
// kept in a gantry.LedgerStore, with signed checkpoints (C2SP
// tlog-checkpoint in a C2SP signed note, golang.org/x/mod/sumdb/note),
// the inclusion proof of every entry, consistency proofs between
// checkpoints and the C2SP tlog-tiles layout.
//
// A Log appends and checkpoints. The proving functions need only a store;
// the checking functions (OpenCheckpoint, Inclusion.Check,
// Consistency.Check, Trust) need no store at all, only the log's public
// key. Verify recomputes a whole stored log and names the first thing in
// it that does not hold.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
)

const (
	// defaultMaxBatch bounds the entries of one store transaction: large
	// enough that a busy log appends in few transactions, small enough
	// that one transaction stays short.
	defaultMaxBatch = 4096
	// maxConflicts is how many times in a row an append retries after
	// another process appended first.
	maxConflicts = 100
	// proofBatch is how many proofs Checkpoint stores in one call.
	proofBatch = 4096
)

// Options configure a Log.
type Options struct {
	// Now returns the time entries and checkpoints are recorded at;
	// time.Now when nil.
	Now func() time.Time
	// MaxBatch bounds the entries one store transaction appends; 4096
	// when 0.
	MaxBatch int
}

// Log appends to a transparency log kept in a gantry.LedgerStore and
// signs its checkpoints. Its methods may be called from several
// goroutines; other processes may append to the same store.
//
// Appends of concurrent callers go to the store together, in one
// transaction. The Log keeps the right edge of the tree in memory, so an
// append reads nothing from the store unless another process appended
// first.
type Log struct {
	store    gantry.LedgerStore
	signer   note.Signer
	origin   string
	now      func() time.Time
	maxBatch int

	mu    sync.Mutex // guards queue
	queue []*request

	// writer is held by the caller that appends a batch; it alone
	// changes tree.
	writer chan struct{}
	treeMu sync.Mutex // guards tree, for those that read it
	tree   edge

	checkpointMu sync.Mutex // one Checkpoint at a time
}

// request is one call of Append, waiting for a batch to take it.
type request struct {
	data  [][]byte
	first int64 // the index of data[0], once appended
	err   error
	done  chan struct{}
}

// Open opens the log kept in st, signing checkpoints with signer. The
// log's origin, the first line of its checkpoints, is the signer's name.
func Open(ctx context.Context, st gantry.LedgerStore, signer note.Signer, opts *Options) (*Log, error) {
	if opts == nil {
		opts = &Options{}
	}
	l := &Log{
		store:    st,
		signer:   signer,
		origin:   signer.Name(),
		now:      opts.Now,
		maxBatch: opts.MaxBatch,
		writer:   make(chan struct{}, 1),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.maxBatch <= 0 {
		l.maxBatch = defaultMaxBatch
	}
	e, err := loadEdge(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", l.origin, err)
	}
	l.tree = *e
	return l, nil
}

// loadEdge reads the right edge of the stored tree.
func loadEdge(ctx context.Context, st gantry.LedgerStore) (*edge, error) {
	n, err := st.LedgerSize(ctx)
	if err != nil {
		return nil, err
	}
	_, indexes := edgeIndexes(n)
	hashes, err := readHashes(ctx, st, indexes)
	if err != nil {
		return nil, fmt.Errorf("read the right edge of the tree of %d entries: %w", n, err)
	}
	return newEdge(n, hashes)
}

// Origin returns the log's origin: its name in checkpoints.
func (l *Log) Origin() string { return l.origin }

// Size returns the number of entries the log holds, as far as this
// process knows.
func (l *Log) Size() int64 {
	l.treeMu.Lock()
	defer l.treeMu.Unlock()
	return l.tree.size
}

// Append appends leaves to the log and returns their indexes, which are
// consecutive. The leaves of one call are appended together, in order,
// or not at all. A ctx done before the leaves are taken into a batch
// stops the call; once they are, it waits for the store.
func (l *Log) Append(ctx context.Context, leaves ...Leaf) ([]int64, error) {
	if len(leaves) == 0 {
		return nil, nil
	}
	r := &request{data: make([][]byte, len(leaves)), done: make(chan struct{})}
	for i, leaf := range leaves {
		b, err := leaf.Encode()
		if err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "append leaf %d to the ledger: %w", i, err)
		}
		r.data[i] = b
	}
	if err := l.wait(ctx, r); err != nil {
		return nil, err
	}
	indexes := make([]int64, len(leaves))
	for i := range indexes {
		indexes[i] = r.first + int64(i)
	}
	return indexes, nil
}

// wait queues r and waits until a batch has taken it, appending batches
// itself whenever no other caller does.
func (l *Log) wait(ctx context.Context, r *request) error {
	l.mu.Lock()
	l.queue = append(l.queue, r)
	l.mu.Unlock()
	for {
		select {
		case <-r.done:
			return r.err
		case l.writer <- struct{}{}:
			if batch := l.take(); len(batch) > 0 {
				l.appendBatch(context.WithoutCancel(ctx), batch)
			}
			<-l.writer
		case <-ctx.Done():
			l.mu.Lock()
			for i, q := range l.queue {
				if q == r {
					l.queue = append(l.queue[:i], l.queue[i+1:]...)
					l.mu.Unlock()
					return ctx.Err()
				}
			}
			l.mu.Unlock()
			// A batch has it: its outcome is the call's.
			<-r.done
			return r.err
		}
	}
}

// take removes from the queue the requests of the next batch: at least
// one, then as many as fit in maxBatch entries.
func (l *Log) take() []*request {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, k := 0, 0
	for k < len(l.queue) && (k == 0 || n+len(l.queue[k].data) <= l.maxBatch) {
		n += len(l.queue[k].data)
		k++
	}
	batch := make([]*request, k)
	copy(batch, l.queue)
	l.queue = append(l.queue[:0], l.queue[k:]...)
	return batch
}

// appendBatch appends the requests of batch in one transaction, holding
// the writer, and tells them the outcome.
func (l *Log) appendBatch(ctx context.Context, batch []*request) {
	n := 0
	for _, r := range batch {
		n += len(r.data)
	}
	entries := make([]gantry.LedgerEntry, 0, n)
	hashes := make([]tlog.Hash, 0, 2*n+64)
	var err error
	for conflicts := 0; ; conflicts++ {
		tree := l.tree // only the writer changes it
		at := tree.size
		now := l.now()
		entries, hashes = entries[:0], hashes[:0]
		for _, r := range batch {
			r.first = tree.size
			for _, d := range r.data {
				entries = append(entries, gantry.LedgerEntry{Index: tree.size, Data: d, CreatedAt: now})
				hashes = tree.push(tlog.RecordHash(d), hashes)
			}
		}
		first := storedIndex(0, at)
		stored := make([]gantry.LedgerHash, len(hashes))
		for i, h := range hashes {
			stored[i] = gantry.LedgerHash{Index: first + int64(i), Hash: h}
		}
		err = l.store.AppendLedger(ctx, at, entries, stored)
		if err == nil {
			l.treeMu.Lock()
			l.tree = tree
			l.treeMu.Unlock()
			break
		}
		if gantry.ErrorKind(err) != gantry.EConflict || conflicts == maxConflicts {
			break
		}
		// Another process appended: start from where it left the log.
		var e *edge
		if e, err = loadEdge(ctx, l.store); err != nil {
			err = fmt.Errorf("reload after a concurrent append: %w", err)
			break
		}
		l.treeMu.Lock()
		l.tree = *e
		l.treeMu.Unlock()
	}
	if err != nil {
		err = fmt.Errorf("append %d entries to ledger %s: %w", n, l.origin, err)
	}
	for _, r := range batch {
		r.err = err
		close(r.done)
	}
}

// snapshot returns the tree as this process knows it.
func (l *Log) snapshot() edge {
	l.treeMu.Lock()
	defer l.treeMu.Unlock()
	return l.tree
}

// reload catches up with appends of other processes.
func (l *Log) reload(ctx context.Context) error {
	// Holding the writer, so that no batch of ours is half-done.
	select {
	case l.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.writer }()
	e, err := loadEdge(ctx, l.store)
	if err != nil {
		return err
	}
	l.treeMu.Lock()
	defer l.treeMu.Unlock()
	if e.size > l.tree.size {
		l.tree = *e
	}
	return nil
}

// Checkpoint signs a checkpoint of the log's current size, when the log
// grew since the latest stored one, and stores it with the inclusion
// proofs of every entry added since, in this checkpoint's tree. It returns
// the latest checkpoint: the new one, or the stored one when the log did
// not grow.
//
// The proofs are stored first: should the process stop between the two,
// the next Checkpoint proves the same entries again.
func (l *Log) Checkpoint(ctx context.Context) (*SignedCheckpoint, error) {
	l.checkpointMu.Lock()
	defer l.checkpointMu.Unlock()
	sc, err := l.checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("checkpoint ledger %s: %w", l.origin, err)
	}
	return sc, nil
}

func (l *Log) checkpoint(ctx context.Context) (*SignedCheckpoint, error) {
	var latest *SignedCheckpoint
	stored, err := l.store.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, gantry.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if latest, err = readCheckpoint(stored); err != nil {
			return nil, err
		}
	}
	tree := l.snapshot()
	if latest != nil && latest.Size > tree.size {
		// Another process appended and checkpointed.
		if err := l.reload(ctx); err != nil {
			return nil, err
		}
		tree = l.snapshot()
	}
	if latest != nil && latest.Size >= tree.size {
		if latest.Size == tree.size && latest.Hash != tree.root() {
			return nil, gantry.Errorf(gantry.EConflict,
				"the stored checkpoint of size %d does not match the stored tree: run gantry ledger verify", latest.Size)
		}
		return latest, nil
	}
	c := Checkpoint{Origin: l.origin, Size: tree.size, Hash: tree.root()}
	if latest != nil && latest.Size > 0 {
		// Never sign a tree that does not extend the one signed before:
		// stored hashes altered behind the store's back would make this
		// checkpoint the start of a fork.
		p, err := tlog.ProveTree(c.Size, latest.Size, storeReader{ctx, l.store})
		if err == nil {
			err = tlog.CheckTree(p, c.Size, c.Hash, latest.Size, latest.Hash)
		}
		if err != nil {
			return nil, gantry.Errorf(gantry.EConflict,
				"the stored tree of %d entries is not consistent with checkpoint %d: run gantry ledger verify (%v)", c.Size, latest.Size, err)
		}
	}
	msg, err := SignCheckpoint(c, l.signer)
	if err != nil {
		return nil, err
	}
	var from int64
	if latest != nil {
		from = latest.Size
	}
	if err := l.storeProofs(ctx, from, c.Size); err != nil {
		return nil, err
	}
	if err := l.store.PutCheckpoint(ctx, &gantry.LedgerCheckpoint{Size: c.Size, Note: msg, CreatedAt: l.now()}); err != nil {
		return nil, err
	}
	return &SignedCheckpoint{Checkpoint: c, Note: msg}, nil
}

// storeProofs computes and stores the inclusion proofs of entries
// [from, n) in the tree of n entries.
func (l *Log) storeProofs(ctx context.Context, from, n int64) error {
	if from == n {
		return nil
	}
	r, err := newRangeReader(ctx, l.store, from, n)
	if err != nil {
		return err
	}
	proofs := make([]gantry.LedgerProof, 0, min(n-from, proofBatch))
	for i := from; i < n; i++ {
		p, err := tlog.ProveRecord(n, i, r)
		if err != nil {
			return fmt.Errorf("prove entry %d in the tree of %d: %w", i, n, err)
		}
		proofs = append(proofs, gantry.LedgerProof{Index: i, TreeSize: n, Hashes: hashesOf(p)})
		if len(proofs) == cap(proofs) || i == n-1 {
			if err := l.store.PutLedgerProofs(ctx, proofs); err != nil {
				return err
			}
			proofs = proofs[:0]
		}
	}
	return nil
}

func hashesOf(p []tlog.Hash) [][32]byte {
	out := make([][32]byte, len(p))
	for i, h := range p {
		out[i] = h
	}
	return out
}
