package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

var _ gantry.LedgerStore = (*Store)(nil)

const ledgerSizeSQL = `SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries`

// LedgerSize returns the number of entries: one more than the highest
// index.
func (s *Store) LedgerSize(ctx context.Context) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, ledgerSizeSQL).Scan(&n)
	return n, mapError(err, "read ledger size")
}

// AppendLedger appends entries and the hashes they complete at index at,
// in one transaction, or returns an EConflict error when the log does
// not hold exactly at entries.
//
// Appends hold the schema's ledger lock, so that the size they check is
// the size they append to, whichever server appends.
func (s *Store) AppendLedger(ctx context.Context, at int64, entries []gantry.LedgerEntry, hashes []gantry.LedgerHash) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLedgerAppend(at, entries, hashes); err != nil {
		return err
	}
	var (
		data  = make([][]byte, len(entries))
		times = make([]*int64, len(entries))
		hs    = make([][]byte, len(hashes))
	)
	for i := range entries {
		data[i], times[i] = entries[i].Data, timeArg(entries[i].CreatedAt)
	}
	for i := range hashes {
		hs[i] = hashes[i].Hash[:]
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := s.lock(ctx, tx, lockLedger); err != nil {
			return err
		}
		var size int64
		if err := tx.QueryRow(ctx, ledgerSizeSQL).Scan(&size); err != nil {
			return err
		}
		if size != at {
			return gantry.Errorf(gantry.EConflict, "append to the ledger at %d: the log holds %d entries", at, size)
		}
		// Indexes are at, at+1, …, and the hashes' first+0, first+1, …
		// (CheckLedgerAppend made sure): only the values travel.
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO ledger_entries (idx, data, created_at)
			SELECT $1 + n - 1, data, created_at FROM unnest($2::bytea[], $3::bigint[]) WITH ORDINALITY AS e (data, created_at, n)`,
			at, data, times)
		b.Queue(`INSERT INTO ledger_hashes (idx, hash)
			SELECT $1 + n - 1, hash FROM unnest($2::bytea[]) WITH ORDINALITY AS h (hash, n)`,
			store.StoredHashCount(at), hs)
		return tx.SendBatch(ctx, b).Close()
	})
	// Only a store altered behind its back has hashes beyond its entries.
	return mapError(err, fmt.Sprintf("append %d ledger entries at %d", len(entries), at),
		reason{gantry.EConflict, "the log holds some of these entries or hashes already"})
}

// LedgerEntries returns the entries with indexes in [from, to), by index.
func (s *Store) LedgerEntries(ctx context.Context, from, to int64) ([]gantry.LedgerEntry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckLedgerRange(from, to); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT idx, data, created_at FROM ledger_entries
		WHERE idx >= $1 AND idx < $2 ORDER BY idx`, from, to)
	if err == nil {
		var entries []gantry.LedgerEntry
		entries, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (gantry.LedgerEntry, error) {
			var (
				e gantry.LedgerEntry
				t *int64
			)
			err := row.Scan(&e.Index, &e.Data, &t)
			e.CreatedAt = timeOf(t)
			return e, err
		})
		if err == nil {
			return entries, nil
		}
	}
	return nil, mapError(err, fmt.Sprintf("read ledger entries %d to %d", from, to))
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
	out := make([][32]byte, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	found := make(map[int64][32]byte, len(indexes))
	err := s.scanHashes(ctx, `SELECT idx, hash FROM ledger_hashes WHERE idx = ANY($1)`, []any{indexes},
		func(x int64, h [32]byte) { found[x] = h })
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("read %d ledger hashes", len(indexes)))
	}
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, gantry.Errorf(gantry.ENotFound, "ledger hash %d not found", x)
		}
		out[i] = h
	}
	return out, nil
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
	var hashes []gantry.LedgerHash
	err := s.scanHashes(ctx, `SELECT idx, hash FROM ledger_hashes WHERE idx >= $1 AND idx < $2 ORDER BY idx`,
		[]any{from, to}, func(x int64, h [32]byte) { hashes = append(hashes, gantry.LedgerHash{Index: x, Hash: h}) })
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("read ledger hashes %d to %d", from, to))
	}
	return hashes, nil
}

// scanHashes calls f with each stored hash that q selects.
func (s *Store) scanHashes(ctx context.Context, q string, args []any, f func(x int64, h [32]byte)) error {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	var (
		x int64
		b []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&x, &b}, func() error {
		var h [32]byte
		if len(b) != len(h) {
			return fmt.Errorf("ledger hash %d has %d bytes, not %d", x, len(b), len(h))
		}
		copy(h[:], b)
		f(x, h)
		return nil
	})
	return err
}

// PutCheckpoint records c, unless the same note is recorded already.
func (s *Store) PutCheckpoint(ctx context.Context, c *gantry.LedgerCheckpoint) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckLedgerCheckpoint(c); err != nil {
		return err
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// The ledger lock orders this put after appends and other puts:
		// the size and the note it checks stay as they are until it ends.
		if err := s.lock(ctx, tx, lockLedger); err != nil {
			return err
		}
		var note []byte
		switch err := tx.QueryRow(ctx, `SELECT note FROM ledger_checkpoints WHERE size = $1`, c.Size).Scan(&note); {
		case err == nil && string(note) == string(c.Note):
			return nil
		case err == nil:
			return gantry.Errorf(gantry.EConflict, "another checkpoint of size %d is recorded already", c.Size)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		var size int64
		if err := tx.QueryRow(ctx, ledgerSizeSQL).Scan(&size); err != nil {
			return err
		}
		if c.Size > size {
			return gantry.Errorf(gantry.EConflict, "checkpoint of size %d: the log holds %d entries", c.Size, size)
		}
		_, err := tx.Exec(ctx, `INSERT INTO ledger_checkpoints (size, note, created_at) VALUES ($1, $2, $3)`,
			c.Size, c.Note, timeArg(c.CreatedAt))
		return err
	})
	return mapError(err, fmt.Sprintf("put checkpoint of size %d", c.Size))
}

