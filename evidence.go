package gantry

import (
	"context"
	"crypto"
	"time"
)

// Signer signs evidence. Key files on disk implement it; a cloud KMS or
// Vault's transit engine can implement it as well.
type Signer interface {
	// Sign returns the signature of message: for an ECDSA key, ASN.1 DER
	// over the message's SHA-256; for an Ed25519 key, over the message.
	Sign(ctx context.Context, message []byte) ([]byte, error)
	// Public returns the key that verifies the signatures.
	Public() crypto.PublicKey
}

// Attestation kinds: what a step or gate is, which chooses its predicate.
const (
	KindProvenance = "provenance"  // a step with outputs: SLSA Provenance v1
	KindTestResult = "test-result" // a test step: the in-toto test-result predicate
	KindVulns      = "vulns"       // a dependency scan: the in-toto vulns predicate
	KindScan       = "scan"        // another scanner: its SARIF digest and counts
	KindLink       = "link"        // any other step: command, materials, products
	KindGate       = "gate"        // a stage's gate decision
)

// Subject is what an attestation is about: a named digest.
type Subject struct {
	Name   string `json:"name"`
	Digest Digest `json:"digest"`
}

// Attestation is a signed in-toto statement about one step or one gate
// decision of a run: the unit an auditor checks.
type Attestation struct {
	Digest        Digest    `json:"digest"` // of Envelope: what the ledger records
	RunID         RunID     `json:"run_id"`
	Stage         string    `json:"stage"`
	Step          string    `json:"step,omitempty"` // empty for a gate decision
	Kind          string    `json:"kind"`
	PredicateType string    `json:"predicate_type"`
	Subjects      []Subject `json:"subjects"`
	Envelope      []byte    `json:"-"`            // the DSSE envelope, JSON
	KeyHint       string    `json:"key_hint"`     // the signing key's hint: its Sigstore bundle is made from it and Envelope
	LedgerIndex   int64     `json:"ledger_index"` // the ledger entry that records Digest
	CreatedAt     time.Time `json:"created_at"`
}

// AttestationFilter narrows Attestations. At least one field must be set.
type AttestationFilter struct {
	RunID   RunID
	Subject Digest // attestations with a subject of this digest, newest run first
}

// AttestationStore keeps attestations.
type AttestationStore interface {
	// PutAttestations records attestations of known runs, all or none;
	// each Digest must be the digest of its Envelope. Putting a digest
	// that is stored already is an EConflict error.
	PutAttestations(ctx context.Context, as []*Attestation) error
	// Attestation returns the attestation with that digest, or ErrNotFound.
	Attestation(ctx context.Context, d Digest) (*Attestation, error)
	// Attestations lists attestations in the order they were put, or by
	// subject newest run first.
	Attestations(ctx context.Context, filter AttestationFilter) ([]*Attestation, error)
}
