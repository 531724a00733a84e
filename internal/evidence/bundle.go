package evidence

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"gantry.dev/gantry"
)

// BundleMediaType is the media type of the Sigstore bundles Gantry writes
// and reads.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// NewBundle wraps a DSSE envelope, as JSON, in a Sigstore bundle v0.3 for
// the key pub: the bundle names the key by its KeyHint and has no
// transparency log entries, since Gantry's own ledger records it.
func NewBundle(envelope []byte, pub crypto.PublicKey) ([]byte, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "bundle: envelope is not DSSE JSON: %w", err)
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	return newBundle(&env, hint)
}

func newBundle(env *dsse.Envelope, hint string) ([]byte, error) {
	if len(env.Signatures) != 1 {
		return nil, gantry.Errorf(gantry.EInvalid, "bundle: envelope has %d signatures, want exactly one", len(env.Signatures))
	}
	payload, err := decodeBase64(env.Payload)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "bundle: envelope payload is not base64: %w", err)
	}
	sig, err := decodeBase64(env.Signatures[0].Sig)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "bundle: envelope signature is not base64: %w", err)
	}
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{
			DsseEnvelope: &protodsse.Envelope{
				Payload:     payload,
				PayloadType: env.PayloadType,
				// No keyid: cosign rejects a bundle's signature that has
				// one.
				Signatures: []*protodsse.Signature{{Sig: sig}},
			},
		},
	}
	out, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(out))
	if err := json.Compact(&buf, out); err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return buf.Bytes(), nil
}

// ParseBundle reads a Sigstore bundle v0.3 holding a DSSE envelope signed
// with a public key, and returns the envelope, as JSON, and the key hint
// (which may be empty in a bundle Gantry did not write). It does not
// verify anything: VerifyEnvelope does.
func ParseBundle(data []byte) (envelope []byte, hint string, err error) {
	if len(data) > maxEvidence {
		return nil, "", gantry.Errorf(gantry.EInvalid, "bundle of %d bytes is larger than the limit of %d", len(data), maxEvidence)
	}
	var b protobundle.Bundle
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &b); err != nil {
		return nil, "", gantry.Errorf(gantry.EInvalid, "bundle is not Sigstore bundle JSON: %w", err)
	}
	if b.MediaType != BundleMediaType {
		return nil, "", gantry.Errorf(gantry.EInvalid, "bundle media type is %q, want %q", b.MediaType, BundleMediaType)
	}
	pk := b.GetVerificationMaterial().GetPublicKey()
	if pk == nil {
		return nil, "", gantry.Errorf(gantry.EInvalid, "bundle has no public key verification material (certificates are not supported)")
	}
	d := b.GetDsseEnvelope()
	if d == nil {
		return nil, "", gantry.Errorf(gantry.EInvalid, "bundle content is not a DSSE envelope")
	}
	env := dsse.Envelope{
		PayloadType: d.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(d.Payload),
		Signatures:  make([]dsse.Signature, len(d.Signatures)),
	}
	for i, s := range d.Signatures {
		env.Signatures[i] = dsse.Signature{KeyID: s.Keyid, Sig: base64.StdEncoding.EncodeToString(s.Sig)}
	}
	out, err := json.Marshal(env)
	if err != nil {
		return nil, "", fmt.Errorf("encode envelope: %w", err)
	}
	return out, pk.Hint, nil
}
