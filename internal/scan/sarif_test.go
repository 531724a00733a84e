package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var testToolInfo = ToolInfo{
	Version:        "1.2.3",
	InformationURI: "https://gantry.dev/docs/scan",
	Rules: map[string]map[string]RuleInfo{
		"sast": {"G101": {Title: "Hardcoded credentials", Help: "Read credentials from the secrets store."}},
	},
}

var (
	sarifSchemaOnce sync.Once
	sarifSchema     *jsonschema.Schema
	sarifSchemaErr  error
)

// loadSARIFSchema compiles the official SARIF 2.1.0 schema kept in
// testdata (see testdata/README.md), with format assertions on.
func loadSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sarifSchemaOnce.Do(func() {
		f, err := os.Open("testdata/sarif-schema-2.1.0.json")
		if err != nil {
			sarifSchemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			sarifSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(SARIFSchema, doc); err != nil {
			sarifSchemaErr = err
			return
		}
		sarifSchema, sarifSchemaErr = c.Compile(SARIFSchema)
	})
	if sarifSchemaErr != nil {
		t.Fatalf("load the SARIF schema: %v", sarifSchemaErr)
	}
	return sarifSchema
}

func writeSARIF(t *testing.T, results []*Result, info ToolInfo) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, results, info); err != nil {
		t.Fatalf("WriteSARIF: %v", err)
	}
	return buf.Bytes()
}

func validateSARIF(t *testing.T, data []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return loadSARIFSchema(t).Validate(doc)
}

func TestWriteSARIFIsValid(t *testing.T) {
	tests := []struct {
		name    string
		results []*Result
		info    ToolInfo
	}{
		{"rich", richResults(), testToolInfo},
		{"nothing", nil, ToolInfo{}},
		{"no findings", []*Result{{Tool: "sast", Scanned: map[string]int{"files": 3}}}, testToolInfo},
		{"only gaps", []*Result{{Tool: "sast", Gaps: []Gap{{What: "language: Rust"}}}}, ToolInfo{Version: "dev"}},
		{"bare finding", []*Result{{Tool: "iac", Findings: []gantry.Finding{{}}}}, ToolInfo{}},
		{"nil result", []*Result{nil}, ToolInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := writeSARIF(t, tt.results, tt.info)
			if err := validateSARIF(t, out); err != nil {
				t.Fatalf("output does not validate against the SARIF 2.1.0 schema: %v\n%s", err, out)
			}
		})
	}
}

