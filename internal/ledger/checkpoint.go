package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
)

// The errors of checking a checkpoint. OpenCheckpoint's errors wrap one
// of them, with a message that says what exactly failed.
var (
	// ErrMalformedCheckpoint: the note or its text is not a C2SP
	// tlog-checkpoint in a signed note.
	ErrMalformedCheckpoint = errors.New("malformed checkpoint")
	// ErrUnknownKey: no signature of the note is by the trusted key.
	ErrUnknownKey = errors.New("checkpoint not signed by the trusted key")
	// ErrBadSignature: the trusted key's signature does not verify: the
	// note was altered after it was signed.
	ErrBadSignature = errors.New("checkpoint signature does not verify")
	// ErrWrongOrigin: the checkpoint is of another log.
	ErrWrongOrigin = errors.New("checkpoint of another log")
)

// maxNote bounds the size of a checkpoint note read from outside.
const maxNote = 1 << 16

// Checkpoint is the statement a checkpoint signs: the log it is of
// (origin), its size and the root hash of its Merkle tree.
type Checkpoint struct {
	Origin string
	Size   int64
	Hash   tlog.Hash
}

// SignedCheckpoint is a checkpoint with its signed note.
type SignedCheckpoint struct {
	Checkpoint
	Note []byte
}

// String returns "origin@size", for messages.
func (c Checkpoint) String() string { return fmt.Sprintf("%s@%d", c.Origin, c.Size) }

// Text returns the checkpoint's C2SP tlog-checkpoint text, the body of its
// note: the origin, the size in decimal and the root hash in base64, each
// on a line of its own.
func (c Checkpoint) Text() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseCheckpoint parses a C2SP tlog-checkpoint text. Extension lines
// after the hash are allowed and ignored; anything malformed is an error
// wrapping ErrMalformedCheckpoint that says what.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	bad := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrMalformedCheckpoint, fmt.Sprintf(format, args...))
	}
	if len(text) > maxNote {
		return bad("%d bytes, more than %d", len(text), maxNote)
	}
	if !bytes.HasSuffix(text, []byte("\n")) {
		return bad("the text does not end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return bad("%d lines, want at least origin, size and hash", len(lines))
	}
	origin, size, hash := lines[0], lines[1], lines[2]
	if origin == "" || strings.TrimSpace(origin) != origin {
		return bad("origin %q is empty or has surrounding space", origin)
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != size {
		return bad("size %q is not a decimal number without sign or leading zeros", size)
	}
	h, err := base64.StdEncoding.Strict().DecodeString(hash)
	if err != nil || len(h) != tlog.HashSize {
		return bad("root hash %q is not %d bytes in base64", hash, tlog.HashSize)
	}
	for i, ext := range lines[3:] {
		if ext == "" {
			return bad("extension line %d is empty", i+1)
		}
	}
	c := Checkpoint{Origin: origin, Size: n}
	copy(c.Hash[:], h)
	return c, nil
}

// SignCheckpoint returns c's signed note. c's origin must be the signer's
// name.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if c.Origin != s.Name() {
		return nil, fmt.Errorf("sign checkpoint of %q with key %q: the origin is the key's name", c.Origin, s.Name())
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Text())}, s)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint %s: %w", c, err)
	}
	return msg, nil
}

// KeyID returns how messages name v's key: "name+hash", as in the key's
// text form.
func KeyID(v note.Verifier) string { return fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()) }

// OpenCheckpoint verifies a signed checkpoint note with v, the log's key,
// and parses it. The checkpoint's origin must be v's name. Its errors are
// *gantry.Error values that wrap ErrMalformedCheckpoint, ErrUnknownKey,
// ErrBadSignature or ErrWrongOrigin and say what failed.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	return openCheckpoint(msg, v, "checkpoint")
}

// openCheckpoint is OpenCheckpoint with its errors' messages starting with
// what, which names the checkpoint.
func openCheckpoint(msg []byte, v note.Verifier, what string) (Checkpoint, error) {
	fail := func(kind string, sentinel error, format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, &gantry.Error{Kind: kind, Message: what + ": " + fmt.Sprintf(format, args...), Err: sentinel}
	}
	if len(msg) > maxNote {
		return fail(gantry.EInvalid, ErrMalformedCheckpoint, "the note has %d bytes, more than %d", len(msg), maxNote)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	var (
		unverified *note.UnverifiedNoteError
		invalid    *note.InvalidSignatureError
	)
	switch {
	case errors.As(err, &unverified):
		var by []string
		for _, s := range unverified.Note.UnverifiedSigs {
			by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		if len(by) == 0 {
			by = []string{"no key"}
		}
		return fail(gantry.EConflict, ErrUnknownKey, "signed by %s, not by the trusted key %s", strings.Join(by, ", "), KeyID(v))
	case errors.As(err, &invalid):
		return fail(gantry.EConflict, ErrBadSignature, "signature does not verify with key %s: the checkpoint was altered after it was signed", KeyID(v))
	case err != nil:
		return fail(gantry.EInvalid, ErrMalformedCheckpoint, "not a signed note (%v)", err)
	}
	for _, s := range n.Sigs {
		// note.Open ignores the unused low bits of the last base64
		// digit: a signature has one spelling, so that no byte of a
		// checkpoint can change unnoticed.
		if _, err := base64.StdEncoding.Strict().DecodeString(s.Base64); err != nil {
			return fail(gantry.EConflict, ErrBadSignature, "signature by key %s is not in canonical base64: the checkpoint was altered after it was signed", KeyID(v))
		}
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return fail(gantry.EInvalid, ErrMalformedCheckpoint, "signed by %s, but %v", KeyID(v), err)
	}
	if c.Origin != v.Name() {
		return fail(gantry.EConflict, ErrWrongOrigin, "of log %q, not of %q", c.Origin, v.Name())
	}
	return c, nil
}

// noteText returns the text of a signed note without checking its
// signatures: for notes a store of this process wrote.
func noteText(msg []byte) ([]byte, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return nil, fmt.Errorf("%w: no signature block", ErrMalformedCheckpoint)
	}
	return msg[:i+1], nil
}

// readCheckpoint parses a stored checkpoint's note without checking its
// signature, and checks that it is of the size it is stored at.
func readCheckpoint(c *gantry.LedgerCheckpoint) (*SignedCheckpoint, error) {
	text, err := noteText(c.Note)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d: %w", c.Size, err)
	}
	cp, err := ParseCheckpoint(text)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d: %w", c.Size, err)
	}
	if cp.Size != c.Size {
		return nil, fmt.Errorf("checkpoint stored as of size %d is of size %d", c.Size, cp.Size)
	}
	return &SignedCheckpoint{Checkpoint: cp, Note: c.Note}, nil
}
