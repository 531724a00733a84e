package evidence

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

func TestAttestStepAndGate(t *testing.T) {
	ctx := context.Background()
	s := testSigners(t)["ecdsa"]
	trusted := []crypto.PublicKey{s.Public()}

	var steps []*gantry.Attestation
	for _, kind := range []string{"provenance", "test-result", "vulns", "scan", "link"} {
		in := stepInputs()[kind]
		a, err := AttestStep(ctx, s, in)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		steps = append(steps, a)
		if a.Digest != gantry.DigestBytes(a.Envelope) {
			t.Errorf("%s: digest %s is not the envelope's", kind, a.Digest)
		}
		want := &gantry.Attestation{
			Digest: a.Digest, RunID: in.Run.ID, Stage: "commit", Step: in.Step.Name, Kind: in.Kind,
			PredicateType: predicateTypes[in.Kind], Subjects: a.Subjects, Envelope: a.Envelope, KeyHint: a.KeyHint,
			CreatedAt: in.Step.FinishedAt,
		}
		if diff := cmp.Diff(want, a); diff != "" {
			t.Errorf("%s attestation (-want +got):\n%s", kind, diff)
		}
		v, err := VerifyEnvelope(ctx, a.Envelope, trusted)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		var subjects []gantry.Subject
		for _, rd := range v.Statement.Subject {
			subjects = append(subjects, gantry.Subject{Name: rd.Name, Digest: gantry.Digest("sha256:" + rd.Digest["sha256"])})
		}
		if diff := cmp.Diff(a.Subjects, subjects); diff != "" {
			t.Errorf("%s: subjects differ from the signed statement's (-attestation +statement):\n%s", kind, diff)
		}
		bundle, err := BundleOf(a)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		env, hint, err := ParseBundle(bundle)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if hint != a.KeyHint {
			t.Errorf("%s: the bundle's hint %q is not the attestation's %q", kind, hint, a.KeyHint)
		}
		if !bytes.Equal(env, a.Envelope) {
			t.Errorf("%s: the bundle's envelope is not the attestation's:\n%s\n%s", kind, env, a.Envelope)
		}
	}

	in := gateInput()
	in.Attestations = steps
	g, err := AttestGate(ctx, s, in)
	if err != nil {
		t.Fatal(err)
	}
	if g.Kind != gantry.KindGate || g.Step != "" || g.Stage != "commit" || g.PredicateType != PredicateGate || !g.CreatedAt.Equal(in.Stage.FinishedAt) {
		t.Errorf("gate attestation %+v", g)
	}
	var want []gantry.Subject
	for _, a := range steps {
		want = append(want, gantry.Subject{Name: "attestation/" + a.Step, Digest: a.Digest})
	}
	if diff := cmp.Diff(want, g.Subjects); diff != "" {
		t.Errorf("gate subjects (-want +got):\n%s", diff)
	}
	if _, err := VerifyEnvelope(ctx, g.Envelope, trusted); err != nil {
		t.Error(err)
	}
}

// failingSigner is a signer whose key is out of reach, as a KMS may be.
type failingSigner struct{ gantry.Signer }

func (failingSigner) Sign(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("kms unreachable")
}

func TestAttestSignerFails(t *testing.T) {
	s := failingSigner{testSigners(t)["ed25519"]}
	_, err := AttestStep(context.Background(), s, stepInputs()["link"])
	if err == nil || err.Error() != "attest step lint: sign statement: kms unreachable" {
		t.Errorf("AttestStep with a failing signer: %v", err)
	}
}
