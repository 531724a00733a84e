package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// Sealing is envelope encryption with AES-256-GCM. Each Seal makes a fresh
// random 256-bit data key (DEK), encrypts the value under it, and encrypts
// ("wraps") the DEK under the keyring's current key-encryption key (KEK).
// Envelope rather than direct KEK sealing because rotation then only
// re-wraps 32-byte data keys: Reseal never decrypts a value, so rotating
// every secret of a server keeps no value in memory, and the value's
// ciphertext does not change.
//
// A sealed value is self-describing, so that callers with no column for
// the key ID (a user's TOTP secret) can still rotate:
//
//	version  1 byte   (sealVersion)
//	idLen    1 byte   1..64
//	keyID    idLen bytes: the KEK that wrapped the DEK
//	wNonce   12 bytes
//	wrapped  48 bytes: AES-GCM(KEK, DEK), additional data = header || ad
//	vNonce   12 bytes
//	value    len(plaintext)+16 bytes: AES-GCM(DEK, plaintext), additional data = version || ad
//
// The header (version, idLen, keyID) is authenticated with the wrapped
// DEK. The caller's associated data ad binds both layers to what the value
// belongs to: a sealed value copied to another place, or given another
// place's ad, does not open. Random 96-bit nonces are safe here: each DEK
// seals one value, and a KEK wraps far fewer than the 2^32 DEKs that would
// make a nonce collision likely.
const sealVersion = 1

const (
	nonceSize   = 12
	tagSize     = 16
	wrappedSize = KeySize + tagSize
)

// Overhead is how many bytes a sealed value has beyond its plaintext and
// key ID.
const Overhead = 1 + 1 + nonceSize + wrappedSize + nonceSize + tagSize

// ErrCorrupt says a sealed value does not open with the key it names: it
// was altered, it is not a sealed value, or it belongs to another secret
// (other associated data).
var ErrCorrupt = errors.New("sealed value does not open: it was altered or belongs to something else")

// Sealer seals and opens small values under a Keyring. It is what the
// secrets Service uses for secret values, and what other packages may use
// for values they keep encrypted (such as TOTP secrets). A Sealer is safe
// for concurrent use if its random source is.
type Sealer struct {
	ring *Keyring
	rand io.Reader
}

// NewSealer returns a Sealer over ring that reads nonces and data keys
// from rnd (crypto/rand.Reader when nil).
func NewSealer(ring *Keyring, rnd io.Reader) *Sealer {
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Sealer{ring: ring, rand: rnd}
}

// Keyring returns the sealer's keyring.
func (s *Sealer) Keyring() *Keyring { return s.ring }

// Seal encrypts plaintext under a fresh data key wrapped by the current
// key, binding it to ad.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	id := s.ring.Current()
	kek, err := s.ring.kek(id)
	if err != nil {
		return nil, err
	}
	var dek [KeySize]byte
	if _, err := io.ReadFull(s.rand, dek[:]); err != nil {
		return nil, fmt.Errorf("seal: read randomness: %w", err)
	}
	dgcm, err := newGCM(dek[:])
	if err != nil {
		return nil, err
	}
	head := header(id)
	out := make([]byte, 0, len(head)+nonceSize+wrappedSize+nonceSize+len(plaintext)+tagSize)
	out = append(out, head...)
	out, err = s.wrap(out, kek, head, dek[:], ad)
	if err != nil {
		return nil, err
	}
	start := len(out)
	out = out[:start+nonceSize]
	if _, err := io.ReadFull(s.rand, out[start:]); err != nil {
		return nil, fmt.Errorf("seal: read randomness: %w", err)
	}
	return dgcm.Seal(out, out[start:], plaintext, valueAD(ad)), nil
}

// wrap appends to out a nonce and dek sealed by kek.
func (s *Sealer) wrap(out []byte, kek cipher.AEAD, head, dek, ad []byte) ([]byte, error) {
	start := len(out)
	out = out[:start+nonceSize]
	if _, err := io.ReadFull(s.rand, out[start:]); err != nil {
		return nil, fmt.Errorf("seal: read randomness: %w", err)
	}
	return kek.Seal(out, out[start:], dek, wrapAD(head, ad)), nil
}

