package cryptouse

import (
	"crypto/cipher"
	"crypto/des" // want: G502
)

// LegacyCipher encrypts with single DES.
func LegacyCipher(key []byte) (cipher.Block, error) {
	return des.NewCipher(key) // want: G405
}
