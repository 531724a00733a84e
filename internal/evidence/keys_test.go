package evidence

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
)

// seededRand is a deterministic reader for key generation in tests.
type seededRand struct{ n byte }

func (r *seededRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func TestGenerateAndLoad(t *testing.T) {
	for _, tc := range []struct {
		alg        Algorithm
		passphrase string
	}{
		{"", ""},
		{ECDSAP256, "correct horse"},
		{Ed25519, ""},
		{Ed25519, "correct horse"},
	} {
		name := string(tc.alg)
		if name == "" {
			name = "default"
		}
		if tc.passphrase != "" {
			name += "/encrypted"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			pubs, err := GenerateKeys(dir, GenerateOptions{Algorithm: tc.alg, LedgerName: "gantry.test/ledger", Passphrase: []byte(tc.passphrase)})
			if err != nil {
				t.Fatal(err)
			}
			for file, want := range map[string]os.FileMode{
				"":             0o700 | fs.ModeDir,
				SigningKeyFile: 0o600,
				SigningPubFile: 0o644,
				LedgerKeyFile:  0o600,
				LedgerPubFile:  0o644,
			} {
				fi, err := os.Stat(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != want {
					t.Errorf("%s: mode %v, want %v", file, fi.Mode(), want)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 4 {
				t.Errorf("key directory holds %d files, want 4 (no temporary files left)", len(entries))
			}
			keyPEM, _ := os.ReadFile(filepath.Join(dir, SigningKeyFile))
			ledgerKey, _ := os.ReadFile(filepath.Join(dir, LedgerKeyFile))
			encrypted := strings.Contains(string(keyPEM), encryptedBlockType)
			if encrypted != (tc.passphrase != "") || strings.Contains(string(ledgerKey), encryptedBlockType) != encrypted {
				t.Errorf("keys encrypted = %v, want %v:\n%s\n%s", encrypted, tc.passphrase != "", keyPEM, ledgerKey)
			}
			if encrypted && strings.Contains(string(ledgerKey), "PRIVATE+KEY") {
				t.Errorf("encrypted ledger key shows the note key:\n%s", ledgerKey)
			}

			signer, err := LoadSigner(dir, []byte(tc.passphrase))
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := LoadPublicKeys(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !publicEqual(loaded.Signing, signer.Public()) || !publicEqual(pubs.Signing, signer.Public()) {
				t.Error("signing.pub is not the public half of signing.key")
			}
			wantAlg := tc.alg
			if wantAlg == "" {
				wantAlg = ECDSAP256
			}
			if got := algorithmOf(signer.Public()); got != wantAlg {
				t.Errorf("key algorithm %s, want %s", got, wantAlg)
			}
			msg := []byte("a message")
			sig, err := signer.Sign(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if !verifySignature(loaded.Signing, msg, sig) {
				t.Error("signature does not verify with signing.pub")
			}

			ls, err := LoadLedgerSigner(dir, []byte(tc.passphrase))
			if err != nil {
				t.Fatal(err)
			}
			if ls.Name() != "gantry.test/ledger" || loaded.Ledger.Name() != ls.Name() || loaded.Ledger.KeyHash() != ls.KeyHash() || loaded.LedgerKey != pubs.LedgerKey {
				t.Errorf("ledger keys do not match: signer %s %08x, verifier %s %08x", ls.Name(), ls.KeyHash(), loaded.Ledger.Name(), loaded.Ledger.KeyHash())
			}
			signed, err := note.Sign(&note.Note{Text: "checkpoint\n"}, ls)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := note.Open(signed, note.VerifierList(loaded.Ledger)); err != nil {
				t.Errorf("ledger.pub does not verify a note signed with ledger.key: %v", err)
			}
		})
	}
}

func publicEqual(a, b crypto.PublicKey) bool {
	x, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && x.Equal(b)
}

func algorithmOf(pub crypto.PublicKey) Algorithm {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return ECDSAP256
	case ed25519.PublicKey:
		return Ed25519
	}
	return "unknown"
}

func TestGenerateDeterministic(t *testing.T) {
	gen := func() *PublicKeys {
		pubs, err := GenerateKeys(t.TempDir(), GenerateOptions{Algorithm: Ed25519, LedgerName: "l", Rand: &seededRand{}})
		if err != nil {
			t.Fatal(err)
		}
		return pubs
	}
	a, b := gen(), gen()
	if !publicEqual(a.Signing, b.Signing) || a.LedgerKey != b.LedgerKey {
		t.Error("the same random source gave different keys")
	}
}

func TestGenerateRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	opts := GenerateOptions{LedgerName: "gantry.test/ledger"}
	first, err := GenerateKeys(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = GenerateKeys(dir, opts)
	if gantry.ErrorKind(err) != gantry.EConflict || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second GenerateKeys: %v (kind %s), want a conflict wrapping fs.ErrExist", err, gantry.ErrorKind(err))
	}
	if loaded, err := LoadPublicKeys(dir); err != nil || !publicEqual(loaded.Signing, first.Signing) {
		t.Fatalf("the refused generation changed the keys: %v", err)
	}
	// One file left over from an interrupted generation is enough to
	// refuse.
	only := t.TempDir()
	if err := os.WriteFile(filepath.Join(only, LedgerPubFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKeys(only, opts); gantry.ErrorKind(err) != gantry.EConflict || !strings.Contains(err.Error(), LedgerPubFile) {
		t.Errorf("GenerateKeys over a stray %s: %v", LedgerPubFile, err)
	}

	opts.Overwrite = true
	second, err := GenerateKeys(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if publicEqual(first.Signing, second.Signing) {
		t.Error("overwriting kept the old key")
	}
	if loaded, err := LoadPublicKeys(dir); err != nil || !publicEqual(loaded.Signing, second.Signing) {
		t.Errorf("after overwriting, signing.pub is not the new key: %v", err)
	}
}

func TestGenerateRace(t *testing.T) {
	// Two runs creating keys at once: one wins, the other is refused, and
	// the directory holds one matching pair.
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = GenerateKeys(dir, GenerateOptions{LedgerName: "l"})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case gantry.ErrorKind(err) != gantry.EConflict:
			t.Errorf("a losing GenerateKeys: %v, want a conflict", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d generations succeeded, want 1", wins)
	}
	s, err := LoadSigner(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := LoadPublicKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !publicEqual(pubs.Signing, s.Public()) {
		t.Error("after the race, signing.pub and signing.key do not match")
	}
}

func TestGenerateInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts GenerateOptions
		want string
	}{
		{"algorithm", GenerateOptions{Algorithm: "rsa", LedgerName: "l"}, `unknown key algorithm "rsa"`},
		{"no ledger name", GenerateOptions{}, "needs a name"},
		{"bad ledger name", GenerateOptions{LedgerName: "a b"}, `ledger key name "a b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "k")
			_, err := GenerateKeys(dir, tc.opts)
			if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("GenerateKeys: %v, want an invalid error with %q", err, tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("an invalid generation created the directory: %v", err)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	dir := t.TempDir()
	for name, load := range map[string]func() error{
		"signer":      func() error { _, err := LoadSigner(dir, nil); return err },
		"ledger":      func() error { _, err := LoadLedgerSigner(dir, nil); return err },
		"public keys": func() error { _, err := LoadPublicKeys(dir); return err },
	} {
		err := load()
		if !errors.Is(err, fs.ErrNotExist) || gantry.ErrorKind(err) != gantry.ENotFound || !strings.Contains(err.Error(), "gantry keys generate") {
			t.Errorf("%s of an empty directory: %v", name, err)
		}
	}
}

func TestPassphrase(t *testing.T) {
	dir := t.TempDir()
	if _, err := GenerateKeys(dir, GenerateOptions{LedgerName: "l", Passphrase: []byte("right")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		passphrase string
		want       error
	}{
		{"wrong", "wrong", ErrWrongPassphrase},
		{"none", "", ErrPassphraseRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadSigner(dir, []byte(tc.passphrase))
			if !errors.Is(err, tc.want) || gantry.ErrorKind(err) != gantry.EUnauthorized || !strings.Contains(err.Error(), SigningKeyFile) {
				t.Errorf("LoadSigner: %v, want %v naming the file", err, tc.want)
			}
			_, err = LoadLedgerSigner(dir, []byte(tc.passphrase))
			if !errors.Is(err, tc.want) || gantry.ErrorKind(err) != gantry.EUnauthorized || !strings.Contains(err.Error(), LedgerKeyFile) {
				t.Errorf("LoadLedgerSigner: %v, want %v naming the file", err, tc.want)
			}
		})
	}
}

func TestEncryptedKeyAltered(t *testing.T) {
	dir := t.TempDir()
	if _, err := GenerateKeys(dir, GenerateOptions{LedgerName: "l", Passphrase: []byte("pw")}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SigningKeyFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(orig)
	for _, tc := range []struct {
		name   string
		change func(b *pem.Block)
		want   string
	}{
		{"ciphertext", func(b *pem.Block) { b.Bytes[0] ^= 1 }, ErrWrongPassphrase.Error()},
		{"salt", func(b *pem.Block) { b.Headers["Salt"] = "AAAAAAAAAAAAAAAAAAAAAA==" }, ErrWrongPassphrase.Error()},
		{"weaker params", func(b *pem.Block) { b.Headers["KDF-Params"] = "t=1,m=65536,p=4" }, ErrWrongPassphrase.Error()},
		{"huge memory", func(b *pem.Block) { b.Headers["KDF-Params"] = "t=3,m=4194304,p=4" }, "out of range"},
		{"params syntax", func(b *pem.Block) { b.Headers["KDF-Params"] = "t=3" }, "not three parameters"},
		{"content", func(b *pem.Block) { b.Headers["Content"] = contentNote }, `holds "note", want "pkcs8"`},
		{"cipher", func(b *pem.Block) { b.Headers["Cipher"] = "chacha20" }, "unsupported"},
		{"nonce", func(b *pem.Block) { b.Headers["Nonce"] = "AAAA" }, "nonce"},
		{"extra header", func(b *pem.Block) { b.Headers["Comment"] = "x" }, `unknown header "Comment"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &pem.Block{Type: block.Type, Headers: map[string]string{}, Bytes: bytes.Clone(block.Bytes)}
			for k, v := range block.Headers {
				b.Headers[k] = v
			}
			tc.change(b)
			if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSigner(dir, []byte("pw"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadSigner of a key with an altered %s: %v, want %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestLoadSignerInvalid(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a key only to be refused
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"not PEM", "hello", "not one PEM block"},
		{"public key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PKCS#8 private key"},
		{"garbage DER", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "signing.key"},
		{"rsa", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})), "use ECDSA P-256 or Ed25519"},
		{"p384", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})), "only P-256"},
		{"too large", strings.Repeat("x", maxKeyFile+1), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, SigningKeyFile), []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSigner(dir, nil)
			if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadSigner: %v, want an invalid error with %q", err, tc.want)
			}
		})
	}
}

