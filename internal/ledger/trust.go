package ledger

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
)

// The errors of refusing a checkpoint that contradicts the trusted one.
var (
	// ErrStale: the checkpoint is older than the trusted one: the log was
	// rolled back, or this is an old view of it.
	ErrStale = errors.New("checkpoint older than the trusted one")
	// ErrFork: the checkpoint is not consistent with the trusted one: the
	// log's history was rewritten, or it shows different trees to
	// different verifiers (a split view).
	ErrFork = errors.New("checkpoint not consistent with the trusted one")
)

// Trust remembers, for a verifier, the latest checkpoint of each log it
// has verified (by origin), in files under a directory, and refuses a
// checkpoint that is older than it or not consistent with it: once a
// verifier has seen a log at some size, no one can show it a rewritten
// history or a fork of that log without it noticing.
type Trust struct {
	dir string
}

// NewTrust returns a Trust that keeps its files in dir, which it creates
// when it first writes.
func NewTrust(dir string) *Trust { return &Trust{dir: dir} }

// path returns the file of origin's checkpoint. Origins are key names:
// they may hold '/' and ':', which are escaped, and the suffix keeps
// names such as ".." harmless.
func (t *Trust) path(origin string) string {
	var b strings.Builder
	for i := 0; i < len(origin); i++ {
		c := origin[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return filepath.Join(t.dir, b.String()+".checkpoint")
}

// Trusted returns the checkpoint trusted for v's log, or nil when there
// is none yet. The remembered note is verified again with v.
func (t *Trust) Trusted(v note.Verifier) (*SignedCheckpoint, error) {
	p := t.path(v.Name())
	msg, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trusted checkpoint: %w", err)
	}
	c, err := OpenCheckpoint(msg, v)
	if err != nil {
		return nil, fmt.Errorf("trusted checkpoint %s: %w", p, err)
	}
	return &SignedCheckpoint{Checkpoint: c, Note: msg}, nil
}

// Update checks the signed checkpoint msg of v's log against the trusted
// one, by proof (the consistency proof from the trusted checkpoint's size
// to msg's), and trusts it from now on when it is newer. With no trusted
// checkpoint yet, msg is trusted on first use. A checkpoint older than the
// trusted one is an error wrapping ErrStale; one that is not consistent
// with it, ErrFork.
func (t *Trust) Update(v note.Verifier, msg []byte, proof []tlog.Hash) (Checkpoint, error) {
	c, err := OpenCheckpoint(msg, v)
	if err != nil {
		return Checkpoint{}, err
	}
	old, err := t.Trusted(v)
	if err != nil {
		return Checkpoint{}, err
	}
	refuse := func(sentinel error, format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, &gantry.Error{Kind: gantry.EConflict, Err: sentinel, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case old == nil:
	case c.Size < old.Size:
		return refuse(ErrStale, "checkpoint %d of %s is older than checkpoint %d, which this verifier trusted before: the log was rolled back, or this is a stale view of it",
			c.Size, c.Origin, old.Size)
	case c.Size == old.Size && c.Hash != old.Hash:
		return refuse(ErrFork, "checkpoint %d of %s has another root hash than the checkpoint of the same size this verifier trusted before: the log forked (a split view) or its history was rewritten",
			c.Size, c.Origin)
	case c.Size == old.Size:
		return c, nil
	default:
		if err := CheckConsistency(old.Checkpoint, c, proof); err != nil {
			return refuse(ErrFork, "checkpoint %d of %s is not consistent with checkpoint %d, which this verifier trusted before: the log's history was rewritten, or it forked (a split view)",
				c.Size, c.Origin, old.Size)
		}
	}
	if err := writeFileAtomic(t.path(c.Origin), msg); err != nil {
		return Checkpoint{}, fmt.Errorf("remember checkpoint %d of %s: %w", c.Size, c.Origin, err)
	}
	return c, nil
}

// writeFileAtomic writes data to path through a temporary file renamed
// over it, so that a reader sees the old file or the new one, whole.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