// TestSARIFSchemaCatchesMistakes makes sure the validation above can fail:
// the rich output, with one thing a SARIF log needs taken away or broken,
// must be rejected.
func TestSARIFSchemaCatchesMistakes(t *testing.T) {
	out := writeSARIF(t, richResults(), testToolInfo)
	if err := validateSARIF(t, out); err != nil {
		t.Fatalf("the unmutated output must be valid: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(log map[string]any)
	}{
		{"no version", func(l map[string]any) { delete(l, "version") }},
		{"wrong version", func(l map[string]any) { l["version"] = "2.0.0" }},
		{"no runs", func(l map[string]any) { delete(l, "runs") }},
		{"no tool", func(l map[string]any) { delete(run(l, 0), "tool") }},
		{"no driver name", func(l map[string]any) { delete(driver(l, 0), "name") }},
		{"no rule id", func(l map[string]any) { delete(index(driver(l, 0)["rules"], 0), "id") }},
		{"no result message", func(l map[string]any) { delete(index(run(l, 0)["results"], 0), "message") }},
		{"bad level", func(l map[string]any) { index(run(l, 0)["results"], 0)["level"] = "fatal" }},
		{"line zero", func(l map[string]any) {
			res := findResult(t, l, func(r map[string]any) bool { return strings.Contains(fmt.Sprint(r["locations"]), "startLine") })
			loc := index(res["locations"], 0)
			loc["physicalLocation"].(map[string]any)["region"].(map[string]any)["startLine"] = 0
		}},
		{"no executionSuccessful", func(l map[string]any) { delete(index(run(l, 0)["invocations"], 0), "executionSuccessful") }},
		{"no suppression kind", func(l map[string]any) { delete(index(findResult(t, l, isWaived)["suppressions"], 0), "kind") }},
		{"bad suppression status", func(l map[string]any) { index(findResult(t, l, isWaived)["suppressions"], 0)["status"] = "ignored" }},
		{"unknown property", func(l map[string]any) { run(l, 0)["findings"] = []any{} }},
		{"fingerprint not a string", func(l map[string]any) {
			index(run(l, 0)["results"], 0)["partialFingerprints"] = map[string]any{FingerprintKey: 1}
		}},
		{"informationUri not a URI", func(l map[string]any) { driver(l, 0)["informationUri"] = "not a uri" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log map[string]any
			if err := json.Unmarshal(out, &log); err != nil {
				t.Fatal(err)
			}
			tt.mutate(log)
			mutated, err := json.Marshal(log)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateSARIF(t, mutated); err == nil {
				t.Errorf("the schema accepted the mutated log:\n%s", mutated)
			}
		})
	}
}

func run(log map[string]any, i int) map[string]any { return index(log["runs"], i) }

func driver(log map[string]any, i int) map[string]any {
	return run(log, i)["tool"].(map[string]any)["driver"].(map[string]any)
}

func index(v any, i int) map[string]any { return v.([]any)[i].(map[string]any) }

func isWaived(r map[string]any) bool { return r["suppressions"] != nil }

// findResult returns the first result of the log that ok accepts.
func findResult(t *testing.T, log map[string]any, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	for _, r := range log["runs"].([]any) {
		for _, res := range r.(map[string]any)["results"].([]any) {
			if m := res.(map[string]any); ok(m) {
				return m
			}
		}
	}
	t.Fatal("no such result in the log")
	return nil
}

func TestWriteSARIFGolden(t *testing.T) {
	checkGolden(t, "sarif/rich.sarif", writeSARIF(t, richResults(), testToolInfo))
}

func TestWriteSARIFIsDeterministic(t *testing.T) {
	want := writeSARIF(t, richResults(), testToolInfo)
	for seed := range uint64(10) {
		results := richResults()
		r := rand.New(rand.NewPCG(seed, seed))
		r.Shuffle(len(results), func(i, j int) { results[i], results[j] = results[j], results[i] })
		for _, res := range results {
			r.Shuffle(len(res.Findings), func(i, j int) { res.Findings[i], res.Findings[j] = res.Findings[j], res.Findings[i] })
			r.Shuffle(len(res.Gaps), func(i, j int) { res.Gaps[i], res.Gaps[j] = res.Gaps[j], res.Gaps[i] })
		}
		if got := writeSARIF(t, results, testToolInfo); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: the output depends on the order of the input:\n%s", seed, cmp.Diff(string(want), string(got)))
		}
	}
}

func TestWriteSARIFDoesNotChangeItsInput(t *testing.T) {
	results := richResults()
	WriteSARIF(&bytes.Buffer{}, results, testToolInfo)
	if diff := cmp.Diff(richResults(), results); diff != "" {
		t.Errorf("WriteSARIF changed its input (-before +after):\n%s", diff)
	}
}

// sarifView is the part of a SARIF log that the tests below look at.
type sarifView struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name, Version, InformationURI string
				Rules                         []struct {
					ID               string
					ShortDescription struct{ Text string }
					Help             *struct{ Text string }
					Properties       struct {
						Tags             []string
						SecuritySeverity string `json:"security-severity"`
					}
				}
			}
		}
		Invocations []struct {
			ExecutionSuccessful        bool
			ToolExecutionNotifications []struct {
				Level   string
				Message struct{ Text string }
			}
		}
		Results []sarifResult
	}
}

