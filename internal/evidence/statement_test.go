package evidence

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	intoto "github.com/in-toto/attestation/go/v1"

	"gantry.dev/gantry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testBuilder = "https://gantry.dev/builders/local/v1"
	testRepo    = "https://git.example.com/acme/app"
)

func testRun() *gantry.Run {
	return &gantry.Run{
		ID:             "20260301-120000.000-0a1b2c3d",
		Project:        "app",
		Pipeline:       ".gantry.yml",
		PipelineDigest: gantry.DigestBytes([]byte("pipeline")),
		Trigger:        gantry.Trigger{Event: "push", Branch: "main", Commit: testCommit},
		Status:         gantry.StatusRunning,
		CreatedAt:      t0,
		StartedAt:      t0,
	}
}

func testStep(name string, outputs ...string) *gantry.StepResult {
	s := &gantry.StepResult{
		RunID:      "20260301-120000.000-0a1b2c3d",
		Stage:      "commit",
		Name:       name,
		Executor:   "local",
		Status:     gantry.StatusSucceeded,
		Attempts:   1,
		StartedAt:  t0.Add(time.Second),
		FinishedAt: t0.Add(3*time.Second + 250*time.Millisecond),
		Command:    gantry.DigestBytes([]byte("script of " + name)),
		EnvDigest:  gantry.DigestBytes([]byte("env of " + name)),
		Log:        gantry.DigestBytes([]byte("log of " + name)),
		Sandbox:    "namespaces: pid, mount; no network",
	}
	for _, o := range outputs {
		s.Outputs = append(s.Outputs, gantry.Artifact{Path: o, Digest: gantry.DigestBytes([]byte(o)), Size: int64(len(o)), Step: name})
	}
	return s
}

// stepInputs are one input of every kind, the golden files' sources.
func stepInputs() map[string]*StepInput {
	build := testStep("build", "bin/app", "bin/app.sha256")
	build.Executor, build.Image = "docker", "golang:1.26"
	build.Meta = map[string]string{
		"image_digest":      string(gantry.DigestBytes([]byte("config"))),
		"image_repo_digest": "golang@" + string(gantry.DigestBytes([]byte("manifest"))),
		"container_id":      "c0ffee",
	}
	build.Inputs = []gantry.Artifact{{Path: "go.sum", Digest: gantry.DigestBytes([]byte("go.sum")), Step: "fetch"}}

	test := testStep("test", "report.xml")
	test.Status, test.ExitCode = gantry.StatusFailed, 1

	deps := testStep("deps", "deps.sarif")
	sast := testStep("sast", "sast.sarif")
	findings := []gantry.Finding{
		{Tool: "deps", RuleID: "GO-2024-0001", Severity: gantry.SeverityHigh, Location: gantry.Location{Path: "go.mod", Line: 5}, Fingerprint: "f1"},
		{Tool: "deps", RuleID: "GHSA-aaaa-bbbb-cccc", Severity: gantry.SeverityLow, Location: gantry.Location{Path: "go.mod", Line: 7}, Fingerprint: "f2",
			Waiver: &gantry.Waiver{Fingerprint: "f2", Reason: "not reachable", Owner: "sec", Expires: t0.Add(24 * time.Hour)}},
	}
	sastFindings := []gantry.Finding{
		{Tool: "sast", RuleID: "G401", Severity: gantry.SeverityMedium, Location: gantry.Location{Path: "main.go", Line: 3}, Fingerprint: "s1"},
		{Tool: "sast", RuleID: "G101", Severity: gantry.SeverityCritical, Location: gantry.Location{Path: "cfg.go", Line: 9}, Fingerprint: "s2"},
		{Tool: "sast", RuleID: "G104", Severity: gantry.SeverityMedium, Location: gantry.Location{Path: "main.go", Line: 12}, Fingerprint: "s3",
			Waiver: &gantry.Waiver{Fingerprint: "s3", Reason: "checked", Owner: "sec", Expires: t0.Add(time.Hour)}},
	}
	deps.Uses, sast.Uses = "deps", "sast"

	lint := testStep("lint")
	lint.Inputs = []gantry.Artifact{{Path: "bin/app", Digest: gantry.DigestBytes([]byte("bin/app")), Step: "build"}}
	lint.Status, lint.ExitCode, lint.AllowFail = gantry.StatusFailed, 2, true

	run := testRun()
	return map[string]*StepInput{
		"provenance": {Run: run, Step: build, Kind: gantry.KindProvenance, Repo: testRepo, BuilderID: testBuilder, Script: "go build -o bin/app ."},
		"test-result": {Run: run, Step: test, Kind: gantry.KindTestResult, Tests: &TestReport{Format: FormatJUnit,
			Passed: []string{"app.TestA", "app.TestB"}, Failed: []string{"app.TestC"}, Skipped: []string{"app.TestD"}}},
		"vulns": {Run: run, Step: deps, Kind: gantry.KindVulns, Findings: findings},
		"scan":  {Run: run, Step: sast, Kind: gantry.KindScan, Findings: sastFindings},
		"link":  {Run: run, Step: lint, Kind: gantry.KindLink, Script: "golangci-lint run\n"},
	}
}

