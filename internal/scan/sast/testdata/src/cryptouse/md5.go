// Package cryptouse hashes, encrypts and makes tokens, some of it badly.
package cryptouse

import (
	"crypto/md5" // want: G501
	"encoding/hex"
)

// Checksum identifies content with MD5.
func Checksum(data []byte) string {
	sum := md5.Sum(data) // want: G401
	return hex.EncodeToString(sum[:])
}
