package evidence

import (
	"context"
	"encoding/json"
	"fmt"

	"gantry.dev/gantry"
)

// AttestStep makes the signed attestation of a step: its statement in a
// DSSE envelope and the same envelope as a Sigstore bundle. CreatedAt is
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
// checked, and wraps it in a bundle.
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
	bundle, err := newBundle(env, hint)
	if err != nil {
		return nil, err
	}
	return &gantry.Attestation{
		Digest:        gantry.DigestBytes(envJSON),
		PredicateType: st.predicateType,
		Subjects:      st.subjects,
		Envelope:      envJSON,
		Bundle:        bundle,
	}, nil
}
