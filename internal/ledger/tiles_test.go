package ledger

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestTilePath(t *testing.T) {
	for _, tc := range []struct {
		tile tlog.Tile
		want string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 5, W: 3}, "tile/0/005.p/3"},
		{tlog.Tile{H: 8, L: 2, N: 1000, W: 256}, "tile/2/x001/000"},
		{tlog.Tile{H: 8, L: 1, N: 1234067, W: 256}, "tile/1/x001/x234/067"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 255}, "tile/entries/x001/x234/067.p/255"},
		{tlog.Tile{H: 8, L: -1, N: 999, W: 256}, "tile/entries/999"},
	} {
		if got := TilePath(tc.tile); got != tc.want {
			t.Errorf("TilePath(%+v) = %s, want %s", tc.tile, got, tc.want)
		}
	}
}

// dirTiles reads the tiles WriteTiles wrote: a tlog.TileReader.
type dirTiles struct {
	dir   string
	reads int
}

func (d *dirTiles) Height() int { return TileHeight }

func (d *dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(TilePath(t))))
		if err != nil {
			return nil, err
		}
		d.reads++
		out[i] = b
	}
	return out, nil
}

func (d *dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func TestWriteTiles(t *testing.T) {
	l, st, _ := newLog(t)
	ctx := t.Context()
	dir := t.TempDir()
	if _, err := WriteTiles(ctx, st, dir); err == nil {
		t.Fatal("WriteTiles of a log with no checkpoint: no error")
	}
	// Enough entries for full tiles at level 0 and a partial one at
	// level 1, partial tiles at both ends and an entry bundle of each
	// kind.
	const n = 256*257 + 3
	for i := 0; i < n; i += 5000 {
		mustAppend(t, l, leaves(i, min(5000, n-i))...)
	}
	c := mustCheckpoint(t, l)
	mustAppend(t, l, leaves(n, 10)...) // not in the checkpoint: not published
	got, err := WriteTiles(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Checkpoint != c.Checkpoint {
		t.Fatalf("WriteTiles published %v, want %v", got.Checkpoint, c.Checkpoint)
	}
	note, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCheckpoint(note, testKey.verifier)
	if err != nil || cp != c.Checkpoint {
		t.Fatalf("the checkpoint file opens as %v, %v", cp, err)
	}
	for _, name := range []string{"tile/0/000", "tile/0/256", "tile/0/257.p/3", "tile/1/000", "tile/1/001.p/1", "tile/entries/000", "tile/entries/257.p/3"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A client that has only the directory and the key proves entries
	// from the tiles with tlog, and reads them from the bundles.
	tiles := &dirTiles{dir: dir}
	hr := tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Hash}, tiles)
	for _, i := range []int64{0, 255, 256, 40000, 65791, n - 1} {
		proof, err := tlog.ProveRecord(cp.Size, i, hr)
		if err != nil {
			t.Fatalf("prove %d from the tiles: %v", i, err)
		}
		bundle, err := tiles.ReadTiles([]tlog.Tile{{H: TileHeight, L: -1, N: i / 256, W: int(min(256, cp.Size-i/256*256))}})
		if err != nil {
			t.Fatal(err)
		}
		entries, err := ParseEntryBundle(bundle[0])
		if err != nil {
			t.Fatal(err)
		}
		entry := entries[i%256]
		if err := CheckInclusion(cp, i, entry, proof); err != nil {
			t.Errorf("entry %d from the tiles: %v", i, err)
		}
		if l, err := ParseLeaf(entry); err != nil || l != leaf(int(i)) {
			t.Errorf("entry %d from the bundle is %v, %v", i, l, err)
		}
	}
	// An altered tile is noticed by the reader.
	p := filepath.Join(dir, "tile/0/100")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, flip(b, 7), 0o644)
	hr = tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Hash}, &dirTiles{dir: dir})
	if _, err := tlog.ProveRecord(cp.Size, 100*256+3, hr); err == nil {
		t.Error("a proof from an altered tile: no error")
	}
	// Writing again replaces the files.
	if _, err := WriteTiles(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(p); !bytes.Equal(b, b2) {
		t.Error("WriteTiles did not replace an altered tile")
	}
}

func TestEntryBundle(t *testing.T) {
	entries := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("x"), 300)}
	b, err := AppendEntryBundle(nil, entries...)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x00\x01a\x00\x00\x01\x2c"; string(b[:7]) != want {
		t.Errorf("bundle starts %q, want %q", b[:7], want)
	}
	got, err := ParseEntryBundle(b)
	if err != nil || len(got) != 3 || string(got[2]) != string(entries[2]) {
		t.Fatalf("ParseEntryBundle = %q, %v", got, err)
	}
	if _, err := AppendEntryBundle(nil, make([]byte, 1<<16)); err == nil {
		t.Error("AppendEntryBundle of a 64 KiB entry: no error")
	}
	for name, b := range map[string][]byte{
		"truncated length": b[:len(b)-301],
		"truncated entry":  b[:len(b)-1],
		"too many":         bytes.Repeat([]byte{0, 0}, 257),
	} {
		if _, err := ParseEntryBundle(b); !errors.Is(err, ErrMalformedBundle) {
			t.Errorf("ParseEntryBundle(%s) = %v, want ErrMalformedBundle", name, err)
		}
	}
}

// FuzzParseEntryBundle checks that ParseEntryBundle does not panic and
// that what it accepts is the bundle of what it returns.
func FuzzParseEntryBundle(f *testing.F) {
	b, _ := AppendEntryBundle(nil, []byte("gantry-leaf/v1 audit x\n"), []byte("y"))
	f.Add(b)
	f.Add([]byte{0, 5, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseEntryBundle(b)
		if err != nil {
			return
		}
		again, err := AppendEntryBundle(nil, entries...)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("ParseEntryBundle(%q) = %q, which bundles as %q, %v", b, entries, again, err)
		}
	})
}
