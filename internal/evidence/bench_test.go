package evidence

import (
	"context"
	"crypto"
	"testing"
)

// BenchmarkAttestStep measures the evidence work the engine adds to one
// step: the provenance statement, its DSSE signature and the bundle. The
// budget is 0.5 ms a step.
func BenchmarkAttestStep(b *testing.B) {
	ctx := context.Background()
	for _, alg := range []string{"ecdsa", "ed25519"} {
		s := testSigners(b)[alg]
		for _, kind := range []string{"provenance", "link"} {
			in := stepInputs()[kind]
			b.Run(alg+"/"+kind, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := AttestStep(ctx, s, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkVerifyEnvelope measures checking one envelope, which gantry
// verify does for every attestation of an artifact's chain.
func BenchmarkVerifyEnvelope(b *testing.B) {
	ctx := context.Background()
	for _, alg := range []string{"ecdsa", "ed25519"} {
		s := testSigners(b)[alg]
		a, err := AttestStep(ctx, s, stepInputs()["provenance"])
		if err != nil {
			b.Fatal(err)
		}
		trusted := []crypto.PublicKey{s.Public()}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := VerifyEnvelope(ctx, a.Envelope, trusted); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
