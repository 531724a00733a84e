package auth

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// TokenPrefix starts every Gantry API token, so that secret scanners and
// people recognise one.
const TokenPrefix = "gty_"

// tokenRandomLen is the entropy of a token; a CRC-32 follows it so that a
// mistyped or truncated token is refused without a store lookup, and a
// scanner can tell a real token from look-alike text offline.
const tokenRandomLen = 32

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// tokenLen is the length of a token: the prefix and 36 bytes in base32.
var tokenLen = len(TokenPrefix) + tokenEncoding.EncodedLen(tokenRandomLen+4)

// newTokenSecret returns a fresh token read from r.
func newTokenSecret(r io.Reader) (string, error) {
	buf := make([]byte, tokenRandomLen, tokenRandomLen+4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", fmt.Errorf("make token: %w", err)
	}
	buf = binary.BigEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf))
	return TokenPrefix + tokenEncoding.EncodeToString(buf), nil
}

// ParseToken checks that s is well-formed as a Gantry token (prefix,
// length, alphabet, checksum) and returns the hex SHA-256 by which the
// store knows it. It tells nothing about whether the token exists.
func ParseToken(s string) (hash string, err error) {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return "", fmt.Errorf("not a gantry token")
	}
	raw, err := tokenEncoding.DecodeString(s[len(TokenPrefix):])
	if err != nil || len(raw) != tokenRandomLen+4 {
		return "", fmt.Errorf("not a gantry token")
	}
	if crc32.ChecksumIEEE(raw[:tokenRandomLen]) != binary.BigEndian.Uint32(raw[tokenRandomLen:]) {
		return "", fmt.Errorf("not a gantry token: bad checksum")
	}
	return TokenHash(s), nil
}

// TokenHash returns the hex SHA-256 of a token's secret, as stored in
// gantry.Token.Hash.
func TokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// BearerToken returns the token of an Authorization header value
// "Bearer TOKEN" (the scheme in any case), or "" when there is none.
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
