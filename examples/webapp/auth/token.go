package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// MaxTokenLen bounds the bearer tokens the server will look at.
const MaxTokenLen = 128

// NewToken returns a new random session token with at least 128 bits of
// entropy, safe to put in an Authorization header.
func NewToken() string { return rand.Text() }

// HashToken returns the hex SHA-256 of a session token, which is what is
// stored. A fast hash is enough: the token is random, not chosen by a person,
// so it cannot be guessed from its hash.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