// Open decrypts a value sealed with the same ad. A value sealed under a
// key the keyring no longer has is an EUnavailable error naming the key;
// one that does not authenticate is ErrCorrupt.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	p, err := parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	dek, err := s.unwrap(p, ad)
	if err != nil {
		return nil, err
	}
	dgcm, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	plain, err := dgcm.Open(nil, p.vNonce, p.value, valueAD(ad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// Reseal re-wraps the data key of sealed under the current key, checking
// that it opens with ad; the value's own ciphertext is kept as it is and
// never decrypted. A value already under the current key is returned as
// it is.
func (s *Sealer) Reseal(sealed, ad []byte) ([]byte, error) {
	p, err := parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	dek, err := s.unwrap(p, ad)
	if err != nil {
		return nil, err
	}
	id := s.ring.Current()
	if p.keyID == id {
		return sealed, nil
	}
	kek, err := s.ring.kek(id)
	if err != nil {
		return nil, err
	}
	head := header(id)
	out := make([]byte, 0, len(head)+nonceSize+wrappedSize+nonceSize+len(p.value))
	out = append(out, head...)
	out, err = s.wrap(out, kek, head, dek, ad)
	if err != nil {
		return nil, err
	}
	out = append(out, p.vNonce...)
	return append(out, p.value...), nil
}

func (s *Sealer) unwrap(p sealed, ad []byte) ([]byte, error) {
	kek, err := s.ring.kek(p.keyID)
	if err != nil {
		return nil, err
	}
	dek, err := kek.Open(nil, p.wNonce, p.wrapped, wrapAD(p.head, ad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return dek, nil
}

// SealedKeyID returns the ID of the key-encryption key that sealed a
// value, without opening it.
func SealedKeyID(sealed []byte) (string, error) {
	p, err := parseSealed(sealed)
	if err != nil {
		return "", err
	}
	return p.keyID, nil
}

// sealed is a sealed value cut into its parts; the slices alias the input.
type sealed struct {
	head    []byte
	keyID   string
	wNonce  []byte
	wrapped []byte
	vNonce  []byte
	value   []byte
}

func parseSealed(b []byte) (sealed, error) {
	if len(b) < 2 {
		return sealed{}, fmt.Errorf("%w (%d bytes is too short)", ErrCorrupt, len(b))
	}
	if b[0] != sealVersion {
		return sealed{}, fmt.Errorf("%w (unknown format version %d)", ErrCorrupt, b[0])
	}
	n := int(b[1])
	if n == 0 || n > maxKeyIDLen || len(b) < 2+n+Overhead-2 {
		return sealed{}, fmt.Errorf("%w (%d bytes is too short)", ErrCorrupt, len(b))
	}
	id := string(b[2 : 2+n])
	if checkKeyID(id) != nil {
		return sealed{}, fmt.Errorf("%w (malformed key ID)", ErrCorrupt)
	}
	p := sealed{head: b[:2+n], keyID: id}
	rest := b[2+n:]
	p.wNonce, rest = rest[:nonceSize], rest[nonceSize:]
	p.wrapped, rest = rest[:wrappedSize], rest[wrappedSize:]
	p.vNonce, p.value = rest[:nonceSize], rest[nonceSize:]
	return p, nil
}

func header(keyID string) []byte {
	return append([]byte{sealVersion, byte(len(keyID))}, keyID...)
}

// wrapAD is the additional data of the wrapped DEK: the header, so that
// the version and key ID cannot be changed, then the caller's ad. The
// header is length-prefixed, so the concatenation is unambiguous.
func wrapAD(head, ad []byte) []byte {
	return append(append(make([]byte, 0, len(head)+len(ad)), head...), ad...)
}

// valueAD leaves out the key ID, so that Reseal can keep the value's
// ciphertext.
func valueAD(ad []byte) []byte {
	return append([]byte{sealVersion}, ad...)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}