// Checkpoints lists the checkpoints by size.
func (s *Store) Checkpoints(ctx context.Context) ([]*gantry.LedgerCheckpoint, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT size, note, created_at FROM ledger_checkpoints ORDER BY size`)
	if err == nil {
		var cs []*gantry.LedgerCheckpoint
		if cs, err = pgx.CollectRows(rows, scanCheckpoint); err == nil {
			return cs, nil
		}
	}
	return nil, mapError(err, "list checkpoints")
}

func scanCheckpoint(row pgx.CollectableRow) (*gantry.LedgerCheckpoint, error) {
	var (
		c gantry.LedgerCheckpoint
		t *int64
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
	rows, err := s.pool.Query(ctx, `SELECT size, note, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`)
	if err == nil {
		var c *gantry.LedgerCheckpoint
		c, err = pgx.CollectExactlyOneRow(rows, scanCheckpoint)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, gantry.Errorf(gantry.ENotFound, "the ledger has no checkpoint")
		}
		if err == nil {
			return c, nil
		}
	}
	return nil, mapError(err, "read the latest checkpoint")
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
	var (
		maxIndex, maxTree int64
		idxs              = make([]int64, len(proofs))
		trees             = make([]int64, len(proofs))
		hashes            = make([][]byte, len(proofs))
	)
	for i := range proofs {
		p := &proofs[i]
		maxIndex, maxTree = max(maxIndex, p.Index), max(maxTree, p.TreeSize)
		idxs[i], trees[i] = p.Index, p.TreeSize
		b := make([]byte, 0, 32*len(p.Hashes)) // not nil: a proof in a tree of one entry has no hashes
		for _, h := range p.Hashes {
			b = append(b, h[:]...)
		}
		hashes[i] = b
	}
	// The log only grows: the size read here can only be smaller than
	// the log's when the proofs are written, never larger.
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var size int64
		if err := tx.QueryRow(ctx, ledgerSizeSQL).Scan(&size); err != nil {
			return err
		}
		switch {
		case maxIndex >= size:
			return gantry.Errorf(gantry.ENotFound, "inclusion proof of ledger entry %d: the log holds %d entries", maxIndex, size)
		case maxTree > size:
			return gantry.Errorf(gantry.EConflict, "inclusion proof in a tree of %d entries: the log holds %d", maxTree, size)
		}
		// The last proof of an entry wins, as if put one after another.
		_, err := tx.Exec(ctx, `INSERT INTO ledger_proofs (idx, tree_size, hashes)
			SELECT DISTINCT ON (idx) idx, tree_size, hashes
			FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS p (idx, tree_size, hashes, n)
			ORDER BY idx, n DESC
			ON CONFLICT (idx) DO UPDATE SET tree_size = excluded.tree_size, hashes = excluded.hashes`,
			idxs, trees, hashes)
		return err
	})
	return mapError(err, fmt.Sprintf("put %d inclusion proofs", len(proofs)))
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
	rows, err := s.pool.Query(ctx, `SELECT idx, tree_size, hashes FROM ledger_proofs WHERE idx = $1`, index)
	if err == nil {
		var p gantry.LedgerProof
		p, err = pgx.CollectExactlyOneRow(rows, scanProof)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, gantry.Errorf(gantry.ENotFound, "no inclusion proof of ledger entry %d", index)
		}
		if err == nil {
			return &p, nil
		}
	}
	return nil, mapError(err, fmt.Sprintf("read the inclusion proof of ledger entry %d", index))
}

// LedgerProofs returns the stored proofs of the entries with indexes in
// [from, to), by index.
func (s *Store) LedgerProofs(ctx context.Context, from, to int64) ([]gantry.LedgerProof, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckLedgerRange(from, to); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT idx, tree_size, hashes FROM ledger_proofs
		WHERE idx >= $1 AND idx < $2 ORDER BY idx`, from, to)
	if err == nil {
		var proofs []gantry.LedgerProof
		if proofs, err = pgx.CollectRows(rows, scanProof); err == nil {
			return proofs, nil
		}
	}
	return nil, mapError(err, fmt.Sprintf("read inclusion proofs of ledger entries %d to %d", from, to))
}

func scanProof(row pgx.CollectableRow) (gantry.LedgerProof, error) {
	var (
		p gantry.LedgerProof
		b []byte
	)
	if err := row.Scan(&p.Index, &p.TreeSize, &b); err != nil {
		return p, err
	}
	if len(b)%32 != 0 {
		return p, fmt.Errorf("inclusion proof of ledger entry %d has %d bytes, not a multiple of 32", p.Index, len(b))
	}
	p.Hashes = make([][32]byte, len(b)/32)
	for i := range p.Hashes {
		copy(p.Hashes[i][:], b[32*i:])
	}
	return p, nil
}
