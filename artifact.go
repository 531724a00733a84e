package gantry

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Digest is a content digest written "sha256:<hex>".
type Digest string

// DigestBytes returns the sha256 Digest of b.
func DigestBytes(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest("sha256:" + hex.EncodeToString(sum[:]))
}

// NewDigest returns the Digest of a sha256 sum.
func NewDigest(sum []byte) Digest { return Digest("sha256:" + hex.EncodeToString(sum)) }

// Hex returns the hex part of d, or "" when d is not a well-formed sha256
// digest.
func (d Digest) Hex() string {
	h, ok := strings.CutPrefix(string(d), "sha256:")
	if !ok || len(h) != 64 {
		return ""
	}
	// One content has one spelling: lower-case hex only, so that digests
	// compare and index as strings.
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
	}
	return h
}

// Valid reports whether d is a well-formed sha256 digest.
func (d Digest) Valid() bool { return d.Hex() != "" }

// Short returns the first 12 hex digits, for display.
func (d Digest) Short() string {
	if h := d.Hex(); h != "" {
		return h[:12]
	}
	return string(d)
}

// Artifact is a file a step produced, stored content-addressed.
type Artifact struct {
	Path   string `json:"path"` // relative to the workspace, with forward slashes
	Digest Digest `json:"digest"`
	Size   int64  `json:"size"`
	Step   string `json:"step,omitempty"` // the step that produced it
}
