package report

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	oscal "github.com/defenseunicorns/go-oscal/src/types/oscal-1-1-3"
	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry/internal/ledger"
)

func TestVerifyFresh(t *testing.T) {
	r, v := testReport(t)
	res, err := Verify(context.Background(), writeOSCAL(t, r), v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Links != 16 || res.Changes != 4 || len(res.Checkpoints) != 1 || res.Checkpoints[0].Size != 17 {
		t.Errorf("result %+v", res)
	}
}

// tamper decodes a report, lets alter change it and encodes it again.
func tamper(t *testing.T, out []byte, alter func(ar *oscal.AssessmentResults)) []byte {
	t.Helper()
	var doc oscal.OscalCompleteSchema
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	alter(doc.AssessmentResults)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alterInclusion changes the inclusion proof of the n-th evidence
// resource.
func alterInclusion(n int, alter func(in *ledger.Inclusion)) func(*oscal.AssessmentResults) {
	return func(ar *oscal.AssessmentResults) {
		k := 0
		for i, r := range *ar.BackMatter.Resources {
			if r.Base64 == nil {
				continue
			}
			if k == n {
				js, _ := base64.StdEncoding.DecodeString(r.Base64.Value)
				var in ledger.Inclusion
				if err := json.Unmarshal(js, &in); err != nil {
					panic(err)
				}
				alter(&in)
				js, _ = json.Marshal(&in)
				(*ar.BackMatter.Resources)[i].Base64.Value = base64.StdEncoding.EncodeToString(js)
				return
			}
			k++
		}
	}
}

// setProp sets a prop of the n-th evidence observation.
func setProp(n int, name, value string) func(*oscal.AssessmentResults) {
	return func(ar *oscal.AssessmentResults) {
		k := 0
		for _, o := range *ar.Results[0].Observations {
			if o.RelevantEvidence == nil {
				continue
			}
			if k == n {
				for i := range *o.Props {
					if (*o.Props)[i].Name == name {
						(*o.Props)[i].Value = value
					}
				}
				return
			}
			k++
		}
	}
}

func TestVerifyTampered(t *testing.T) {
	r, v := testReport(t)
	out := writeOSCAL(t, r)
	other := digest("other")
	// Evidence link 6 is c2's test-result attestation, ledger entry 6.
	const name = "evidence link 6 (change c2, attestation " + "sha256:"
	tests := []struct {
		name  string
		alter func(*oscal.AssessmentResults)
		want  string
	}{
		{"entry", alterInclusion(5, func(in *ledger.Inclusion) {
			in.Entry, _ = ledger.Leaf{Kind: ledger.KindAttestation, Digest: other}.Encode()
		}), "entry 6 does not match its inclusion proof in checkpoint 17"},
		{"proof hash", alterInclusion(5, func(in *ledger.Inclusion) { in.Proof[1][3] ^= 1 }), "entry 6 does not match its inclusion proof in checkpoint 17"},
		{"checkpoint byte", alterInclusion(5, func(in *ledger.Inclusion) {
			in.Checkpoint[len("gantry.test/report\n")] ^= 1
		}), "checkpoint"},
		{"proof index", alterInclusion(5, func(in *ledger.Inclusion) { in.Index = 7 }), "the inclusion proof is of ledger entry 7, not 6"},
		{"digest", setProp(5, PropDigest, string(other)), "ledger entry 6 records attestation sha256:"},
		{"index", setProp(5, PropIndex, "7"), "the inclusion proof is of ledger entry 6, not 7"},
		{"resource gone", func(ar *oscal.AssessmentResults) {
			(*ar.Results[0].Observations)[7].RelevantEvidence = nil
		}, "no inclusion proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(context.Background(), tamper(t, out, tt.alter), v)
			if err == nil {
				t.Fatal("a tampered report verifies")
			}
			if !errors.Is(err, ErrEvidence) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "change c2") {
				t.Errorf("error %q, want one naming change c2 and saying %q", err, tt.want)
			}
			if tt.name != "digest" && tt.name != "index" && !strings.HasPrefix(err.Error(), name) {
				t.Errorf("error %q does not name the link", err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		_, vkey, _ := note.GenerateKey(nil, "gantry.test/report")
		other, _ := note.NewVerifier(vkey)
		if _, err := Verify(context.Background(), out, other); err == nil || !strings.Contains(err.Error(), "evidence link 1 (change c1") {
			t.Errorf("another key: %v", err)
		}
	})
	t.Run("no evidence", func(t *testing.T) {
		if _, err := Verify(context.Background(), writeOSCAL(t, &Report{From: t0, To: t0}), v); err == nil {
			t.Error("a report without evidence verifies")
		}
	})
}

func FuzzVerify(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"assessment-results":{"results":[{"observations":[{"uuid":"x","props":[{"ns":"` + NS + `","name":"attestation-digest","value":"sha256:00"}]}]}]}}`))
	_, vkey, _ := note.GenerateKey(nil, "gantry.test/report")
	v, _ := note.NewVerifier(vkey)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Verify(context.Background(), data, v)
		if err == nil && res.Links == 0 {
			t.Error("no links and no error")
		}
	})
}
