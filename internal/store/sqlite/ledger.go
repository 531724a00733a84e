package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

var _ gantry.LedgerStore = (*Store)(nil)

// Appends insert entries, hashes and proofs with statements of 1, 2, 4, …
// ledgerBatch rows, the largest that fits first (as AppendLogs does):
// a batch of a thousand entries and their two thousand hashes takes a
// dozen statements instead of three thousand.
const (
	ledgerBatchBits = 8
	ledgerBatch     = 1 << ledgerBatchBits
)

// ledgerStmts are the prepared statements of the ledger.
type ledgerStmts struct {
	// On w.
	size                                     *sql.Stmt
	insertEntries, insertHashes, insertProof rowInserts
	checkpointNote, insertCheckpoint         *sql.Stmt
	// On r.
	rsize, entries, hash, hashRange, checkpoints, latest, proof, proofs *sql.Stmt
}

// rowInserts are INSERTs of 1<<i rows each.
type rowInserts [ledgerBatchBits + 1]*sql.Stmt

func (s *Store) prepareLedger(ctx context.Context) error {
	l := &s.ledger
	for _, p := range []struct {
		on   preparer
		stmt **sql.Stmt
		sql  string
	}{
		{s.w, &l.size, `SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries`},
		{s.w, &l.checkpointNote, `SELECT note FROM ledger_checkpoints WHERE size = ?`},
		{s.w, &l.insertCheckpoint, `INSERT INTO ledger_checkpoints (size, note, created_at) VALUES (?, ?, ?)`},
		{s.r, &l.rsize, `SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries`},
		{s.r, &l.entries, `SELECT idx, data, created_at FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx`},
		{s.r, &l.hash, `SELECT hash FROM ledger_hashes WHERE idx = ?`},
		{s.r, &l.hashRange, `SELECT idx, hash FROM ledger_hashes WHERE idx >= ? AND idx < ? ORDER BY idx`},
		{s.r, &l.checkpoints, `SELECT size, note, created_at FROM ledger_checkpoints ORDER BY size`},
		{s.r, &l.latest, `SELECT size, note, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`},
		{s.r, &l.proof, `SELECT idx, tree_size, hashes FROM ledger_proofs WHERE idx = ?`},
		{s.r, &l.proofs, `SELECT idx, tree_size, hashes FROM ledger_proofs WHERE idx >= ? AND idx < ? ORDER BY idx`},
	} {
		stmt, err := p.on.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = stmt
	}
	for _, p := range []struct {
		stmts *rowInserts
		head  string
		row   string
	}{
		{&l.insertEntries, `INSERT INTO ledger_entries (idx, data, created_at) VALUES `, `(?, ?, ?)`},
		{&l.insertHashes, `INSERT INTO ledger_hashes (idx, hash) VALUES `, `(?, ?)`},
		// A proof replaces the entry's earlier one.
		{&l.insertProof, `INSERT OR REPLACE INTO ledger_proofs (idx, tree_size, hashes) VALUES `, `(?, ?, ?)`},
	} {
		for i := range p.stmts {
			q := p.head + strings.Repeat(p.row+",", 1<<i-1) + p.row
			stmt, err := s.w.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("prepare insert of %d rows into %s: %w", 1<<i, p.head, err)
			}
			p.stmts[i] = stmt
		}
	}
	return nil
}

func (l *ledgerStmts) all() []*sql.Stmt {
	stmts := []*sql.Stmt{l.size, l.checkpointNote, l.insertCheckpoint, l.rsize, l.entries, l.hash,
		l.hashRange, l.checkpoints, l.latest, l.proof, l.proofs}
	stmts = append(stmts, l.insertEntries[:]...)
	stmts = append(stmts, l.insertHashes[:]...)
	return append(stmts, l.insertProof[:]...)
}

// insertRows inserts n rows with the statements of ins, the largest that
// fits first; row appends the arguments of row i to args.
func insertRows(ctx context.Context, ins *rowInserts, n int, args []any, row func(args []any, i int) []any) error {
	for i := 0; i < n; {
		k := min(bits.Len(uint(n-i))-1, ledgerBatchBits)
		args = args[:0]
		for j := i; j < i+1<<k; j++ {
			args = row(args, j)
		}
		if _, err := ins[k].ExecContext(ctx, args...); err != nil {
			return err
		}
		i += 1 << k
	}
	return nil
}

// LedgerSize returns the number of entries: one more than the highest
// index.
func (s *Store) LedgerSize(ctx context.Context) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var n int64
	if err := s.ledger.rsize.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, wrap(err, "read ledger size")
	}
	return n, nil
}

