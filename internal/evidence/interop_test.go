package evidence

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"gantry.dev/gantry"
)

// attestFile writes an artifact and the bundle of its provenance into a
// new directory, as the engine would, and returns their paths.
func attestFile(t *testing.T, s gantry.Signer) (artifact, bundle string) {
	t.Helper()
	dir := t.TempDir()
	content := []byte("#!/bin/sh\necho the app\n")
	artifact = filepath.Join(dir, "app")
	if err := os.WriteFile(artifact, content, 0o600); err != nil {
		t.Fatal(err)
	}
	in := stepInputs()["provenance"]
	in.Step.Outputs = []gantry.Artifact{{Path: "bin/app", Digest: gantry.DigestBytes(content), Size: int64(len(content)), Step: "build"}}
	a, err := AttestStep(context.Background(), s, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BundleOf(a)
	if err != nil {
		t.Fatal(err)
	}
	bundle = filepath.Join(dir, "app.sigstore.json")
	if err := os.WriteFile(bundle, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return artifact, bundle
}

// sigstoreVerifier is sigstore-go's verifier trusting one public key,
// found by its hint, with no transparency log and no timestamps: the
// bundle is signed by a long-lived key and Gantry's ledger, not Rekor,
// records it.
func sigstoreVerifier(t *testing.T, hint string, pub crypto.PublicKey) *verify.Verifier {
	t.Helper()
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	material := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		hint: root.NewExpiringKey(sv, time.Time{}, time.Time{}),
	})
	v, err := verify.NewVerifier(material, verify.WithNoObserverTimestamps())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSigstoreGoVerifiesBundle(t *testing.T) {
	signers := testSigners(t)
	for name, s := range signers {
		t.Run(name, func(t *testing.T) {
			artifactPath, bundlePath := attestFile(t, s)
			b, err := sgbundle.LoadJSONFromPath(bundlePath)
			if err != nil {
				t.Fatalf("sigstore-go does not load the bundle: %v", err)
			}
			hint, _ := KeyHint(s.Public())
			v := sigstoreVerifier(t, hint, s.Public())
			verifyWith := func(artifact []byte) (*verify.VerificationResult, error) {
				return v.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithKey()))
			}

			artifact, err := os.ReadFile(artifactPath)
			if err != nil {
				t.Fatal(err)
			}
			res, err := verifyWith(artifact)
			if err != nil {
				t.Fatalf("sigstore-go does not verify the bundle: %v", err)
			}
			if res.Statement.GetPredicateType() != PredicateProvenance {
				t.Errorf("verified predicate type %s, want %s", res.Statement.GetPredicateType(), PredicateProvenance)
			}
			if res.Signature == nil || res.Signature.PublicKeyID == nil || string(*res.Signature.PublicKeyID) != hint {
				t.Errorf("verified by key %v, want %s", res.Signature, hint)
			}
			// The digest form of the artifact policy works too.
			sum := sha256.Sum256(artifact)
			if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", sum[:]), verify.WithKey())); err != nil {
				t.Errorf("sigstore-go with the artifact digest: %v", err)
			}

			if _, err := verifyWith(append(bytes.Clone(artifact), '\n')); err == nil || !strings.Contains(err.Error(), "artifact") {
				t.Errorf("sigstore-go verified another artifact: %v", err)
			}
			var other gantry.Signer = signers["ecdsa"]
			if name == "ecdsa" {
				other = testSigners(t)["ecdsa"]
			}
			wrong := sigstoreVerifier(t, hint, other.Public())
			if _, err := wrong.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithKey())); err == nil {
				t.Error("sigstore-go verified the bundle with another key")
			}
			unknown := sigstoreVerifier(t, "another hint", s.Public())
			if _, err := unknown.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithKey())); err == nil {
				t.Error("sigstore-go verified the bundle without a key for its hint")
			}
		})
	}
}

// TestCosignVerifiesBundle runs cosign verify-blob-attestation on a
// produced bundle, as an auditor would.
func TestCosignVerifiesBundle(t *testing.T) {
	cosign := os.Getenv("GANTRY_TEST_COSIGN")
	if cosign == "" {
		t.Skip("set GANTRY_TEST_COSIGN to a cosign binary to run this test; build one with: go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3")
	}
	for name, s := range testSigners(t) {
		t.Run(name, func(t *testing.T) {
			artifact, bundle := attestFile(t, s)
			pubPEM, err := MarshalPublicKey(s.Public())
			if err != nil {
				t.Fatal(err)
			}
			pub := filepath.Join(filepath.Dir(bundle), "pub.pem")
			if err := os.WriteFile(pub, pubPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			cosignVerify := func(artifact string) (string, error) {
				cmd := exec.Command(cosign, "verify-blob-attestation", "--key", pub, "--bundle", bundle,
					"--type", "slsaprovenance1", "--insecure-ignore-tlog", artifact)
				// cosign must not reach for a TUF root or a network
				// service: everything it needs is on the command line.
				cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TUF_ROOT="+t.TempDir())
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := cosignVerify(artifact); err != nil || !strings.Contains(out, "Verified OK") {
				t.Fatalf("cosign verify-blob-attestation: %v\n%s", err, out)
			}
			other := filepath.Join(filepath.Dir(bundle), "other")
			if err := os.WriteFile(other, []byte("not the app"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := cosignVerify(other); err == nil || !strings.Contains(out, "digest") {
				t.Errorf("cosign on another artifact: %v, want a digest mismatch:\n%s", err, out)
			}
		})
	}
}
