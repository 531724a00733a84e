package cryptouse

import (
	"crypto/rc4" // want: G503
)

// Obfuscate encrypts with RC4.
func Obfuscate(key, data []byte) ([]byte, error) {
	c, err := rc4.NewCipher(key) // want: G405
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out, nil
}
