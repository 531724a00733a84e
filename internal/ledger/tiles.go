package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
)

// TileHeight is the height of C2SP tlog-tiles: a full tile holds 256
// hashes, or the entries of 256 leaves.
const TileHeight = 8

// ErrMalformedBundle is wrapped by the errors of ParseEntryBundle.
var ErrMalformedBundle = errors.New("malformed entry bundle")

// TilePath returns t's path in the C2SP tlog-tiles layout:
// tile/<L>/<N>[.p/<W>] for hashes, tile/entries/<N>[.p/<W>] for entry
// bundles (t.L == -1). N is written in groups of three digits, all but
// the last prefixed with "x" (1234067 is x001/x234/067), and .p/<W> marks
// a partial tile of W < 256 hashes or entries. (tlog.Tile.Path writes the
// Go checksum database's layout, which has the height in the path.)
// t.H must be TileHeight.
func TilePath(t tlog.Tile) string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.L == -1 {
		b.WriteString("entries")
	} else {
		b.WriteString(strconv.Itoa(t.L))
	}
	b.WriteByte('/')
	var groups []string
	for n := t.N; ; n /= 1000 {
		groups = append(groups, fmt.Sprintf("%03d", n%1000))
		if n < 1000 {
			break
		}
	}
	for i := len(groups) - 1; i >= 0; i-- {
		if i > 0 {
			b.WriteByte('x')
		}
		b.WriteString(groups[i])
		if i > 0 {
			b.WriteByte('/')
		}
	}
	if t.W < 1<<TileHeight {
		fmt.Fprintf(&b, ".p/%d", t.W)
	}
	return b.String()
}

// AppendEntryBundle appends to b the C2SP entry bundle of entries: each
// entry as a big-endian uint16 length and its bytes.
func AppendEntryBundle(b []byte, entries ...[]byte) ([]byte, error) {
	for i, e := range entries {
		if len(e) > 0xffff {
			return nil, fmt.Errorf("entry %d of a bundle has %d bytes, more than a bundle can hold", i, len(e))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b, nil
}

// ParseEntryBundle returns the entries of a C2SP entry bundle. A bundle
// that ends inside an entry, or holds more than a tile's entries, is an
// error wrapping ErrMalformedBundle.
func ParseEntryBundle(b []byte) ([][]byte, error) {
	var entries [][]byte
	for len(b) > 0 {
		if len(entries) == 1<<TileHeight {
			return nil, fmt.Errorf("%w: more than %d entries", ErrMalformedBundle, 1<<TileHeight)
		}
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: entry %d has a truncated length", ErrMalformedBundle, len(entries))
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("%w: entry %d has %d of its %d bytes", ErrMalformedBundle, len(entries), len(b)-2, n)
		}
		entries = append(entries, b[2:2+n:2+n])
		b = b[2+n:]
	}
	return entries, nil
}

// WriteTiles writes the log of st, as of its latest checkpoint, in the
// C2SP tlog-tiles layout under dir: the hash tiles, the entry bundles and
// the checkpoint, which it writes last, so that a reader that finds the
// checkpoint finds its tiles. Each file is replaced whole. It returns the
// checkpoint it published.
func WriteTiles(ctx context.Context, st gantry.LedgerStore, dir string) (*SignedCheckpoint, error) {
	c, err := writeTiles(ctx, st, dir)
	if err != nil {
		return nil, fmt.Errorf("write ledger tiles to %s: %w", dir, err)
	}
	return c, nil
}

func writeTiles(ctx context.Context, st gantry.LedgerStore, dir string) (*SignedCheckpoint, error) {
	c, err := latestCheckpoint(ctx, st)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, gantry.Errorf(gantry.ENotFound, "the ledger has no checkpoint to publish: make one first")
	}
	if err != nil {
		return nil, err
	}
	r := storeReader{ctx, st}
	for _, t := range tlog.NewTiles(TileHeight, 0, c.Size) {
		data, err := tlog.ReadTileData(t, r)
		if err != nil {
			return nil, fmt.Errorf("read tile %s: %w", TilePath(t), err)
		}
		if err := writeFile(dir, TilePath(t), data); err != nil {
			return nil, err
		}
	}
	const w = 1 << TileHeight
	var bundle []byte
	for n := int64(0); n*w < c.Size; n++ {
		entries, err := st.LedgerEntries(ctx, n*w, min(c.Size, n*w+w))
		if err != nil {
			return nil, err
		}
		bundle = bundle[:0]
		for i, e := range entries {
			if e.Index != n*w+int64(i) {
				return nil, gantry.Errorf(gantry.ENotFound, "ledger entry %d is missing", n*w+int64(i))
			}
			if bundle, err = AppendEntryBundle(bundle, e.Data); err != nil {
				return nil, err
			}
		}
		t := tlog.Tile{H: TileHeight, L: -1, N: n, W: int(min(c.Size-n*w, w))}
		if len(entries) != t.W {
			return nil, gantry.Errorf(gantry.ENotFound, "ledger entry %d is missing", n*w+int64(len(entries)))
		}
		if err := writeFile(dir, TilePath(t), bundle); err != nil {
			return nil, err
		}
	}
	if err := writeFile(dir, "checkpoint", c.Note); err != nil {
		return nil, err
	}
	return c, nil
}

// writeFile replaces dir/name whole. Tiles are a copy of the store that
// can be written again: no fsync.
func writeFile(dir, name string, data []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
