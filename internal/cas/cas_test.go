package cas

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

func newStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "blobs"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readAll(t *testing.T, s *Store, d gantry.Digest) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return b
}

// tmpFiles lists what is left in the store's tmp directory.
func tmpFiles(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t)
	big := make([]byte, 3<<20+17) // several copy buffers, not a multiple of one
	rand.Read(big)
	for _, data := range [][]byte{nil, []byte("hello, gantry\n"), big} {
		d, n, err := s.Put(t.Context(), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if want := gantry.DigestBytes(data); d != want || n != int64(len(data)) {
			t.Errorf("Put = %s, %d; want %s, %d", d, n, want, len(data))
		}
		if got := readAll(t, s, d); !bytes.Equal(got, data) {
			t.Errorf("Open(%s) returned %d other bytes", d.Short(), len(got))
		}
		if ok, err := s.Has(t.Context(), d); !ok || err != nil {
			t.Errorf("Has(%s) = %v, %v; want true", d.Short(), ok, err)
		}
		p, err := s.Path(d)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(s.dir, "sha256", d.Hex()[:2], d.Hex()); p != want {
			t.Errorf("Path = %s, want %s", p, want)
		}
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o444 {
			t.Errorf("blob mode %v, want read-only 0444", info.Mode().Perm())
		}
	}
	if left := tmpFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestPutFile(t *testing.T) {
	s := newStore(t)
	path := filepath.Join(t.TempDir(), "report.json")
	data := []byte(`{"findings": []}`)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, n, err := s.PutFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if d != gantry.DigestBytes(data) || n != int64(len(data)) {
		t.Errorf("PutFile = %s, %d", d, n)
	}
	if got := readAll(t, s, d); !bytes.Equal(got, data) {
		t.Errorf("read back %q", got)
	}
	if _, _, err := s.PutFile(t.Context(), filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PutFile of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestDedup(t *testing.T) {
	s := newStore(t)
	data := []byte("same bytes")
	d, _, err := s.Put(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(d)
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	d2, n2, err := s.Put(t.Context(), bytes.NewReader(data))
	if err != nil || d2 != d || n2 != int64(len(data)) {
		t.Fatalf("second Put = %s, %d, %v", d2, n2, err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("second Put replaced the stored file")
	}
	if left := tmpFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A stored file of the wrong size is not the blob: Put replaces it.
func TestRepair(t *testing.T) {
	s := newStore(t)
	data := []byte("the real bytes")
	d, _, err := s.Put(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(d)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("truncat"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(t.Context(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, d); !bytes.Equal(got, data) {
		t.Errorf("after repair: %q", got)
	}
}

// Open's reader fails at the end of a blob whose bytes changed on disk.
func TestOpenCorrupt(t *testing.T) {
	s := newStore(t)
	d, _, err := s.Put(t.Context(), strings.NewReader("original"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(d)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("tampered"), 0o444); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("reading a tampered blob: %v, want a corruption error", err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	s := newStore(t)
	data := make([]byte, 1<<20)
	rand.Read(data)
	want := gantry.DigestBytes(data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range cap(errs) {
		wg.Go(func() {
			d, n, err := s.Put(t.Context(), bytes.NewReader(data))
			if err == nil && (d != want || n != int64(len(data))) {
				err = fmt.Errorf("Put = %s, %d", d, n)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := readAll(t, s, want); !bytes.Equal(got, data) {
		t.Error("stored bytes differ")
	}
	if left := tmpFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, "sha256", want.Hex()[:2]))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("%d files in the fan-out directory, want 1", len(entries))
	}
}

func TestMissing(t *testing.T) {
	s := newStore(t)
	d := gantry.DigestBytes([]byte("never stored"))
	if _, err := s.Open(t.Context(), d); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("Open: %v, want ErrNotFound", err)
	}
	if _, err := s.Path(d); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("Path: %v, want ErrNotFound", err)
	}
	if ok, err := s.Has(t.Context(), d); ok || err != nil {
		t.Errorf("Has = %v, %v; want false, nil", ok, err)
	}
}

func TestBadDigests(t *testing.T) {
	s := newStore(t)
	// A file the traversals below would reach if a digest became a path.
	if err := os.WriteFile(filepath.Join(s.dir, "x"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := gantry.DigestBytes([]byte("x")).Hex()
	for _, d := range []gantry.Digest{
		"",
		"../x",
		"sha256:../x",
		"sha256:../../x",
		"sha256:" + gantry.Digest(strings.Repeat("../", 21)) + "x",
		"sha256:" + gantry.Digest(strings.ToUpper(good)),
		"sha256:" + gantry.Digest(good[:63]),
		"sha256:" + gantry.Digest(good) + "0",
		"sha256:" + gantry.Digest(good[:62]) + "/x",
		"sha512:" + gantry.Digest(good),
		"SHA256:" + gantry.Digest(good),
		gantry.Digest(good),
		"sha256:" + gantry.Digest(good[:63]) + "g",
		"sha256:" + gantry.Digest(good[:63]) + "\x00",
	} {
		if _, err := s.Open(t.Context(), d); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("Open(%q): %v, want an EInvalid error", d, err)
		}
		if _, err := s.Has(t.Context(), d); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("Has(%q): %v, want an EInvalid error", d, err)
		}
		if _, err := s.Path(d); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("Path(%q): %v, want an EInvalid error", d, err)
		}
	}
}

func TestMaxSize(t *testing.T) {
	s := newStore(t, MaxSize(1000))
	for _, n := range []int{0, 999, 1000} {
		if _, _, err := s.Put(t.Context(), bytes.NewReader(make([]byte, n))); err != nil {
			t.Errorf("Put of %d bytes: %v", n, err)
		}
	}
	for _, n := range []int{1001, 5 << 20} {
		data := bytes.Repeat([]byte{'a'}, n)
		_, _, err := s.Put(t.Context(), bytes.NewReader(data))
		if gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("Put of %d bytes: %v, want an EInvalid error", n, err)
		}
		if ok, _ := s.Has(t.Context(), gantry.DigestBytes(data)); ok {
			t.Errorf("blob of %d bytes stored", n)
		}
	}
	if left := tmpFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	m := min(len(p), r.n)
	r.n -= m
	return m, nil
}

func TestPutFailures(t *testing.T) {
	s := newStore(t)
	if _, _, err := s.Put(t.Context(), &failingReader{n: 300 << 10}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("Put from a failing reader: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.Put(ctx, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v", err)
	}
	if left := tmpFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("blobs stored by failed Puts: %d", len(entries))
	}
}

func TestNewRemovesStale(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(s.tmpDir(), "put-stale")
	fresh := filepath.Join(s.tmpDir(), "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"put-fresh"}, tmpFiles(t, s)); diff != "" {
		t.Errorf("tmp after New (-want +got):\n%s", diff)
	}
}

func BenchmarkPut(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		b.Run(fmt.Sprintf("new/%dKiB", size>>10), func(b *testing.B) {
			s := newStore(b)
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				i++
				copy(data, fmt.Sprint(i)) // new content every time
				if _, _, err := s.Put(b.Context(), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("stored/%dKiB", size>>10), func(b *testing.B) {
			s := newStore(b)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, _, err := s.Put(b.Context(), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
