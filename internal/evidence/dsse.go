package evidence

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"gantry.dev/gantry"
)

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

// maxEvidence bounds an envelope or a bundle given to be read: a statement
// with the longest test lists is a few megabytes.
const maxEvidence = 64 << 20

// ErrSignature is wrapped by the error of an envelope whose signature no
// trusted key verifies.
var ErrSignature = errors.New("signature does not verify")

// Verified is what a verified envelope says, and who said it.
type Verified struct {
	Statement *intoto.Statement
	KeyHint   string // the KeyHint of the trusted key that verified it
}

// SignStatement signs an in-toto Statement v1, as JSON, into a DSSE
// envelope, as JSON, with exactly one signature and an empty keyid: the
// key's identity travels in the bundle's public key hint, as cosign wants.
// The statement is signed as it is, after checking that it is one.
func SignStatement(ctx context.Context, s gantry.Signer, statement []byte) ([]byte, error) {
	if _, err := parseStatement(statement); err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	env, err := signPayload(ctx, s, statement)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return b, nil
}

func signPayload(ctx context.Context, s gantry.Signer, payload []byte) (*dsse.Envelope, error) {
	es, err := dsse.NewEnvelopeSigner(dsseSigner{s})
	if err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	return env, nil
}

// dsseSigner adapts a gantry.Signer to the dsse package.
type dsseSigner struct{ s gantry.Signer }

func (d dsseSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	return d.s.Sign(ctx, data)
}

// KeyID is empty on purpose: a bundle's DSSE signature must not carry one.
func (d dsseSigner) KeyID() (string, error) { return "", nil }

// VerifyEnvelope checks a DSSE envelope, as JSON, against trusted public
// keys and returns the in-toto Statement v1 it carries. The envelope must
// have exactly one signature; its keyid, an unauthenticated hint, is not
// looked at.
func VerifyEnvelope(ctx context.Context, envelope []byte, trusted []crypto.PublicKey) (*Verified, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(trusted) == 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "verify envelope: no trusted keys given")
	}
	if len(envelope) > maxEvidence {
		return nil, gantry.Errorf(gantry.EInvalid, "envelope of %d bytes is larger than the limit of %d", len(envelope), maxEvidence)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "envelope is not DSSE JSON: %w", err)
	}
	return verifyEnvelope(&env, trusted)
}

func verifyEnvelope(env *dsse.Envelope, trusted []crypto.PublicKey) (*Verified, error) {
	if env.PayloadType != PayloadType {
		return nil, gantry.Errorf(gantry.EInvalid, "envelope payload type is %q, want %q", env.PayloadType, PayloadType)
	}
	switch n := len(env.Signatures); {
	case n == 0:
		return nil, gantry.Errorf(gantry.EInvalid, "envelope has no signature")
	case n > 1:
		return nil, gantry.Errorf(gantry.EInvalid, "envelope has %d signatures, want exactly one", n)
	}
	payload, err := decodeBase64(env.Payload)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "envelope payload is not base64: %w", err)
	}
	sig, err := decodeBase64(env.Signatures[0].Sig)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "envelope signature is not base64: %w", err)
	}
	pae := dsse.PAE(env.PayloadType, payload)
	hint := ""
	for _, pub := range trusted {
		if verifySignature(pub, pae, sig) {
			if hint, err = KeyHint(pub); err != nil {
				return nil, err
			}
			break
		}
	}
	if hint == "" {
		tried := make([]string, 0, len(trusted))
		for _, pub := range trusted {
			h, err := KeyHint(pub)
			if err != nil {
				h = fmt.Sprintf("a %T", pub)
			}
			tried = append(tried, h)
		}
		return nil, gantry.Errorf(gantry.EInvalid, "envelope %w with any trusted key (tried %s)", ErrSignature, strings.Join(tried, ", "))
	}
	// Only a payload whose signature verified is parsed.
	st, err := parseStatement(payload)
	if err != nil {
		return nil, fmt.Errorf("envelope payload: %w", err)
	}
	return &Verified{Statement: st, KeyHint: hint}, nil
}

// parseStatement reads an in-toto Statement v1.
func parseStatement(data []byte) (*intoto.Statement, error) {
	st := &intoto.Statement{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, st); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "not an in-toto statement: %w", err)
	}
	if st.Type == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "not an in-toto statement: it has no _type")
	}
	if st.Type != intoto.StatementTypeUri {
		return nil, gantry.Errorf(gantry.EInvalid, "a statement of type %q, want %q", st.Type, intoto.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "not a valid in-toto statement: %w", err)
	}
	return st, nil
}

// decodeBase64 reads standard base64, or URL-safe base64 as DSSE allows.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		return b, nil
	}
	if b, err2 := base64.URLEncoding.DecodeString(s); err2 == nil {
		return b, nil
	}
	return nil, err
}
