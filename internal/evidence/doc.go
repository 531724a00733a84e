// Package evidence turns what a run did into signed, checkable evidence:
// the keys that sign it, in-toto Statement v1 attestations with a predicate
// chosen by what a step is (SLSA Provenance v1, in-toto test-result, vulns
// and link, and Gantry's scan and gate predicates), DSSE envelopes, and
// Sigstore bundles v0.3 that sigstore-go and cosign verify with a public
// key.
//
// It is a library without storage: the engine attests steps and gates,
// the ledger records the envelopes' digests, and verification reads them
// back from wherever they are kept.
//
// # Key directory
//
// A key directory holds four files:
//
//	signing.key  the attestation signing key: PKCS#8 PEM ("PRIVATE KEY"), mode 0600
//	signing.pub  its public key: PKIX PEM ("PUBLIC KEY")
//	ledger.key   the ledger's checkpoint key: a golang.org/x/mod/sumdb/note
//	             signer key ("PRIVATE+KEY+name+hash+key"), mode 0600
//	ledger.pub   its note verifier key ("name+hash+key")
//
// # Encrypted private keys
//
// With a passphrase, signing.key and ledger.key hold instead one PEM block
// of type "GANTRY ENCRYPTED PRIVATE KEY" with these headers:
//
//	Content: pkcs8 | note       what the plaintext is
//	KDF: argon2id
//	KDF-Params: t=3,m=65536,p=4 argon2id time, memory in KiB, threads
//	Salt: <base64, 16 bytes>
//	Cipher: aes-256-gcm
//	Nonce: <base64, 12 bytes>
//
// The block's bytes are AES-256-GCM ciphertext and tag of the plaintext
// under the 32-byte argon2id key of the passphrase and salt. The block type
// and the headers, written "Name: value\n" in the order above, are the
// additional authenticated data, so that changing a parameter is detected
// like a wrong passphrase.
package evidence
