// Package cas is a content-addressed blob store on a directory: the
// artifacts of runs, each kept once under the sha256 of its bytes.
//
// The layout is dir/sha256/ab/abcdef… (the first two hex digits fan the
// blobs out over 256 directories), and dir/tmp holds blobs being written.
// A blob appears under its digest only once it is whole and synced, by a
// link or rename from tmp, so a reader never sees half a blob; once stored
// it is read-only and never rewritten.
package cas

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
)

var _ gantry.BlobStore = (*Store)(nil)

const (
	dirPerm  = 0o750
	blobPerm = 0o444
	// staleAfter is the age at which a file left in tmp is taken for the
	// remains of a crashed Put and removed by New. A Put in progress
	// writes its file all the time.
	staleAfter = 24 * time.Hour
)

// Store is a gantry.BlobStore on a directory. Its methods may be called
// from several goroutines, and several processes may share the directory.
type Store struct {
	dir     string // absolute
	maxSize int64  // 0: no limit
}

// An Option configures a Store.
type Option func(*Store)

// MaxSize limits the size of a blob to n bytes; Put of a longer stream
// fails with an EInvalid error and stores nothing. n <= 0 means no limit.
func MaxSize(n int64) Option {
	return func(s *Store) { s.maxSize = max(n, 0) }
}

// New returns a Store on dir, creating the directory if needed, and
// removes what crashed Puts left behind.
func New(dir string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	s := &Store{dir: abs}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{s.dir, filepath.Join(s.dir, "sha256"), s.tmpDir()} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("open blob store %s: %w", dir, err)
		}
	}
	if err := s.removeStale(time.Now().Add(-staleAfter)); err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	return s, nil
}

func (s *Store) tmpDir() string { return filepath.Join(s.dir, "tmp") }

