package cryptouse

import (
	"crypto/sha1" // want: G505
	"encoding/hex"
)

// Fingerprint identifies a key with SHA-1.
func Fingerprint(key []byte) string {
	h := sha1.New() // want: G401
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))
}