// AppendLedger appends entries and the hashes they complete at index at,
// in one transaction, or returns an EConflict error when the log does
// not hold exactly at entries.
func (s *Store) AppendLedger(ctx context.Context, at int64, entries []gantry.LedgerEntry, hashes []gantry.LedgerHash) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLedgerAppend(at, entries, hashes); err != nil {
		return err
	}
	l := &s.ledger
	err := s.write(ctx, func(ctx context.Context) error {
		var size int64
		if err := l.size.QueryRowContext(ctx).Scan(&size); err != nil {
			return err
		}
		if size != at {
			return gantry.Errorf(gantry.EConflict, "append to the ledger at %d: the log holds %d entries", at, size)
		}
		args := make([]any, 0, 3*min(ledgerBatch, max(len(entries), len(hashes))))
		err := insertRows(ctx, &l.insertEntries, len(entries), args, func(args []any, i int) []any {
			e := &entries[i]
			return append(args, e.Index, e.Data, timeArg(e.CreatedAt))
		})
		if err != nil {
			return err
		}
		return insertRows(ctx, &l.insertHashes, len(hashes), args, func(args []any, i int) []any {
			return append(args, hashes[i].Index, hashes[i].Hash[:])
		})
	})
	if err != nil {
		if isUnique(err) {
			// Only a store altered behind its back has hashes beyond its
			// entries.
			return gantry.Errorf(gantry.EConflict, "append to the ledger at %d: the log holds some of these entries or hashes already", at)
		}
		return wrap(err, "append %d ledger entries at %d", len(entries), at)
	}
	return nil
}

// LedgerEntries returns the entries with indexes in [from, to), by index.
func (s *Store) LedgerEntries(ctx context.Context, from, to int64) ([]gantry.LedgerEntry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckLedgerRange(from, to); err != nil {
		return nil, err
	}
	entries, err := s.ledgerEntries(ctx, from, to)
	if err != nil {
		return nil, wrap(err, "read ledger entries %d to %d", from, to)
	}
	return entries, nil
}