// removeStale removes the files in tmp last written before t.
func (s *Store) removeStale(t time.Time) error {
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // another process removed it first
		}
		if err != nil {
			return err
		}
		if info.ModTime().Before(t) {
			if err := os.Remove(filepath.Join(s.tmpDir(), e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// digestHex returns the hex of a well-formed digest: "sha256:" and 64
// lowercase hex digits, nothing else, so that no digest names a path
// outside the store or two digests name one blob.
func digestHex(d gantry.Digest) (string, error) {
	h, ok := strings.CutPrefix(string(d), "sha256:")
	if !ok || len(h) != sha256.Size*2 || strings.IndexFunc(h, notLowerHex) >= 0 {
		return "", gantry.Errorf(gantry.EInvalid, "malformed digest %q: want sha256: and 64 lowercase hex digits", d)
	}
	return h, nil
}

func notLowerHex(r rune) bool { return (r < '0' || r > '9') && (r < 'a' || r > 'f') }

func (s *Store) blobPath(h string) string { return filepath.Join(s.dir, "sha256", h[:2], h) }

// Path returns the path of the stored blob d, for callers that need a
// file (to mount or hard-link it), or an ErrNotFound error. The file is
// read-only and must stay unchanged.
func (s *Store) Path(d gantry.Digest) (string, error) {
	h, err := digestHex(d)
	if err != nil {
		return "", err
	}
	p := s.blobPath(h)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return "", gantry.Errorf(gantry.ENotFound, "blob %s not found", d)
	} else if err != nil {
		return "", fmt.Errorf("find blob %s: %w", d, err)
	}
	return p, nil
}

// Has reports whether the blob d is stored.
func (s *Store) Has(ctx context.Context, d gantry.Digest) (bool, error) {
	if _, err := s.Path(d); errors.Is(err, gantry.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// Open returns the bytes of the blob d, or an ErrNotFound error. The
// reader checks the bytes against d as it reads them: a blob changed on
// disk ends in an error instead of io.EOF.
func (s *Store) Open(ctx context.Context, d gantry.Digest) (io.ReadCloser, error) {
	h, err := digestHex(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, gantry.Errorf(gantry.ENotFound, "blob %s not found", d)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", d, err)
	}
	return &verifier{f: f, h: sha256.New(), want: h}, nil
}

// verifier reads a blob and checks its digest at the end.
type verifier struct {
	f    *os.File
	h    hash.Hash
	want string
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("blob sha256:%s is corrupt: its bytes hash to sha256:%s", v.want, got)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.f.Close() }

// Put stores r's bytes and returns their digest and size. Bytes stored
// already are not written again.
func (s *Store) Put(ctx context.Context, r io.Reader) (gantry.Digest, int64, error) {
	d, n, err := s.put(ctx, r)
	if err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	return d, n, nil
}

// PutFile stores the bytes of the file at path.
func (s *Store) PutFile(ctx context.Context, path string) (gantry.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("put file %s: %w", path, err)
	}
	defer f.Close()
	d, n, err := s.put(ctx, f)
	if err != nil {
		return "", 0, fmt.Errorf("put file %s: %w", path, err)
	}
	return d, n, nil
}

func (s *Store) put(ctx context.Context, r io.Reader) (gantry.Digest, int64, error) {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp

	// A blob that fits in the buffer and is stored already costs no file.
	n, eof, err := s.fill(ctx, buf, r)
	if err != nil {
		return "", 0, err
	}
	if eof {
		d := gantry.DigestBytes(buf[:n])
		if info, err := os.Stat(s.blobPath(d.Hex())); err == nil && info.Size() == int64(n) {
			return d, int64(n), nil
		}
	}

	f, err := os.CreateTemp(s.tmpDir(), "put-*")
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		os.Remove(tmp) // gone already when renamed; a second name when linked
	}()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if _, err := w.Write(buf[:n]); err != nil {
		return "", 0, err
	}
	size := int64(n)
	for !eof {
		if n, eof, err = s.fill(ctx, buf, r); err != nil {
			return "", 0, err
		}
		if size += int64(n); s.maxSize > 0 && size > s.maxSize {
			return "", 0, s.tooLarge()
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return "", 0, err
		}
	}
	sum := h.Sum(nil)
	d, final := gantry.NewDigest(sum), s.blobPath(hex.EncodeToString(sum))

	// Stored already: leave it as it is. (A file of the wrong size is not
	// the blob: install replaces it.)
	if info, err := os.Stat(final); err == nil && info.Size() == size {
		return d, size, nil
	}
	if err := f.Chmod(blobPerm); err != nil {
		return "", 0, err
	}
	if err := f.Sync(); err != nil {
		return "", 0, err
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", 0, err
	}
	if err := s.install(tmp, final, size); err != nil {
		return "", 0, err
	}
	return d, size, nil
}

// fill reads from r until buf is full or r ends (eof), checking ctx
// between reads. A read of more than s.maxSize bytes is an error.
func (s *Store) fill(ctx context.Context, buf []byte, r io.Reader) (n int, eof bool, err error) {
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, false, err
		}
		m, err := r.Read(buf[n:])
		n += m
		if s.maxSize > 0 && int64(n) > s.maxSize {
			return n, false, s.tooLarge()
		}
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, fmt.Errorf("read: %w", err)
		}
	}
	return n, false, nil
}

func (s *Store) tooLarge() error {
	return gantry.Errorf(gantry.EInvalid, "blob is larger than the limit of %d bytes", s.maxSize)
}

// install gives the synced file tmp its name final, unless another Put
// got there first, and syncs the directories that changed.
func (s *Store) install(tmp, final string, size int64) error {
	fanout := filepath.Dir(final)
	created := false
	if err := os.Mkdir(fanout, dirPerm); err == nil {
		created = true
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	// A link never replaces a file: of concurrent Puts of one blob, the
	// first wins and the others find it stored.
	err := os.Link(tmp, final)
	switch {
	case errors.Is(err, fs.ErrExist):
		if info, serr := os.Stat(final); serr == nil && info.Size() == size {
			return nil
		}
		err = os.Rename(tmp, final) // a damaged blob: replace it
	case err != nil:
		err = os.Rename(tmp, final) // no hard links on this file system
	}
	if err != nil {
		return err
	}
	if err := syncDir(fanout); err != nil {
		return err
	}
	if created {
		return syncDir(filepath.Dir(fanout))
	}
	return nil
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be synced there; renames are durable
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// bufs holds the buffers Put copies through.
var bufs = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}