func TestLoadLedgerSignerInvalid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, LedgerKeyFile), []byte("PRIVATE+KEY+nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadLedgerSigner(dir, nil)
	if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), "not a note signer key") || strings.Contains(err.Error(), "nonsense") {
		t.Errorf("LoadLedgerSigner: %v", err)
	}
}

func TestParsePublicKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pkix := func(pub crypto.PublicKey) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	for _, tc := range []struct {
		name string
		data string
		want string // an error, or "" for the key to load
	}{
		{"ecdsa", pkix(ec.Public()), ""},
		{"ed25519", pkix(edPub), ""},
		{"ed25519 with trailing newlines", pkix(edPub) + "\n\n", ""},
		{"p384", pkix(p384.Public()), "only P-256"},
		{"empty", "", "no PEM block"},
		{"private key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", `"PRIVATE KEY" is not a public key`},
		{"two keys", pkix(edPub) + pkix(ec.Public()), "more than one PEM block"},
		{"garbage DER", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "parse public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := ParsePublicKey([]byte(tc.data))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				round, err := MarshalPublicKey(pub)
				if err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(string(round)) != strings.TrimSpace(tc.data) {
					t.Errorf("MarshalPublicKey(ParsePublicKey(x)) = %s, want %s", round, tc.data)
				}
				return
			}
			if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePublicKey: %v, want an invalid error with %q", err, tc.want)
			}
		})
	}
}

func TestKeyHint(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(&seededRand{})
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	hint, err := KeyHint(pub)
	if err != nil || hint != hex.EncodeToString(sum[:]) {
		t.Errorf("KeyHint = %q, %v; want the hex SHA-256 of the PKIX DER", hint, err)
	}
	again, _ := KeyHint(ed25519.PublicKey(bytes.Clone(pub)))
	if again != hint {
		t.Error("KeyHint is not stable")
	}
}

func TestSignerKinds(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")
	for name, key := range map[string]crypto.Signer{"ecdsa": ec, "ed25519": ed} {
		s, err := NewSigner(key)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey:
			sum := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(&k.PublicKey, sum[:], sig) {
				t.Errorf("%s: not an ASN.1 signature over the message's SHA-256", name)
			}
		case ed25519.PrivateKey:
			if !ed25519.Verify(k.Public().(ed25519.PublicKey), msg, sig) {
				t.Errorf("%s: not a pure Ed25519 signature of the message", name)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Sign(ctx, msg); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Sign with a cancelled context: %v", name, err)
		}
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a key only to be refused
	if _, err := NewSigner(rsaKey); err == nil {
		t.Error("NewSigner accepted an RSA key")
	}
}
