package evidence

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
)

// Algorithm is a signing key's algorithm.
type Algorithm string

// The signing key algorithms.
const (
	ECDSAP256 Algorithm = "ecdsa-p256" // the default: what every verifier supports
	Ed25519   Algorithm = "ed25519"
)

// The files of a key directory.
const (
	SigningKeyFile = "signing.key"
	SigningPubFile = "signing.pub"
	LedgerKeyFile  = "ledger.key"
	LedgerPubFile  = "ledger.pub"
)

// Errors of loading an encrypted private key. They come wrapped in a
// *gantry.Error of kind EUnauthorized that names the file.
var (
	ErrPassphraseRequired = errors.New("the key is encrypted and no passphrase was given")
	ErrWrongPassphrase    = errors.New("wrong passphrase, or the encrypted key was altered")
)

// maxKeyFile bounds what is read of a key file: real ones are a few
// hundred bytes.
const maxKeyFile = 64 << 10

// GenerateOptions says what GenerateKeys makes.
type GenerateOptions struct {
	// Algorithm is the signing key's; empty means ECDSAP256.
	Algorithm Algorithm
	// LedgerName names the ledger's checkpoint key; checkpoints carry it
	// as their origin, so it should say whose log this is (for example
	// "gantry.example.com/ledger"). It may not contain spaces or '+'.
	LedgerName string
	// Passphrase, when not empty, encrypts both private keys.
	Passphrase []byte
	// Overwrite replaces keys already in the directory. Without it,
	// GenerateKeys refuses to touch a directory that has any of them.
	Overwrite bool
	// Rand is the source of key material, salts and nonces; nil means
	// crypto/rand. ECDSA key generation always uses crypto/rand.
	Rand io.Reader
}

// PublicKeys are the public halves of a key directory: what a verifier
// trusts.
type PublicKeys struct {
	Signing   crypto.PublicKey // verifies attestations
	Ledger    note.Verifier    // verifies the ledger's checkpoints
	LedgerKey string           // the note verifier key, as in ledger.pub
}

// GenerateKeys creates a signing key and a ledger checkpoint key in dir,
// creating dir (mode 0700) if needed, and returns their public halves.
// Private keys are written with mode 0600, each file atomically.
func GenerateKeys(dir string, opts GenerateOptions) (*PublicKeys, error) {
	alg := opts.Algorithm
	if alg == "" {
		alg = ECDSAP256
	}
	if alg != ECDSAP256 && alg != Ed25519 {
		return nil, gantry.Errorf(gantry.EInvalid, "unknown key algorithm %q (want %s or %s)", alg, ECDSAP256, Ed25519)
	}
	if opts.LedgerName == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "the ledger key needs a name")
	}
	if !utf8.ValidString(opts.LedgerName) || strings.ContainsFunc(opts.LedgerName, unicode.IsSpace) || strings.Contains(opts.LedgerName, "+") {
		return nil, gantry.Errorf(gantry.EInvalid, "ledger key name %q: a note key name may not contain spaces or '+'", opts.LedgerName)
	}
	random := opts.Rand
	if random == nil {
		random = rand.Reader
	}
	files := []string{SigningKeyFile, SigningPubFile, LedgerKeyFile, LedgerPubFile}
	if !opts.Overwrite {
		for _, name := range files {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				return nil, gantry.Errorf(gantry.EConflict, "keys exist already in %s (%s): refusing to overwrite them: %w", dir, name, fs.ErrExist)
			}
		}
	}

	var priv crypto.Signer
	var err error
	switch alg {
	case ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), random)
	case Ed25519:
		_, priv, err = ed25519.GenerateKey(random)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	pubPEM, err := MarshalPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(random, opts.LedgerName)
	if err != nil {
		return nil, fmt.Errorf("generate ledger key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("read back ledger key: %w", err)
	}

	keyFile := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	ledgerFile := []byte(skey + "\n")
	if len(opts.Passphrase) > 0 {
		if keyFile, err = encryptKey(random, opts.Passphrase, contentPKCS8, der); err != nil {
			return nil, err
		}
		if ledgerFile, err = encryptKey(random, opts.Passphrase, contentNote, []byte(skey)); err != nil {
			return nil, err
		}
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	// The signing key goes first: when two processes race to create the
	// keys, the one that loses finds it there and writes nothing else.
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{SigningKeyFile, keyFile, 0o600},
		{SigningPubFile, pubPEM, 0o644},
		{LedgerKeyFile, ledgerFile, 0o600},
		{LedgerPubFile, []byte(vkey + "\n"), 0o644},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.perm, opts.Overwrite); err != nil {
			return nil, err
		}
	}
	return &PublicKeys{Signing: priv.Public(), Ledger: verifier, LedgerKey: vkey}, nil
}