func viewSARIF(t *testing.T, results []*Result) sarifView {
	t.Helper()
	var v sarifView
	if err := json.Unmarshal(writeSARIF(t, results, testToolInfo), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWriteSARIFResult(t *testing.T) {
	expires := time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC)
	base := gantry.Finding{Tool: "sast", RuleID: "R1", Severity: gantry.SeverityMedium, Message: "m", Fingerprint: "abc"}
	with := func(change func(f *gantry.Finding)) gantry.Finding {
		f := base
		change(&f)
		return f
	}
	region := func(l, c, el, ec int) *sarifRegion {
		return &sarifRegion{StartLine: l, StartColumn: c, EndLine: el, EndColumn: ec}
	}
	loc := func(uri string, r *sarifRegion) []sarifLocation {
		return []sarifLocation{{PhysicalLocation: sarifPhysicalLocation{
			ArtifactLocation: sarifArtifactLocation{URI: uri, URIBaseID: "%SRCROOT%"}, Region: r,
		}}}
	}
	props := sarifResultProps{Severity: gantry.SeverityMedium}
	tests := []struct {
		name string
		f    gantry.Finding
		want sarifResult
	}{
		{
			name: "no location",
			f:    base,
			want: sarifResult{RuleID: "R1", Level: "warning", Message: sarifMessage{"m"},
				PartialFingerprints: map[string]string{FingerprintKey: "abc"}, Properties: props},
		},
		{
			name: "path only",
			f:    with(func(f *gantry.Finding) { f.Location.Path = "go.mod" }),
			want: sarifResult{RuleID: "R1", Level: "warning", Message: sarifMessage{"m"}, Locations: loc("go.mod", nil),
				PartialFingerprints: map[string]string{FingerprintKey: "abc"}, Properties: props},
		},
		{
			name: "line only",
			f:    with(func(f *gantry.Finding) { f.Location = gantry.Location{Path: "a.go", Line: 4} }),
			want: sarifResult{RuleID: "R1", Level: "warning", Message: sarifMessage{"m"}, Locations: loc("a.go", region(4, 0, 0, 0)),
				PartialFingerprints: map[string]string{FingerprintKey: "abc"}, Properties: props},
		},
		{
			name: "full region",
			f: with(func(f *gantry.Finding) {
				f.Location = gantry.Location{Path: "a.go", Line: 4, Column: 2, EndLine: 6, EndColumn: 1}
			}),
			want: sarifResult{RuleID: "R1", Level: "warning", Message: sarifMessage{"m"}, Locations: loc("a.go", region(4, 2, 6, 1)),
				PartialFingerprints: map[string]string{FingerprintKey: "abc"}, Properties: props},
		},
		{
			name: "end before start is dropped",
			f: with(func(f *gantry.Finding) {
				f.Location = gantry.Location{Path: "a.go", Line: 4, Column: 9, EndLine: 4, EndColumn: 3}
			}),
			want: sarifResult{RuleID: "R1", Level: "warning", Message: sarifMessage{"m"}, Locations: loc("a.go", region(4, 9, 4, 0)),
				PartialFingerprints: map[string]string{FingerprintKey: "abc"}, Properties: props},
		},
		{
			name: "column without line is no region",
			f:    with(func(f *gantry.Finding) { f.Location = gantry.Location{Path: "a.go", Column: 3} }),
			want: sarifResult{RuleID: "R1", Level: "warning", Message: sarifMessage{"m"}, Locations: loc("a.go", nil),
				PartialFingerprints: map[string]string{FingerprintKey: "abc"}, Properties: props},
		},
		{
			name: "path escaped as a URI",
			f:    with(func(f *gantry.Finding) { f.Location.Path = "c:d/a b%.go" }),
			want: sarifResult{RuleID: "R1", Level: "warning", Message: sarifMessage{"m"}, Locations: loc("./c:d/a%20b%25.go", nil),
				PartialFingerprints: map[string]string{FingerprintKey: "abc"}, Properties: props},
		},
		{
			name: "waived, new, confident, in history",
			f: with(func(f *gantry.Finding) {
				f.Severity, f.Confidence, f.New = gantry.SeverityCritical, "high", true
				f.Location.Commit = "abc123"
				f.Waiver = &gantry.Waiver{Fingerprint: "abc", Reason: "test key", Owner: "bob@example.com", Expires: expires}
			}),
			want: sarifResult{RuleID: "R1", Level: "error", Message: sarifMessage{"m"},
				PartialFingerprints: map[string]string{FingerprintKey: "abc"},
				Suppressions: []sarifSuppression{{Kind: "external", Status: "accepted", Justification: "test key",
					Properties: map[string]string{"owner": "bob@example.com", "expires": "2026-12-31T23:59:59.999999999Z"}}},
				Properties: sarifResultProps{Severity: gantry.SeverityCritical, Confidence: "high", New: true, Waived: true, Commit: "abc123"}},
		},
		{
			name: "no fingerprint, no message, unknown severity",
			f:    gantry.Finding{RuleID: "R1", Severity: "bogus"},
			want: sarifResult{RuleID: "R1", Level: "error", Message: sarifMessage{"R1"}, Properties: sarifResultProps{Severity: "bogus"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := viewSARIF(t, []*Result{{Tool: "sast", Findings: []gantry.Finding{tt.f}}})
			if diff := cmp.Diff([]sarifResult{tt.want}, v.Runs[0].Results); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteSARIFRules(t *testing.T) {
	v := viewSARIF(t, richResults())
	type rule struct {
		Tool, ID, Short, Help, SecuritySeverity string
		Tags                                    []string
	}
	var got []rule
	for _, r := range v.Runs {
		for _, rl := range r.Tool.Driver.Rules {
			help := ""
			if rl.Help != nil {
				help = rl.Help.Text
			}
			got = append(got, rule{r.Tool.Driver.Name, rl.ID, rl.ShortDescription.Text, help, rl.Properties.SecuritySeverity, rl.Properties.Tags})
		}
	}
	want := []rule{
		{"gantry-deps", "GO-2023-2102", "golang.org/x/net v0.1.0: HTTP/2 rapid reset (fixed in v0.17.0)", "", "0.0", []string{"security"}},
		{"gantry-deps", "licence-unknown", "example.com/lib v1.2.0 has no licence Gantry recognises", "", "5.5", []string{"security"}},
		{"gantry-sast", "G101", "Hardcoded credentials", "Read credentials from the secrets store.", "5.5", []string{"security", "CWE-798", "external/cwe/cwe-798"}},
		{"gantry-sast", "G104", "Errors unhandled", "", "3.0", []string{"security", "CWE-703", "external/cwe/cwe-703"}},
		{"gantry-sast", "G204", "Subprocess launched with a variable", "Pass a constant command, or validate the variable against an allow-list.", "8.0", []string{"security", "CWE-78", "external/cwe/cwe-78"}},
		{"gantry-secrets", "aws-access-key", "AWS access key AKIA************ (sha256:1f2e3d4c)", "Revoke the key, then remove it from the history.", "9.5", []string{"security", "CWE-798", "external/cwe/cwe-798"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}

	// Every result points at its rule.
	for _, r := range v.Runs {
		for _, res := range r.Results {
			if rl := r.Tool.Driver.Rules[res.RuleIndex]; rl.ID != res.RuleID {
				t.Errorf("%s: result of rule %s has ruleIndex %d, which is rule %s", r.Tool.Driver.Name, res.RuleID, res.RuleIndex, rl.ID)
			}
		}
	}
}

func TestWriteSARIFRuleDescriptionFromFindings(t *testing.T) {
	tests := []struct {
		name     string
		messages []string
		want     string
	}{
		{"shared message", []string{"Errors unhandled", "Errors unhandled"}, "Errors unhandled"},
		{"different messages", []string{"key in a.go", "key in b.go"}, "R9"},
		{"no message", []string{""}, "R9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var findings []gantry.Finding
			for i, m := range tt.messages {
				findings = append(findings, gantry.Finding{RuleID: "R9", Severity: gantry.SeverityLow, Message: m, Location: gantry.Location{Line: i + 1}})
			}
			v := viewSARIF(t, []*Result{{Tool: "x", Findings: findings}})
			if got := v.Runs[0].Tool.Driver.Rules[0].ShortDescription.Text; got != tt.want {
				t.Errorf("shortDescription = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteSARIFRunsAndGaps(t *testing.T) {
	results := richResults()
	// A second result of a tool joins its run, and a finding of another
	// tool goes to that tool's run.
	results = append(results, &Result{Tool: "sast", Gaps: []Gap{{What: "language: Python", Reason: "no analyser for Python"}, {What: "file: x.c"}}})
	results = append(results, &Result{Tool: "deps", Findings: []gantry.Finding{{Tool: "license", RuleID: "GPL-3.0", Severity: gantry.SeverityMedium, Message: "m"}}})
	v := viewSARIF(t, results)
	type run struct {
		Name, Version, URI string
		Results            int
		Success            bool
		Notes              []string
	}
	var got []run
	for _, r := range v.Runs {
		var notes []string
		for _, n := range r.Invocations[0].ToolExecutionNotifications {
			notes = append(notes, n.Level+": "+n.Message.Text)
		}
		d := r.Tool.Driver
		got = append(got, run{d.Name, d.Version, d.InformationURI, len(r.Results), r.Invocations[0].ExecutionSuccessful, notes})
	}
	want := []run{
		{"gantry-deps", "1.2.3", "https://gantry.dev/docs/scan", 2, true, []string{"warning: not covered: file: poetry.lock: poetry.lock version 3 is not supported"}},
		{"gantry-license", "1.2.3", "https://gantry.dev/docs/scan", 1, true, nil},
		{"gantry-sast", "1.2.3", "https://gantry.dev/docs/scan", 4, true, []string{
			"warning: not covered: file: x.c",
			"warning: not covered: language: JavaScript: no analyser for JavaScript",
			"warning: not covered: language: Python: no analyser for Python",
		}},
		{"gantry-secrets", "1.2.3", "https://gantry.dev/docs/scan", 1, true, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

func TestSecuritySeverity(t *testing.T) {
	want := map[gantry.Severity]string{
		gantry.SeverityCritical: "9.5", gantry.SeverityHigh: "8.0", gantry.SeverityMedium: "5.5",
		gantry.SeverityLow: "3.0", gantry.SeverityInfo: "0.0", "": "0.0",
	}
	for sev, w := range want {
		if got := SecuritySeverity(sev); got != w {
			t.Errorf("SecuritySeverity(%q) = %q, want %q", sev, got, w)
		}
	}
}

// TestWriteSARIFAddsNothing checks that every string in the log comes
// from the results, from info, or from SARIF's and Gantry's fixed
// vocabulary: the writer adds no text of its own making (no source lines,
// no absolute paths, nothing read from anywhere else).
func TestWriteSARIFAddsNothing(t *testing.T) {
	results := richResults()
	allowed := map[string]bool{
		SARIFSchema: true, SARIFVersion: true, "%SRCROOT%": true, "security": true,
		"external": true, "accepted": true, "error": true, "warning": true, "note": true,
		testToolInfo.Version: true, testToolInfo.InformationURI: true,
	}
	for _, rules := range testToolInfo.Rules {
		for _, r := range rules {
			allowed[r.Title], allowed[r.Help] = true, true
		}
	}
	for _, sev := range severitiesDesc {
		allowed[string(sev)], allowed[SecuritySeverity(sev)] = true, true
	}
	for _, r := range results {
		allowed["gantry-"+r.Tool] = true
		for _, g := range r.Gaps {
			allowed[g.What], allowed[g.Reason], allowed["not covered: "+gapText(g)] = true, true, true
		}
		for _, f := range r.Findings {
			for _, s := range []string{f.RuleID, f.Confidence, f.Message, f.Fingerprint, f.Help, f.Location.Commit, pathURI(f.Location.Path)} {
				allowed[s] = true
			}
			for _, c := range f.CWE {
				allowed[c], allowed["external/cwe/cwe-"+strings.TrimPrefix(c, "CWE-")] = true, true
			}
			if w := f.Waiver; w != nil {
				allowed[w.Reason], allowed[w.Owner], allowed[w.Expires.Format(time.RFC3339Nano)] = true, true, true
			}
		}
	}
	var log any
	if err := json.Unmarshal(writeSARIF(t, results, testToolInfo), &log); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case string:
			if !allowed[v] {
				t.Errorf("%s = %q, which the results do not hold", path, v)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		}
	}
	walk("$", log)
}
