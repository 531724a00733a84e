package ledger

import (
	"bytes"
	"errors"
	"fmt"

	"gantry.dev/gantry"
)

// Kinds of evidence the ledger records.
const (
	// KindAttestation is a signed attestation; the digest is its DSSE
	// envelope's.
	KindAttestation = "attestation"
	// KindAudit is an audit event: something a person did.
	KindAudit = "audit"
)

// ErrMalformedLeaf is wrapped by the errors of ParseLeaf and Leaf.Encode.
var ErrMalformedLeaf = errors.New("malformed ledger leaf")

// leafVersion starts every leaf: the name of the encoding and its
// version. Another encoding would start with another one, which parsers
// of this one reject rather than misread.
const leafVersion = "gantry-leaf/v1"

// maxKind bounds a kind's length, so that a leaf stays small.
const maxKind = 32

// Leaf is what one ledger entry records: a piece of evidence, by kind and
// digest.
//
// Its encoding, the entry's data that the Merkle tree hashes, is one line
// of ASCII:
//
//	gantry-leaf/v1 <kind> sha256:<64 lowercase hex digits>\n
//
// where kind is 1 to 32 of the characters a-z, 0-9 and '-', starting with
// a letter. A leaf has exactly one encoding, so that two entries record
// the same evidence only if their data are equal. Kinds other than
// KindAttestation and KindAudit parse: a verifier that knows fewer kinds
// than the log still verifies it.
type Leaf struct {
	Kind   string
	Digest gantry.Digest
}

// String returns the leaf as "kind digest".
func (l Leaf) String() string { return l.Kind + " " + string(l.Digest) }

// Encode returns the leaf's encoding, or an error wrapping
// ErrMalformedLeaf when its kind or digest is malformed.
func (l Leaf) Encode() ([]byte, error) {
	if err := checkKind(l.Kind); err != nil {
		return nil, err
	}
	if !l.Digest.Valid() {
		return nil, fmt.Errorf("%w: digest %q is not sha256:<64 lowercase hex digits>", ErrMalformedLeaf, l.Digest)
	}
	b := make([]byte, 0, len(leafVersion)+len(l.Kind)+len(l.Digest)+3)
	b = append(b, leafVersion...)
	b = append(b, ' ')
	b = append(b, l.Kind...)
	b = append(b, ' ')
	b = append(b, l.Digest...)
	return append(b, '\n'), nil
}

// ParseLeaf parses a leaf's encoding. Anything else, even with a byte
// more or less, is an error wrapping ErrMalformedLeaf.
func ParseLeaf(data []byte) (Leaf, error) {
	line, ok := bytes.CutSuffix(data, []byte("\n"))
	if !ok {
		return Leaf{}, fmt.Errorf("%w: no final newline", ErrMalformedLeaf)
	}
	version, rest, _ := bytes.Cut(line, []byte(" "))
	if string(version) != leafVersion {
		return Leaf{}, fmt.Errorf("%w: it does not start with %q", ErrMalformedLeaf, leafVersion)
	}
	kind, digest, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return Leaf{}, fmt.Errorf("%w: no digest", ErrMalformedLeaf)
	}
	l := Leaf{Kind: string(kind), Digest: gantry.Digest(digest)}
	if err := checkKind(l.Kind); err != nil {
		return Leaf{}, err
	}
	if !l.Digest.Valid() {
		return Leaf{}, fmt.Errorf("%w: digest %q is not sha256:<64 lowercase hex digits>", ErrMalformedLeaf, digest)
	}
	return l, nil
}

func checkKind(kind string) error {
	if kind == "" || len(kind) > maxKind {
		return fmt.Errorf("%w: kind %q is not 1 to %d characters", ErrMalformedLeaf, kind, maxKind)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if (c < 'a' || c > 'z') && (i == 0 || (c < '0' || c > '9') && c != '-') {
			return fmt.Errorf("%w: kind %q is not lowercase letters, digits and '-', starting with a letter", ErrMalformedLeaf, kind)
		}
	}
	return nil
}