// LoadSigner loads the signing key of dir. The passphrase is needed only
// when the key is encrypted.
func LoadSigner(dir string, passphrase []byte) (*Signer, error) {
	path := filepath.Join(dir, SigningKeyFile)
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(data)
	if block == nil || strings.TrimSpace(string(rest)) != "" {
		return nil, gantry.Errorf(gantry.EInvalid, "%s: not one PEM block", path)
	}
	var der []byte
	switch block.Type {
	case "PRIVATE KEY":
		der = block.Bytes
	case encryptedBlockType:
		if der, err = decryptKey(block, contentPKCS8, passphrase); err != nil {
			return nil, keyError(path, err)
		}
	default:
		return nil, gantry.Errorf(gantry.EInvalid, "%s: PEM block %q is not a PKCS#8 private key", path, block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "%s: %w", path, err)
	}
	cs, ok := key.(crypto.Signer)
	if !ok {
		return nil, gantry.Errorf(gantry.EInvalid, "%s: a %T cannot sign", path, key)
	}
	s, err := NewSigner(cs)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "%s: %w", path, err)
	}
	return s, nil
}

// LoadLedgerSigner loads the ledger's checkpoint key of dir. The passphrase
// is needed only when the key is encrypted.
func LoadLedgerSigner(dir string, passphrase []byte) (note.Signer, error) {
	path := filepath.Join(dir, LedgerKeyFile)
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	skey := strings.TrimSpace(string(data))
	if block, rest := pem.Decode(data); block != nil {
		if block.Type != encryptedBlockType || strings.TrimSpace(string(rest)) != "" {
			return nil, gantry.Errorf(gantry.EInvalid, "%s: not a note signer key nor one encrypted PEM block", path)
		}
		plain, err := decryptKey(block, contentNote, passphrase)
		if err != nil {
			return nil, keyError(path, err)
		}
		skey = string(plain)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		// The error of note does not include the key, which must not be
		// printed anyway.
		return nil, gantry.Errorf(gantry.EInvalid, "%s: not a note signer key: %w", path, err)
	}
	return signer, nil
}

// LoadPublicKeys loads the public keys of dir.
func LoadPublicKeys(dir string) (*PublicKeys, error) {
	path := filepath.Join(dir, SigningPubFile)
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "%s: %w", path, err)
	}
	path = filepath.Join(dir, LedgerPubFile)
	if data, err = readKeyFile(path); err != nil {
		return nil, err
	}
	vkey := strings.TrimSpace(string(data))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "%s: not a note verifier key: %w", path, err)
	}
	return &PublicKeys{Signing: pub, Ledger: verifier, LedgerKey: vkey}, nil
}

// ParsePublicKey reads a signing public key from PEM ("PUBLIC KEY",
// PKIX), as a user gives it to verify with: ECDSA P-256 or Ed25519.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "no PEM block: want a PEM public key (\"-----BEGIN PUBLIC KEY-----\")")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, gantry.Errorf(gantry.EInvalid, "PEM block %q is not a public key (want \"PUBLIC KEY\")", block.Type)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, gantry.Errorf(gantry.EInvalid, "more than one PEM block: give one public key")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "parse public key: %w", err)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// MarshalPublicKey writes a signing public key as PKIX PEM.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// KeyHint returns a public key's stable identity: the hex SHA-256 of its
// PKIX DER encoding. Bundles carry it as their publicKey.hint.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key hint: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// checkPublicKey accepts the keys Gantry signs with, and nothing else, so
// that a verifier never has to guess a hash.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return gantry.Errorf(gantry.EInvalid, "ECDSA key on curve %s: only P-256 is supported", k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return gantry.Errorf(gantry.EInvalid, "Ed25519 key of %d bytes", len(k))
		}
		return nil
	}
	return gantry.Errorf(gantry.EInvalid, "%T keys are not supported: use ECDSA P-256 or Ed25519", pub)
}

// readKeyFile reads a small file of a key directory; a missing one says
// how to make it.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, gantry.Errorf(gantry.ENotFound, "%s does not exist: create keys with gantry keys generate: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, gantry.Errorf(gantry.EInvalid, "%s is larger than %d bytes: not a key file", path, maxKeyFile)
	}
	return data, nil
}

// keyError gives a decryption error the path and the kind a user sees.
func keyError(path string, err error) error {
	if errors.Is(err, ErrPassphraseRequired) || errors.Is(err, ErrWrongPassphrase) {
		return gantry.Errorf(gantry.EUnauthorized, "%s: %w", path, err)
	}
	return gantry.Errorf(gantry.EInvalid, "%s: %w", path, err)
}

// writeFileAtomic writes a file so that readers see all of it or none of
// it. Without overwrite, an existing file is an EConflict error, checked
// atomically where the file system can link.
func writeFileAtomic(path string, data []byte, perm os.FileMode, overwrite bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		// After a rename this finds nothing; after a link it removes the
		// second name.
		_ = os.Remove(tmp)
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if overwrite {
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return gantry.Errorf(gantry.EConflict, "%s exists already: refusing to overwrite it: %w", path, fs.ErrExist)
		}
		if err != nil {
			// A file system without hard links: check, then rename.
			if _, statErr := os.Lstat(path); statErr == nil {
				return gantry.Errorf(gantry.EConflict, "%s exists already: refusing to overwrite it: %w", path, fs.ErrExist)
			}
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		// Make the new name durable; not every platform can sync a
		// directory, and the data is already safe.
		_ = d.Sync()
		d.Close()
	}
	return nil
}