func gateInput() *GateInput {
	run := testRun()
	return &GateInput{
		Run: run,
		Stage: &gantry.StageResult{RunID: run.ID, Index: 0, Name: "commit", Status: gantry.StatusFailed,
			Gate:      gantry.Gate{Allowed: false, Reasons: []string{"step test failed", "sast: 1 critical finding"}, Decider: "steps"},
			StartedAt: t0, FinishedAt: t0.Add(10 * time.Second)},
		Attestations: []*gantry.Attestation{
			{Digest: gantry.DigestBytes([]byte("env build")), Step: "build", Kind: gantry.KindProvenance},
			{Digest: gantry.DigestBytes([]byte("env test")), Step: "test", Kind: gantry.KindTestResult},
		},
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", name, err, got)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// statementOf returns a function that parses a statement made without
// error: statementOf(t)(StepStatement(in)).
func statementOf(t *testing.T) func([]byte, error) *intoto.Statement {
	return func(b []byte, err error) *intoto.Statement {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		st, err := parseStatement(b)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

func TestStepStatementGolden(t *testing.T) {
	for kind, in := range stepInputs() {
		t.Run(kind, func(t *testing.T) {
			b, err := StepStatement(in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseStatement(b); err != nil {
				t.Errorf("the statement does not parse back: %v", err)
			}
			var compact bytes.Buffer
			_ = json.Compact(&compact, b)
			if !bytes.Equal(compact.Bytes(), b) {
				t.Error("the statement JSON is not compact")
			}
			for range 5 {
				b2, err := StepStatement(in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, b2) {
					t.Fatalf("the statement JSON is not stable:\n%s\n%s", b, b2)
				}
			}
			golden(t, "statement/"+kind+".json", b)
		})
	}
}

func TestGateStatementGolden(t *testing.T) {
	b, err := GateStatement(gateInput())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "statement/gate.json", b)

	// A stage without attestations still records its decision, about the
	// pipeline file.
	in := gateInput()
	in.Attestations = nil
	st := statementOf(t)(GateStatement(in))
	want := []*intoto.ResourceDescriptor{{Name: ".gantry.yml", Digest: map[string]string{"sha256": in.Run.PipelineDigest.Hex()}}}
	if got := st.Subject; len(got) != 1 || got[0].Name != want[0].Name || got[0].Digest["sha256"] != want[0].Digest["sha256"] {
		t.Errorf("subjects of a gate without attestations = %v, want %v", got, want)
	}
}

func TestStepSubjects(t *testing.T) {
	in := stepInputs()["link"]
	st := statementOf(t)(StepStatement(in))
	if len(st.Subject) != 1 || st.Subject[0].Name != "lint.log" || st.Subject[0].Digest["sha256"] != in.Step.Log.Hex() {
		t.Errorf("a step without outputs has subjects %v, want its log", st.Subject)
	}
	in = stepInputs()["provenance"]
	st = statementOf(t)(StepStatement(in))
	var names []string
	for _, s := range st.Subject {
		names = append(names, s.Name+"="+s.Digest["sha256"])
	}
	want := []string{"bin/app=" + gantry.DigestBytes([]byte("bin/app")).Hex(), "bin/app.sha256=" + gantry.DigestBytes([]byte("bin/app.sha256")).Hex()}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
}

func TestTestResult(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    gantry.Status
		allowFail bool
		tests     *TestReport
		want      string
	}{
		{"exit 0", gantry.StatusSucceeded, false, nil, "PASSED"},
		{"exit 1", gantry.StatusFailed, false, nil, "FAILED"},
		{"timed out", gantry.StatusTimedOut, false, nil, "FAILED"},
		{"skipped", gantry.StatusSkipped, false, nil, "FAILED"},
		{"allowed to fail", gantry.StatusFailed, true, nil, "WARNED"},
		{"report passes", gantry.StatusSucceeded, false, &TestReport{Passed: []string{"a"}}, "PASSED"},
		{"report fails, exit 0", gantry.StatusSucceeded, false, &TestReport{Passed: []string{"a"}, Failed: []string{"b"}}, "FAILED"},
		{"report passes, exit 1", gantry.StatusFailed, false, &TestReport{Passed: []string{"a"}}, "FAILED"},
		{"report fails, allowed", gantry.StatusSucceeded, true, &TestReport{Failed: []string{"b"}}, "WARNED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step := testStep("test")
			step.Status, step.AllowFail = tc.status, tc.allowFail
			st := statementOf(t)(StepStatement(&StepInput{Run: testRun(), Step: step, Kind: gantry.KindTestResult, Tests: tc.tests}))
			if got := st.Predicate.Fields["result"].GetStringValue(); got != tc.want {
				t.Errorf("result %s, want %s", got, tc.want)
			}
		})
	}
}

func TestScanFindsSARIF(t *testing.T) {
	in := stepInputs()["scan"]
	st := statementOf(t)(StepStatement(in))
	sarif := st.Predicate.Fields["sarif"].GetStructValue()
	if sarif.Fields["name"].GetStringValue() != "sast.sarif" {
		t.Errorf("the scan predicate's SARIF is %v, want the output sast.sarif", sarif)
	}
	in.SARIF = &gantry.Artifact{Path: "out/other.sarif", Digest: gantry.DigestBytes([]byte("other"))}
	st = statementOf(t)(StepStatement(in))
	if got := st.Predicate.Fields["sarif"].GetStructValue().Fields["name"].GetStringValue(); got != "out/other.sarif" {
		t.Errorf("the scan predicate's SARIF is %s, want the one given", got)
	}
	in = stepInputs()["scan"]
	in.Step.Outputs = nil
	st = statementOf(t)(StepStatement(in))
	if _, ok := st.Predicate.Fields["sarif"]; ok {
		t.Error("a scan without SARIF output has a sarif field")
	}
}

func TestStepStatementInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(in *StepInput)
		want   string
	}{
		{"no run", func(in *StepInput) { in.Run = nil }, "a run and a step result are needed"},
		{"unknown kind", func(in *StepInput) { in.Kind = "build" }, `unknown step kind "build"`},
		{"gate kind", func(in *StepInput) { in.Kind = gantry.KindGate }, `unknown step kind "gate"`},
		{"no builder", func(in *StepInput) { in.BuilderID = "" }, "builder id"},
		{"bad output digest", func(in *StepInput) { in.Step.Outputs[0].Digest = "sha256:XYZ" }, `subject bin/app: digest "sha256:XYZ"`},
		{"duplicate output", func(in *StepInput) { in.Step.Outputs[1].Path = "bin/app" }, `two subjects named "bin/app"`},
		{"no outputs, no log", func(in *StepInput) { in.Step.Outputs, in.Step.Log = nil, "" }, "no outputs and no log"},
		{"bad input digest", func(in *StepInput) { in.Step.Inputs[0].Digest = "md5:00" }, "input go.sum"},
		{"bad pipeline digest", func(in *StepInput) { in.Run.PipelineDigest = "" }, "pipeline digest"},
		{"short commit", func(in *StepInput) { in.Commit = "0123abc" }, `commit "0123abc"`},
		{"bad image digest", func(in *StepInput) { in.Step.Meta["image_repo_digest"] = "golang:latest" }, "image repo digest"},
		{"bad log digest", func(in *StepInput) { in.Step.Log = "sha256:00" }, "log digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := stepInputs()["provenance"]
			tc.change(in)
			_, err := StepStatement(in)
			if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("StepStatement: %v, want an invalid error with %q", err, tc.want)
			}
		})
	}
	in := stepInputs()["scan"]
	in.Findings[0].Severity = "urgent"
	if _, err := StepStatement(in); err == nil || !strings.Contains(err.Error(), `unknown severity "urgent"`) {
		t.Errorf("scan with an unknown severity: %v", err)
	}
	if _, err := GateStatement(&GateInput{Run: testRun()}); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("GateStatement without a stage: %v", err)
	}
}

func TestSourceDescriptor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		repo   string
		branch string
		commit string
		want   string // uri, or name when there is no repo
	}{
		{"branch", testRepo, "main", testCommit, "git+" + testRepo + "@refs/heads/main"},
		{"full ref", "git+ssh://git@example.com/a.git", "refs/heads/dev", testCommit, "git+ssh://git@example.com/a.git@refs/heads/dev"},
		{"detached", testRepo, "", testCommit, "git+" + testRepo + "@" + testCommit},
		{"no repo", "", "main", testCommit, "source"},
		{"no commit", testRepo, "main", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := testRun()
			run.Trigger.Branch, run.Trigger.Commit = tc.branch, tc.commit
			rd, err := sourceDescriptor(&StepInput{Run: run, Repo: tc.repo})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if rd != nil {
				got = rd.Uri
				if got == "" {
					got = rd.Name
				}
				if rd.Digest["gitCommit"] != tc.commit {
					t.Errorf("digest %v, want gitCommit %s", rd.Digest, tc.commit)
				}
			}
			if got != tc.want {
				t.Errorf("source %q, want %q", got, tc.want)
			}
		})
	}
}
