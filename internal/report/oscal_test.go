package report

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func oscalSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/schema/oscal_complete_schema-1-1-3.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const id = "http://csrc.nist.gov/ns/oscal/1.0/1.1.3/oscal-complete-schema.json"
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeOSCAL(t *testing.T, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteOSCAL(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOSCALValidates(t *testing.T) {
	s := oscalSchema(t)
	full, _ := testReport(t)
	broken, _ := testReport(t)
	broken.Changes[0].Evidence[0].Inclusion = nil
	broken.Changes[1].Approvals = []Approval{{Who: "alice", At: t0, Exception: "single\nmaintainer  "}}
	broken.Changes[1].Title = "  a title\twith\nbreaks "
	broken.Changes[2].Evidence[0].URL = "https://evidence.example/a"
	for name, r := range map[string]*Report{"full": full, "broken": broken, "empty": {From: t0, To: t0, GeneratedAt: t0}} {
		t.Run(name, func(t *testing.T) {
			out := writeOSCAL(t, r)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(inst); err != nil {
				t.Fatalf("OSCAL output does not validate: %v\n%s", err, out)
			}
			// The schema does check: a malformed UUID fails it.
			bad, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bytes.Replace(out, []byte(`"uuid": "`), []byte(`"uuid": "x`), 1)))
			if s.Validate(bad) == nil {
				t.Error("a malformed uuid validates")
			}
		})
	}
}

func TestOSCALContent(t *testing.T) {
	r, _ := testReport(t)
	r.Changes[0].Evidence = r.Changes[0].Evidence[1:] // c1 lacks provenance
	out := writeOSCAL(t, r)
	if !bytes.Equal(out, writeOSCAL(t, r)) {
		t.Error("two writes of one report differ")
	}
	var doc struct {
		AR struct {
			ImportAP struct{ Href string } `json:"import-ap"`
			Results  []struct {
				Start, End   string
				Observations []struct {
					Props []struct{ Name, Value string }
				}
				Findings []struct {
					Target struct {
						TargetID string `json:"target-id"`
						Status   struct{ State string }
					}
					Remarks string
				}
			}
		} `json:"assessment-results"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.AR.ImportAP.Href, "#") {
		t.Errorf("import-ap href %q is not the report's own plan", doc.AR.ImportAP.Href)
	}
	res := doc.AR.Results[0]
	if res.Start != "2026-03-02T09:00:00Z" || res.End != "2026-03-16T09:00:00Z" {
		t.Errorf("period %s to %s", res.Start, res.End)
	}
	links := 0
	for _, o := range res.Observations {
		for _, p := range o.Props {
			if p.Name == PropDigest {
				links++
			}
		}
	}
	if want := 15; links != want {
		t.Errorf("%d evidence observations, want %d", links, want)
	}
	states := map[string]string{}
	for _, f := range res.Findings {
		states[f.Target.TargetID] = f.Target.Status.State
		if f.Target.TargetID == "si-7" && !strings.Contains(f.Remarks, "change c1: no signed provenance") {
			t.Errorf("si-7 remarks: %q", f.Remarks)
		}
	}
	want := map[string]string{"cm-3": "satisfied", "cm-4": "satisfied", "cm-5": "satisfied", "sa-10": "satisfied", "sa-11": "satisfied",
		"au-9": "satisfied", "au-10": "satisfied", "ra-5": "satisfied", "si-7": "not-satisfied", "sr-4": "not-satisfied", "cc8.1": "satisfied"}
	for id, st := range want {
		if states[id] != st {
			t.Errorf("finding %s: %q, want %q", id, states[id], st)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	r, _ := testReport(t)
	r.Changes[1].Evidence[0].Index++
	err := WriteOSCAL(&bytes.Buffer{}, r)
	if err == nil || !strings.Contains(err.Error(), "change c2: evidence sha256:") || !strings.Contains(err.Error(), "but its inclusion proof is of entry") {
		t.Errorf("mismatched index: %v", err)
	}
	if err := WriteOSCAL(&bytes.Buffer{}, &Report{From: t0, To: t0.Add(-1)}); err == nil {
		t.Error("a period that ends before it starts is written")
	}
}
