package cryptouse

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	mrand "math/rand"
	"strconv"
)

// WeakKey generates a 1024-bit RSA key.
func WeakKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 1024) // want: G403
}

// StrongKey generates a 3072-bit RSA key.
func StrongKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 3072)
}

// ResetToken makes a password-reset token from math/rand.
func ResetToken() string {
	return strconv.FormatInt(mrand.Int63(), 36) // want: G404
}

// SafeResetToken makes a token from crypto/rand.
func SafeResetToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Jitter spreads retries; predictability does not matter here, and the
// #nosec comment says so.
func Jitter() int {
	return mrand.Intn(100) // #nosec G404 -- retry jitter, not a secret. suppressed: G404
}

// Digest hashes content with SHA-256.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