func (s *Store) ledgerEntries(ctx context.Context, from, to int64) ([]gantry.LedgerEntry, error) {
	rows, err := s.ledger.entries.QueryContext(ctx, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	entries := make([]gantry.LedgerEntry, 0, min(to-from, 1<<12))
	var slab []byte // as proofHashes's
	for rows.Next() {
		var (
			e gantry.LedgerEntry
			b sql.RawBytes
			t sql.NullInt64
		)
		if err := rows.Scan(&e.Index, &b, &t); err != nil {
			return nil, err
		}
		if n := len(b); n > slabBytes/16 {
			e.Data = bytes.Clone(b)
		} else {
			if cap(slab)-len(slab) < n {
				slab = make([]byte, 0, slabBytes)
			}
			k := len(slab)
			slab = append(slab, b...)
			e.Data = slab[k : k+n : k+n]
		}
		e.CreatedAt = timeOf(t)
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

// LedgerHashes returns the stored hashes at indexes, in order, or
// ErrNotFound when one is missing.
func (s *Store) LedgerHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	for _, i := range indexes {
		if err := store.CheckLedgerIndex("stored hash", i); err != nil {
			return nil, err
		}
	}
	hashes, err := s.ledgerHashes(ctx, indexes)
	if err != nil {
		return nil, wrap(err, "read %d ledger hashes", len(indexes))
	}
	return hashes, nil
}

func (s *Store) ledgerHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	out := make([][32]byte, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	lo, hi := slices.Min(indexes), slices.Max(indexes)+1
	if hi-lo > 4*int64(len(indexes)) {
		// A proof's hashes, or those of a tile above level 0, lie far
		// apart: look each up.
		for i, x := range indexes {
			var b []byte
			err := s.ledger.hash.QueryRowContext(ctx, x).Scan(&b)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, gantry.Errorf(gantry.ENotFound, "ledger hash %d not found", x)
			}
			if err != nil {
				return nil, err
			}
			if err := copyHash(&out[i], b, x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// Many, or close together (a tile's, a subtree's): one scan.
	span := make([][32]byte, hi-lo)
	found := make([]bool, hi-lo)
	err := s.scanHashes(ctx, lo, hi, func(x int64, b []byte) error {
		found[x-lo] = true
		return copyHash(&span[x-lo], b, x)
	})
	if err != nil {
		return nil, err
	}
	for i, x := range indexes {
		if !found[x-lo] {
			return nil, gantry.Errorf(gantry.ENotFound, "ledger hash %d not found", x)
		}
		out[i] = span[x-lo]
	}
	return out, nil
}

// scanHashes calls f with each stored hash in [from, to), by index. b is
// valid only during the call.
func (s *Store) scanHashes(ctx context.Context, from, to int64, f func(x int64, b []byte) error) error {
	rows, err := s.ledger.hashRange.QueryContext(ctx, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			x int64
			b sql.RawBytes
		)
		if err := rows.Scan(&x, &b); err != nil {
			return err
		}
		if err := f(x, b); err != nil {
			return err
		}
	}
	return rows.Err()
}

func copyHash(dst *[32]byte, b []byte, x int64) error {
	if len(b) != len(dst) {
		return fmt.Errorf("ledger hash %d has %d bytes, not %d", x, len(b), len(dst))
	}
	copy(dst[:], b)
	return nil
}

// LedgerHashRange returns the stored hashes with indexes in [from, to),
// by index.
func (s *Store) LedgerHashRange(ctx context.Context, from, to int64) ([]gantry.LedgerHash, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckLedgerRange(from, to); err != nil {
		return nil, err
	}
	hashes := make([]gantry.LedgerHash, 0, min(to-from, 1<<12))
	err := s.scanHashes(ctx, from, to, func(x int64, b []byte) error {
		hashes = append(hashes, gantry.LedgerHash{Index: x})
		return copyHash(&hashes[len(hashes)-1].Hash, b, x)
	})
	if err != nil {
		return nil, wrap(err, "read ledger hashes %d to %d", from, to)
	}
	return hashes, nil
}

// PutCheckpoint records c, unless the same note is recorded already.
func (s *Store) PutCheckpoint(ctx context.Context, c *gantry.LedgerCheckpoint) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLedgerCheckpoint(c); err != nil {
		return err
	}
	l := &s.ledger
	err := s.write(ctx, func(ctx context.Context) error {
		var note []byte
		switch err := l.checkpointNote.QueryRowContext(ctx, c.Size).Scan(&note); {
		case err == nil && string(note) == string(c.Note):
			return nil
		case err == nil:
			return gantry.Errorf(gantry.EConflict, "another checkpoint of size %d is recorded already", c.Size)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var size int64
		if err := l.size.QueryRowContext(ctx).Scan(&size); err != nil {
			return err
		}
		if c.Size > size {
			return gantry.Errorf(gantry.EConflict, "checkpoint of size %d: the log holds %d entries", c.Size, size)
		}
		_, err := l.insertCheckpoint.ExecContext(ctx, c.Size, c.Note, timeArg(c.CreatedAt))
		return err
	})
	if err != nil {
		return wrap(err, "put checkpoint of size %d", c.Size)
	}
	return nil
}

// Checkpoints lists the checkpoints by size.
func (s *Store) Checkpoints(ctx context.Context) ([]*gantry.LedgerCheckpoint, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	cs, err := s.listCheckpoints(ctx)
	if err != nil {
		return nil, wrap(err, "list checkpoints")
	}
	return cs, nil
}

func (s *Store) listCheckpoints(ctx context.Context) ([]*gantry.LedgerCheckpoint, error) {
	rows, err := s.ledger.checkpoints.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cs := []*gantry.LedgerCheckpoint{}
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

func scanCheckpoint(row interface{ Scan(...any) error }) (*gantry.LedgerCheckpoint, error) {
	var (
		c gantry.LedgerCheckpoint
		t sql.NullInt64
	)
	if err := row.Scan(&c.Size, &c.Note, &t); err != nil {
		return nil, err
	}
	c.CreatedAt = timeOf(t)
	return &c, nil
}

// LatestCheckpoint returns the checkpoint of the largest size, or
// ErrNotFound.
func (s *Store) LatestCheckpoint(ctx context.Context) (*gantry.LedgerCheckpoint, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	c, err := scanCheckpoint(s.ledger.latest.QueryRowContext(ctx))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "the ledger has no checkpoint")
	}
	if err != nil {
		return nil, wrap(err, "read the latest checkpoint")
	}
	return c, nil
}

// PutLedgerProofs records proofs, replacing earlier ones, all or none.
func (s *Store) PutLedgerProofs(ctx context.Context, proofs []gantry.LedgerProof) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLedgerProofs(proofs); err != nil {
		return err
	}
	if len(proofs) == 0 {
		return nil
	}
	var maxIndex, maxTree int64
	for i := range proofs {
		maxIndex = max(maxIndex, proofs[i].Index)
		maxTree = max(maxTree, proofs[i].TreeSize)
	}
	l := &s.ledger
	err := s.write(ctx, func(ctx context.Context) error {
		var size int64
		if err := l.size.QueryRowContext(ctx).Scan(&size); err != nil {
			return err
		}
		switch {
		case maxIndex >= size:
			return gantry.Errorf(gantry.ENotFound, "inclusion proof of ledger entry %d: the log holds %d entries", maxIndex, size)
		case maxTree > size:
			return gantry.Errorf(gantry.EConflict, "inclusion proof in a tree of %d entries: the log holds %d", maxTree, size)
		}
		var buf []byte // the proofs' hashes, one after the other
		for i := range proofs {
			for _, h := range proofs[i].Hashes {
				buf = append(buf, h[:]...)
			}
		}
		args := make([]any, 0, 3*min(ledgerBatch, len(proofs)))
		return insertRows(ctx, &l.insertProof, len(proofs), args, func(args []any, i int) []any {
			p := &proofs[i]
			n := 32 * len(p.Hashes)
			b := buf[:n:n]
			if b == nil {
				b = []byte{} // no hashes, in a tree of one entry: not NULL
			}
			buf = buf[n:]
			return append(args, p.Index, p.TreeSize, b)
		})
	})
	if err != nil {
		return wrap(err, "put %d inclusion proofs", len(proofs))
	}
	return nil
}

// LedgerProof returns the stored inclusion proof of entry index, or
// ErrNotFound.
func (s *Store) LedgerProof(ctx context.Context, index int64) (*gantry.LedgerProof, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckLedgerIndex("ledger entry", index); err != nil {
		return nil, err
	}
	var (
		p gantry.LedgerProof
		b []byte
	)
	err := s.ledger.proof.QueryRowContext(ctx, index).Scan(&p.Index, &p.TreeSize, &b)
	if err == nil {
		err = proofHashes(&p, b, nil)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "no inclusion proof of ledger entry %d", index)
	}
	if err != nil {
		return nil, wrap(err, "read the inclusion proof of ledger entry %d", index)
	}
	return &p, nil
}

