package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
)

// Sealer encrypts and authenticates small values, binding each to its
// associated data so that a value sealed for one purpose or user cannot be
// replayed as another. The server plugs in its key-encryption key here.
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

// AESGCM is a Sealer with AES-256-GCM and a random 96-bit nonce prepended
// to each ciphertext.
type AESGCM struct {
	aead cipher.AEAD
	rand io.Reader
}

var _ Sealer = (*AESGCM)(nil)

// NewAESGCM returns a Sealer under a 32-byte key. A nil r means crypto/rand.
func NewAESGCM(key []byte, r io.Reader) (*AESGCM, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("aes-256-gcm key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes-256-gcm key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("aes-256-gcm: %w", err)
	}
	if r == nil {
		r = rand.Reader
	}
	return &AESGCM{aead: aead, rand: r}, nil
}

// Seal encrypts plaintext bound to associatedData.
func (s *AESGCM) Seal(plaintext, associatedData []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, associatedData), nil
}

// Open decrypts a value sealed with the same key and associatedData; any
// other value is an error.
func (s *AESGCM) Open(ciphertext, associatedData []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ciphertext) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("open: sealed value is too short")
	}
	out, err := s.aead.Open(nil, ciphertext[:n], ciphertext[n:], associatedData)
	if err != nil {
		return nil, fmt.Errorf("open: sealed value is not authentic")
	}
	return out, nil
}
