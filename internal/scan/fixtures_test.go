package scan

import (
	"time"

	"gantry.dev/gantry"
)

// richResults is a scan of every kind the writers handle: several tools,
// every severity, waived and new findings, findings without a line or a
// path, a finding in history, paths that need escaping as URIs, CWEs, help
// texts and gaps.
func richResults() []*Result {
	expires := time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC)
	return []*Result{
		{
			Tool: "sast",
			Findings: []gantry.Finding{
				{
					Tool: "sast", RuleID: "G204", Severity: gantry.SeverityHigh, Confidence: "high",
					Location:    gantry.Location{Path: "cmd/run.go", Line: 42, Column: 7, EndLine: 42, EndColumn: 31},
					Message:     "Subprocess launched with a variable",
					CWE:         []string{"CWE-78"},
					Fingerprint: Fingerprint("sast", "G204", "cmd/run.go", "exec.Command(name, args...)"),
					New:         true,
					Help:        "Pass a constant command, or validate the variable against an allow-list.",
				},
				{
					Tool: "sast", RuleID: "G204", Severity: gantry.SeverityHigh, Confidence: "medium",
					Location:    gantry.Location{Path: "internal/tools/build.go", Line: 12},
					Message:     "Subprocess launched with a variable",
					CWE:         []string{"CWE-78"},
					Fingerprint: Fingerprint("sast", "G204", "internal/tools/build.go", "exec.Command(tool)"),
					Waiver: &gantry.Waiver{
						RuleID: "G204", Path: "internal/tools/**",
						Reason: "build tooling runs only trusted commands", Owner: "alice@example.com", Expires: expires,
					},
				},
				{
					Tool: "sast", RuleID: "G104", Severity: gantry.SeverityLow, Confidence: "high",
					Location:    gantry.Location{Path: "docs/my notes/a:b.go", Line: 3, Column: 2},
					Message:     "Errors unhandled",
					CWE:         []string{"CWE-703"},
					Fingerprint: Fingerprint("sast", "G104", "docs/my notes/a:b.go", "f.Close()"),
					New:         true,
				},
				{
					Tool: "sast", RuleID: "G101", Severity: gantry.SeverityMedium, Confidence: "low",
					Location:    gantry.Location{Path: "internal/auth/token.go", Line: 9, Column: 2, EndLine: 7, EndColumn: 1},
					Message:     "Potential hardcoded credentials",
					CWE:         []string{"CWE-798"},
					Fingerprint: Fingerprint("sast", "G101", "internal/auth/token.go", "const tokenName"),
				},
			},
			Gaps: []Gap{
				{What: "language: Python", Reason: "no analyser for Python"},
				{What: "language: JavaScript", Reason: "no analyser for JavaScript"},
			},
			Scanned: map[string]int{"files": 40, "packages": 7},
		},
		{
			Tool: "secrets",
			Findings: []gantry.Finding{
				{
					Tool: "secrets", RuleID: "aws-access-key", Severity: gantry.SeverityCritical, Confidence: "high",
					Location:    gantry.Location{Path: "deploy/prod.env", Line: 3, Commit: "9fceb02d0ae598e95dc970b74767f19372d61af8"},
					Message:     "AWS access key AKIA************ (sha256:1f2e3d4c)",
					CWE:         []string{"CWE-798"},
					Fingerprint: Fingerprint("secrets", "aws-access-key", "deploy/prod.env", "sha256:1f2e3d4c"),
					New:         true,
					Help:        "Revoke the key, then remove it from the history.",
				},
			},
			Scanned: map[string]int{"files": 120},
		},
		{
			Tool: "deps",
			Findings: []gantry.Finding{
				{
					Tool: "deps", RuleID: "GO-2023-2102", Severity: gantry.SeverityInfo,
					Location:    gantry.Location{Path: "go.mod"},
					Message:     "golang.org/x/net v0.1.0: HTTP/2 rapid reset (fixed in v0.17.0)",
					Fingerprint: Fingerprint("deps", "GO-2023-2102", "go.mod", "golang.org/x/net v0.1.0"),
				},
				{
					Tool: "deps", RuleID: "licence-unknown", Severity: gantry.SeverityMedium,
					Message:     "example.com/lib v1.2.0 has no licence Gantry recognises",
					Fingerprint: Fingerprint("deps", "licence-unknown", "", "example.com/lib v1.2.0"),
				},
			},
			Gaps:    []Gap{{What: "file: poetry.lock", Reason: "poetry.lock version 3 is not supported"}},
			Scanned: map[string]int{"packages": 58},
		},
	}
}