// proofHashes sets p's hashes from their stored form, taking their
// memory from slab unless it is nil: the proofs of a range share a few
// allocations instead of one each, which made reading them (Verify reads
// a million) a third faster.
func proofHashes(p *gantry.LedgerProof, b []byte, slab *[][32]byte) error {
	if len(b)%32 != 0 {
		return fmt.Errorf("inclusion proof of ledger entry %d has %d bytes, not a multiple of 32", p.Index, len(b))
	}
	n := len(b) / 32
	if slab == nil || n > slabHashes/16 {
		p.Hashes = make([][32]byte, n)
	} else {
		if cap(*slab)-len(*slab) < n {
			*slab = make([][32]byte, 0, slabHashes)
		}
		k := len(*slab)
		*slab = (*slab)[:k+n]
		p.Hashes = (*slab)[k : k+n : k+n]
	}
	for i := range p.Hashes {
		copy(p.Hashes[i][:], b[32*i:])
	}
	return nil
}

// slabHashes and slabBytes are the sizes of the slabs that the hashes of
// proofs and the data of entries read in a range are cut from.
const (
	slabHashes = 1 << 14
	slabBytes  = 1 << 19
)

// LedgerProofs returns the stored proofs of the entries with indexes in
// [from, to), by index.
func (s *Store) LedgerProofs(ctx context.Context, from, to int64) ([]gantry.LedgerProof, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckLedgerRange(from, to); err != nil {
		return nil, err
	}
	proofs, err := s.ledgerProofs(ctx, from, to)
	if err != nil {
		return nil, wrap(err, "read inclusion proofs of ledger entries %d to %d", from, to)
	}
	return proofs, nil
}

func (s *Store) ledgerProofs(ctx context.Context, from, to int64) ([]gantry.LedgerProof, error) {
	rows, err := s.ledger.proofs.QueryContext(ctx, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	proofs := make([]gantry.LedgerProof, 0, min(to-from, 1<<12))
	var slab [][32]byte
	for rows.Next() {
		var (
			p gantry.LedgerProof
			b sql.RawBytes
		)
		if err := rows.Scan(&p.Index, &p.TreeSize, &b); err != nil {
			return nil, err
		}
		if err := proofHashes(&p, b, &slab); err != nil {
			return nil, err
		}
		proofs = append(proofs, p)
	}
	return proofs, rows.Err()
}
