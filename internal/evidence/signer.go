package evidence

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"gantry.dev/gantry"
)

var _ gantry.Signer = (*Signer)(nil)

// Signer signs evidence with a crypto.Signer whose public key is ECDSA
// P-256 or Ed25519: a key file, or anything else that holds such a key
// (a hardware token, a KMS client). A KMS that signs digests only, or
// another key type, implements gantry.Signer itself. A Signer is safe for
// concurrent use when its key is, as Go's ECDSA and Ed25519 keys are.
type Signer struct {
	key  crypto.Signer
	hash crypto.Hash // what is signed: the message's SHA-256, or (0) the message
}

// NewSigner returns a Signer over key.
func NewSigner(key crypto.Signer) (*Signer, error) {
	pub := key.Public()
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	s := &Signer{key: key}
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		s.hash = crypto.SHA256
	}
	return s, nil
}

// Sign returns the signature of message: for ECDSA, ASN.1 DER over the
// message's SHA-256; for Ed25519, pure Ed25519 over the message.
func (s *Signer) Sign(ctx context.Context, message []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	digest := message
	if s.hash == crypto.SHA256 {
		sum := sha256.Sum256(message)
		digest = sum[:]
	}
	sig, err := s.key.Sign(rand.Reader, digest, s.hash)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// Public returns the public key that verifies the signatures.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// verifySignature checks a signature made the way Signer makes them.
func verifySignature(pub crypto.PublicKey, message, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(message)
		return ecdsa.VerifyASN1(k, sum[:], sig)
	case ed25519.PublicKey:
		return len(k) == ed25519.PublicKeySize && ed25519.Verify(k, message, sig)
	}
	return false
}
