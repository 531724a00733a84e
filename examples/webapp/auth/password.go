// Package auth holds the service's credential primitives: salted PBKDF2
// password hashes, session tokens, and a rate limiter for login attempts.
package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultIterations is the PBKDF2-HMAC-SHA256 work factor recommended by the
// OWASP Password Storage Cheat Sheet (2023).
const DefaultIterations = 600_000

const (
	scheme  = "pbkdf2-sha256"
	saltLen = 16
	keyLen  = 32
	maxIter = 10_000_000 // a stored hash must not be able to stall a login
)

var encoding = base64.RawStdEncoding

// ErrMalformedHash is returned when a stored password hash cannot be parsed.
var ErrMalformedHash = errors.New("malformed password hash")

// Hasher hashes passwords with PBKDF2-HMAC-SHA256 and a random salt.
// Its zero value uses DefaultIterations.
type Hasher struct {
	Iterations int
}

// Hash returns the encoded hash of password:
// "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 key>".
func (h Hasher) Hash(password string) (string, error) {
	iter := h.Iterations
	if iter == 0 {
		iter = DefaultIterations
	}
	if iter < 1 || iter > maxIter {
		return "", fmt.Errorf("hash password: iterations %d out of range", iter)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return strings.Join([]string{scheme, strconv.Itoa(iter), encoding.EncodeToString(salt), encoding.EncodeToString(key)}, "$"), nil
}

// Verify reports whether password matches the encoded hash. The comparison
// takes the same time wherever the first differing byte is.
func Verify(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != scheme {
		return false, ErrMalformedHash
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxIter {
		return false, ErrMalformedHash
	}
	salt, err := encoding.DecodeString(parts[2])
	if err != nil || len(salt) < saltLen {
		return false, ErrMalformedHash
	}
	want, err := encoding.DecodeString(parts[3])
	if err != nil || len(want) != keyLen {
		return false, ErrMalformedHash
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, keyLen)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
