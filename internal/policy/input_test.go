package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

func digest(s string) gantry.Digest { return gantry.DigestBytes([]byte(s)) }

// testInput is a run whose commit stage built, failed a lint and a test,
// and found a secret and a waived high finding.
func testInput() *Input {
	t0 := now.Add(-time.Hour)
	run := &gantry.Run{
		ID: "20261122-090000-abcd1234", Project: "webapp", Pipeline: ".gantry.yml",
		PipelineDigest: digest("pipeline"), Status: gantry.StatusRunning, CreatedAt: t0, StartedAt: t0,
		Trigger: gantry.Trigger{Event: "pull_request", Branch: "feature/login", Commit: "c0ffee", Changed: []string{"login.go"}},
	}
	step := func(name string, st gantry.Status, outputs ...gantry.Artifact) *gantry.StepResult {
		return &gantry.StepResult{
			RunID: run.ID, Stage: "commit", Name: name, Executor: "local", Status: st, Attempts: 1,
			StartedAt: t0, FinishedAt: t0.Add(time.Minute), Command: digest(name), Outputs: outputs,
		}
	}
	bin := gantry.Artifact{Path: "bin/app", Digest: digest("app"), Size: 3, Step: "build"}
	steps := []*gantry.StepResult{
		step("build", gantry.StatusSucceeded, bin),
		step("unit", gantry.StatusFailed),
		step("lint", gantry.StatusFailed),
		{RunID: run.ID, Stage: "acceptance", Name: "deploy", Executor: "docker", Image: "alpine:3", Status: gantry.StatusPending,
			Inputs: []gantry.Artifact{bin}, Meta: map[string]string{"image_digest": "sha256:1"}},
	}
	steps[2].AllowFail = true
	waiver := &gantry.Waiver{Fingerprint: "fp-sql", Reason: "false positive", Owner: "sec", Expires: now.Add(24 * time.Hour)}
	findings := []gantry.FindingRecord{
		{RunID: run.ID, Step: "secrets", Finding: gantry.Finding{
			Tool: "secrets", RuleID: "aws-key", Severity: gantry.SeverityHigh, Message: "AKIA…",
			Location: gantry.Location{Path: ".env", Line: 2}, Fingerprint: "fp-secret", New: true,
		}},
		{RunID: run.ID, Step: "sast", Finding: gantry.Finding{
			Tool: "sast", RuleID: "G201", Severity: gantry.SeverityCritical, Confidence: "high", Message: "SQL string",
			Location: gantry.Location{Path: "db.go", Line: 9, Column: 2}, CWE: []string{"CWE-89"}, Fingerprint: "fp-sql", New: true, Waiver: waiver,
		}},
	}
	atts := []*gantry.Attestation{
		{Digest: digest("a1"), RunID: run.ID, Stage: "commit", Step: "build", Kind: gantry.KindProvenance,
			PredicateType: "https://slsa.dev/provenance/v1", Subjects: []gantry.Subject{{Name: "bin/app", Digest: bin.Digest}},
			KeyHint: "ci-2026", LedgerIndex: 7, CreatedAt: t0},
		{Digest: digest("a2"), RunID: run.ID, Stage: "commit", Step: "unit", Kind: gantry.KindTestResult,
			PredicateType: "https://in-toto.io/attestation/test-result/v0.1", Subjects: []gantry.Subject{}, KeyHint: "ci-2026", LedgerIndex: 8, CreatedAt: t0},
	}
	base := 80.0
	return NewInput("commit", run, steps, findings, atts, Facts{
		Now: now,
		Change: Change{
			ID: "c-1", Author: "alice", BaseBranch: "main",
			Commits:     []Commit{{SHA: "c0ffee", Author: "alice", Message: "Add login", Time: t0}},
			PullRequest: &PullRequest{Number: 42, URL: "https://forge.example/pr/42", Title: "Login", Base: "main", Head: "feature/login"},
			Reviews:     []Review{{Reviewer: "bob", State: ReviewApproved, At: t0}},
		},
		Approvals: []Approval{{Approver: "carol", Role: "maintainer", Environment: "production", At: t0, Reason: "looks fine"}},
		Environment: &Environment{Name: "production", FreezeWindows: []FreezeWindow{
			{Start: now.Add(48 * time.Hour), End: now.Add(72 * time.Hour), Reason: "holidays"},
		}},
		Waivers:  []gantry.Waiver{*waiver, {RuleID: "G101", Path: "test/**", Reason: "fixtures", Owner: "sec", Expires: now.Add(-time.Hour)}},
		Coverage: &Coverage{Percent: 81.5, Base: &base},
		Config:   Config{TrustedKeys: []string{"ci-2026"}, ProtectedBranches: []string{"main"}},
	})
}

func TestNewInput(t *testing.T) {
	in := testInput()
	if in.Change.Branch != "feature/login" {
		t.Errorf("change branch %q, want the trigger's", in.Change.Branch)
	}
	wantStages := []Stage{
		{Name: "commit", Status: "failed", Steps: []string{"build", "unit", "lint"}},
		{Name: "acceptance", Status: "running", Steps: []string{"deploy"}},
	}
	if diff := cmp.Diff(wantStages, in.Run.Stages); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	kinds := map[string]string{}
	passed := map[string]bool{}
	for _, s := range in.Run.Steps {
		kinds[s.Name], passed[s.Name] = s.Kind, s.Passed
	}
	if diff := cmp.Diff(map[string]string{"build": "provenance", "unit": "test-result", "lint": "", "deploy": ""}, kinds); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"build": true, "unit": false, "lint": true, "deploy": false}, passed); diff != "" {
		t.Errorf("passed (-want +got):\n%s", diff)
	}
	if in.Findings[0].Waived || !in.Findings[1].Waived || in.Findings[1].Waiver == nil {
		t.Errorf("waived: %+v", in.Findings)
	}
	// The waiver given and the one attached to a finding are the same one.
	if len(in.Waivers) != 2 || !in.Waivers[0].Active || in.Waivers[1].Active {
		t.Errorf("waivers: %+v", in.Waivers)
	}
}

func TestNewInputEmpty(t *testing.T) {
	in := NewInput("commit", nil, nil, nil, nil, Facts{Environment: &Environment{Name: "staging"}})
	for name, n := range map[string]int{
		"steps": len(in.Run.Steps), "stages": len(in.Run.Stages), "attestations": len(in.Attestations),
		"findings": len(in.Findings), "waivers": len(in.Waivers), "approvals": len(in.Approvals),
	} {
		if n != 0 {
			t.Errorf("%s: %d", name, n)
		}
	}
	if in.Run.Steps == nil || in.Change.Commits == nil || in.Environment.FreezeWindows == nil || in.Config.TrustedKeys == nil {
		t.Error("nil slice in the input: policies would see null")
	}
}
