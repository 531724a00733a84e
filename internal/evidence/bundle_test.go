package evidence

import (
	"context"
	"crypto"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gantry.dev/gantry"
)

func TestBundleRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, s := range testSigners(t) {
		t.Run(name, func(t *testing.T) {
			st, err := StepStatement(stepInputs()["provenance"])
			if err != nil {
				t.Fatal(err)
			}
			env, err := SignStatement(ctx, s, st)
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewBundle(env, s.Public())
			if err != nil {
				t.Fatal(err)
			}
			var generic map[string]any
			if err := json.Unmarshal(b, &generic); err != nil {
				t.Fatal(err)
			}
			hint, _ := KeyHint(s.Public())
			want := map[string]any{
				"mediaType":            BundleMediaType,
				"verificationMaterial": map[string]any{"publicKey": map[string]any{"hint": hint}},
			}
			for k, v := range want {
				if diff := cmp.Diff(v, generic[k]); diff != "" {
					t.Errorf("bundle %s (-want +got):\n%s", k, diff)
				}
			}
			sigs := generic["dsseEnvelope"].(map[string]any)["signatures"].([]any)
			if len(sigs) != 1 {
				t.Fatalf("bundle has %d signatures", len(sigs))
			}
			if _, ok := sigs[0].(map[string]any)["keyid"]; ok {
				t.Errorf("the bundle's signature has a keyid: %s", b)
			}

			back, gotHint, err := ParseBundle(b)
			if err != nil {
				t.Fatal(err)
			}
			if gotHint != hint {
				t.Errorf("hint %s, want %s", gotHint, hint)
			}
			var e1, e2 dsse.Envelope
			_ = json.Unmarshal(env, &e1)
			_ = json.Unmarshal(back, &e2)
			if diff := cmp.Diff(e1, e2); diff != "" {
				t.Errorf("envelope out of the bundle (-want +got):\n%s", diff)
			}
			if _, err := VerifyEnvelope(ctx, back, []crypto.PublicKey{s.Public()}); err != nil {
				t.Errorf("the bundle's envelope does not verify: %v", err)
			}
		})
	}
}

func TestParseBundleErrors(t *testing.T) {
	s := testSigners(t)["ecdsa"]
	st, err := StepStatement(stepInputs()["link"])
	if err != nil {
		t.Fatal(err)
	}
	env, err := SignStatement(context.Background(), s, st)
	if err != nil {
		t.Fatal(err)
	}
	good, err := NewBundle(env, s.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"not JSON", "nope", "not Sigstore bundle JSON"},
		{"wrong field type", `{"mediaType":3}`, "not Sigstore bundle JSON"},
		{"v0.2", strings.Replace(string(good), "bundle.v0.3+json", "bundle+json;version=0.2", 1), `media type is "application/vnd.dev.sigstore.bundle+json;version=0.2"`},
		{"no media type", `{}`, `media type is ""`},
		{"certificate", `{"mediaType":"` + BundleMediaType + `","verificationMaterial":{"certificate":{"rawBytes":"AAAA"}},"dsseEnvelope":{}}`, "no public key verification material"},
		{"message signature", `{"mediaType":"` + BundleMediaType + `","verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{"signature":"AAAA"}}`, "not a DSSE envelope"},
		{"too large", strings.Repeat(" ", maxEvidence+1), "larger than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseBundle([]byte(tc.data))
			if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseBundle: %v, want an invalid error with %q", err, tc.want)
			}
		})
	}
	if _, err := NewBundle([]byte("{"), s.Public()); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("NewBundle of a broken envelope: %v", err)
	}
	var e dsse.Envelope
	_ = json.Unmarshal(env, &e)
	e.Signatures = append(e.Signatures, e.Signatures[0])
	two, _ := json.Marshal(e)
	if _, err := NewBundle(two, s.Public()); err == nil || !strings.Contains(err.Error(), "2 signatures") {
		t.Errorf("NewBundle of two signatures: %v", err)
	}
}

func FuzzParseBundle(f *testing.F) {
	s := testSigners(f)["ecdsa"]
	st, err := StepStatement(stepInputs()["link"])
	if err != nil {
		f.Fatal(err)
	}
	env, err := SignStatement(context.Background(), s, st)
	if err != nil {
		f.Fatal(err)
	}
	good, err := NewBundle(env, s.Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, _, err := ParseBundle(data)
		if err != nil {
			return
		}
		var e dsse.Envelope
		if err := json.Unmarshal(env, &e); err != nil {
			t.Errorf("ParseBundle returned an envelope that is not JSON: %v", err)
		}
	})
}
