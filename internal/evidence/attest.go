package evidence

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gantry.dev/gantry"
)

// AttestStep makes the signed attestation of a step: its statement in a
// DSSE envelope, with the signing key's hint for its Sigstore bundle. CreatedAt is
// the step's finish time and LedgerIndex is left for the ledger.
func AttestStep(ctx context.Context, s gantry.Signer, in *StepInput) (*gantry.Attestation, error) {
	st, err := stepStatement(in)
	if err != nil {
		return nil, err
	}
	a, err := attest(ctx, s, st)
	if err != nil {
		return nil, fmt.Errorf("attest step %s: %w", in.Step.Name, err)
	}
	a.RunID, a.Stage, a.Step, a.Kind = in.Run.ID, in.Step.Stage, in.Step.Name, in.Kind
	a.CreatedAt = in.Step.FinishedAt
	return a, nil
}

// AttestGate makes the signed attestation of a stage's gate decision.
// CreatedAt is the stage's finish time and LedgerIndex is left for the
// ledger.
func AttestGate(ctx context.Context, s gantry.Signer, in *GateInput) (*gantry.Attestation, error) {
	st, err := gateStatement(in)
	if err != nil {
		return nil, err
	}
	a, err := attest(ctx, s, st)
	if err != nil {
		return nil, fmt.Errorf("attest gate of stage %s: %w", in.Stage.Name, err)
	}
	a.RunID, a.Stage, a.Kind = in.Run.ID, in.Stage.Name, gantry.KindGate
	a.CreatedAt = in.Stage.FinishedAt
	return a, nil
}

// attest signs a statement Gantry built, which needs no parsing to be
// checked. Its bundle is made when asked for (BundleOf): a bundle is the
// same envelope again, and storing it twice would cost every step.
func attest(ctx context.Context, s gantry.Signer, st *statement) (*gantry.Attestation, error) {
	payload, err := st.marshal()
	if err != nil {
		return nil, err
	}
	env, err := signPayload(ctx, s, payload)
	if err != nil {
		return nil, err
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	hint, err := KeyHint(s.Public())
	if err != nil {
		return nil, err
	}
	return &gantry.Attestation{
		Digest:        gantry.DigestBytes(envJSON),
		PredicateType: st.predicateType,
		Subjects:      st.subjects,
		Envelope:      envJSON,
		KeyHint:       hint,
	}, nil
}

// BundleOf returns an attestation as a Sigstore bundle v0.3: its envelope
// and its signing key's hint.
func BundleOf(a *gantry.Attestation) ([]byte, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(a.Envelope, &env); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "bundle of attestation %s: envelope is not DSSE JSON: %w", a.Digest.Short(), err)
	}
	if a.KeyHint == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "bundle of attestation %s: no key hint", a.Digest.Short())
	}
	return newBundle(&env, a.KeyHint)
}
