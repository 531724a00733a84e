package evidence

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/proto"

	"gantry.dev/gantry"
)

// testSigners are a fresh signer of each algorithm.
func testSigners(t testing.TB) map[string]*Signer {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Signer{}
	for name, k := range map[string]crypto.Signer{"ecdsa": ec, "ed25519": ed} {
		s, err := NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	signers := testSigners(t)
	for name, s := range signers {
		t.Run(name, func(t *testing.T) {
			st, err := StepStatement(stepInputs()["provenance"])
			if err != nil {
				t.Fatal(err)
			}
			envJSON, err := SignStatement(ctx, s, st)
			if err != nil {
				t.Fatal(err)
			}
			var env dsse.Envelope
			if err := json.Unmarshal(envJSON, &env); err != nil {
				t.Fatal(err)
			}
			if env.PayloadType != PayloadType || len(env.Signatures) != 1 || env.Signatures[0].KeyID != "" {
				t.Errorf("envelope %s: want payload type %s and one signature with an empty keyid", envJSON, PayloadType)
			}
			payload, _ := base64.StdEncoding.DecodeString(env.Payload)
			if string(payload) != string(st) {
				t.Errorf("payload is not the statement as given:\n%s\n%s", payload, st)
			}

			other := signers["ecdsa"]
			if name == "ecdsa" {
				other = signers["ed25519"]
			}
			v, err := VerifyEnvelope(ctx, envJSON, []crypto.PublicKey{other.Public(), s.Public()})
			if err != nil {
				t.Fatal(err)
			}
			if hint, _ := KeyHint(s.Public()); v.KeyHint != hint {
				t.Errorf("verified by %s, want %s", v.KeyHint, hint)
			}
			if want, _ := parseStatement(st); !proto.Equal(v.Statement, want) {
				t.Errorf("verified statement %v, want %v", v.Statement, want)
			}
		})
	}
}

// envelopeWith signs payload as the DSSE library would, then lets change
// alter the envelope before it is encoded.
func envelopeWith(t *testing.T, s gantry.Signer, payloadType string, payload []byte, change func(e *dsse.Envelope)) []byte {
	t.Helper()
	es, err := dsse.NewEnvelopeSigner(dsseSigner{s})
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(env)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyEnvelopeErrors(t *testing.T) {
	ctx := context.Background()
	signers := testSigners(t)
	s, stranger := signers["ecdsa"], signers["ed25519"]
	trusted := []crypto.PublicKey{s.Public()}
	hint, _ := KeyHint(s.Public())
	payload, err := StepStatement(stepInputs()["link"])
	if err != nil {
		t.Fatal(err)
	}
	good := envelopeWith(t, s, PayloadType, payload, nil)

	for _, tc := range []struct {
		name     string
		envelope []byte
		trusted  []crypto.PublicKey
		want     string
	}{
		{"not JSON", []byte("not json"), trusted, "envelope is not DSSE JSON"},
		{"JSON array", []byte("[]"), trusted, "envelope is not DSSE JSON"},
		{"payload type", envelopeWith(t, s, "application/json", payload, nil), trusted, `payload type is "application/json", want "application/vnd.in-toto+json"`},
		{"no signature", envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) { e.Signatures = nil }), trusted, "envelope has no signature"},
		{"two signatures", envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) { e.Signatures = append(e.Signatures, e.Signatures[0]) }), trusted, "2 signatures, want exactly one"},
		{"bad base64 payload", envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) { e.Payload = "!!" }), trusted, "payload is not base64"},
		{"bad base64 signature", envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) { e.Signatures[0].Sig = "!!" }), trusted, "signature is not base64"},
		{"other key", envelopeWith(t, stranger, PayloadType, payload, nil), trusted, "signature does not verify with any trusted key (tried " + hint + ")"},
		{"altered payload", envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) {
			b, _ := base64.StdEncoding.DecodeString(e.Payload)
			b[len(b)-3] ^= 1
			e.Payload = base64.StdEncoding.EncodeToString(b)
		}), trusted, "signature does not verify"},
		{"altered payload type", envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) { e.PayloadType = "application/vnd.in-toto+JSON" }), trusted, "payload type"},
		{"not a statement", envelopeWith(t, s, PayloadType, []byte(`{"hello":"world"}`), nil), trusted, "not an in-toto statement: it has no _type"},
		{"not JSON payload", envelopeWith(t, s, PayloadType, []byte(`hello`), nil), trusted, "envelope payload: not an in-toto statement"},
		{"old statement type", envelopeWith(t, s, PayloadType, []byte(strings.Replace(string(payload), "Statement/v1", "Statement/v0.1", 1)), nil), trusted, `statement of type "https://in-toto.io/Statement/v0.1"`},
		{"statement without subject", envelopeWith(t, s, PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"x","predicate":{}}`), nil), trusted, "at least one subject"},
		{"no trusted keys", good, nil, "no trusted keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyEnvelope(ctx, tc.envelope, tc.trusted)
			if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("VerifyEnvelope: %v, want an invalid error with %q", err, tc.want)
			}
		})
	}
	_, err = VerifyEnvelope(ctx, envelopeWith(t, stranger, PayloadType, payload, nil), trusted)
	if !errors.Is(err, ErrSignature) {
		t.Errorf("VerifyEnvelope signed by another key: %v, want ErrSignature", err)
	}
	// The keyid is an unauthenticated hint: a wrong one does not matter.
	withKeyID := envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) { e.Signatures[0].KeyID = "someone else" })
	if _, err := VerifyEnvelope(ctx, withKeyID, trusted); err != nil {
		t.Errorf("VerifyEnvelope with a keyid: %v", err)
	}
	// URL-safe base64 is DSSE too.
	urlSafe := envelopeWith(t, s, PayloadType, payload, func(e *dsse.Envelope) {
		b, _ := base64.StdEncoding.DecodeString(e.Payload)
		e.Payload = base64.URLEncoding.EncodeToString(b)
	})
	if _, err := VerifyEnvelope(ctx, urlSafe, trusted); err != nil {
		t.Errorf("VerifyEnvelope of URL-safe base64: %v", err)
	}
}

func TestSignStatementInvalid(t *testing.T) {
	s := testSigners(t)["ed25519"]
	st, err := StepStatement(stepInputs()["link"])
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"no subject": []byte(strings.Replace(string(st), `"subject":[`, `"subjects":[`, 1)),
		"not JSON":   st[:len(st)-1],
		"v0.1":       []byte(strings.Replace(string(st), "Statement/v1", "Statement/v0.1", 1)),
	} {
		if _, err := SignStatement(context.Background(), s, bad); gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), "sign statement: ") {
			t.Errorf("SignStatement of a statement with %s: %v", name, err)
		}
	}
}

func FuzzVerifyEnvelope(f *testing.F) {
	s := testSigners(f)["ed25519"]
	st, err := StepStatement(stepInputs()["link"])
	if err != nil {
		f.Fatal(err)
	}
	good, err := SignStatement(context.Background(), s, st)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AAAA"}]}`))
	trusted := []crypto.PublicKey{s.Public()}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := VerifyEnvelope(context.Background(), data, trusted)
		if err == nil && v.Statement == nil {
			t.Error("verified without a statement")
		}
	})
}
