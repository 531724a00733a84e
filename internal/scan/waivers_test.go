package scan

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
	"github.com/google/go-cmp/cmp"
)

func date(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 23, 59, 59, 999999999, time.UTC)
}

func TestLoadWaivers(t *testing.T) {
	w, err := LoadWaivers(filepath.Join("testdata", "waivers", "good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []gantry.Waiver{
		{
			Fingerprint: "3f2a9c0d1e4b5a6978f0e1d2c3b4a596",
			Reason:      "test fixture key, not a real credential", Owner: "alice@example.com",
			Expires: date(2026, 12, 31),
		},
		{
			RuleID: "G204", Path: "cmd/**",
			Reason: "the CLI runs the commands its user names", Owner: "bob@example.com",
			Expires: time.Date(2026, 6, 30, 10, 0, 0, 0, time.UTC),
		},
		{
			RuleID: "G104",
			Reason: "unchecked Close on read-only files", Owner: "carol@example.com",
			Expires: date(2027, 1, 15),
		},
	}
	if diff := cmp.Diff(want, w.List(), cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("waivers (-want +got):\n%s", diff)
	}
}

func TestLoadWaiversMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".gantry", "waivers.yml")
	w, err := LoadWaivers(path)
	if err != nil {
		t.Fatalf("LoadWaivers of a missing file: %v", err)
	}
	if n := len(w.List()); n != 0 {
		t.Fatalf("a missing file gave %d waivers", n)
	}
	findings := []gantry.Finding{{RuleID: "G204", Fingerprint: "f1", Severity: gantry.SeverityHigh}}
	got, report := w.Apply(findings, time.Now())
	if diff := cmp.Diff(findings, got); diff != "" {
		t.Errorf("Apply with no waivers changed the findings:\n%s", diff)
	}
	if diff := cmp.Diff(WaiverReport{}, report); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestLoadWaiversErrors(t *testing.T) {
	path := filepath.Join("testdata", "waivers", "bad.yml")
	_, err := LoadWaivers(path)
	want := strings.Join([]string{
		path + ":3:5: a waiver names a fingerprint or a rule, not both: a fingerprint waives one finding, a rule all of its findings (under path)",
		path + ":7:5: the waiver has no reason: say why the finding is accepted",
		path + `:8:11: path "/cmd/**" is relative to the repository root: drop the leading /`,
		path + `:9:5: unknown key "reasn" in a waiver: did you mean "reason"?`,
		path + `:11:14: expires "next year" is neither a date (2026-12-31) nor an RFC 3339 time (2026-12-31T18:00:00Z)`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("LoadWaivers error:\n%v\nwant:\n%s", err, want)
	}
	if kind := gantry.ErrorKind(err); kind != gantry.EInvalid {
		t.Errorf("error kind %q, want %q", kind, gantry.EInvalid)
	}
	if msg := gantry.ErrorMessage(err); msg != want {
		t.Errorf("user message %q, want the whole list", msg)
	}
	var we *WaiverError
	if !errors.As(err, &we) || we.Line != 3 || we.Col != 5 || we.File != path {
		t.Errorf("errors.As(*WaiverError) = %+v", we)
	}
}

func TestParseWaiversErrors(t *testing.T) {
	const ok = "    reason: r\n    owner: o@example.com\n    expires: 2026-12-31\n"
	tests := []struct {
		name, data string
		want       []string
	}{
		{
			name: "syntax",
			data: "waivers:\n  - rule: G1\n    reason: r\n   owner: o\n    expires: 2026-12-31\n",
			want: []string{"w.yml:4: invalid YAML: did not find expected '-' indicator: check the indentation of this line and the lines above it"},
		},
		{
			name: "not a mapping",
			data: "- rule: G1\n",
			want: []string{"w.yml:1:1: a waivers file is a mapping with the key waivers, not a list"},
		},
		{
			name: "unknown top-level key",
			data: "waiver:\n  - rule: G1\n",
			want: []string{`w.yml:1:1: unknown key "waiver" at the top level: did you mean "waivers"?`},
		},
		{
			name: "unrelated top-level key",
			data: "version: 1\nwaivers: []\n",
			want: []string{`w.yml:1:1: unknown key "version" at the top level (want waivers)`},
		},
		{
			name: "waivers not a list",
			data: "waivers:\n  rule: G1\n",
			want: []string{"w.yml:2:3: waivers is a list (- fingerprint: …), not a mapping"},
		},
		{
			name: "waiver not a mapping",
			data: "waivers:\n  - G204\n",
			want: []string{`w.yml:2:5: a waiver is a mapping (fingerprint or rule, reason, owner, expires), not a scalar ("G204")`},
		},
		{
			name: "neither fingerprint nor rule",
			data: "waivers:\n  - path: cmd/**\n" + ok,
			want: []string{
				"w.yml:2:5: a waiver needs fingerprint (one finding) or rule (with an optional path glob)",
				"w.yml:2:5: path narrows a rule waiver: add rule, or drop path",
			},
		},
		{
			name: "required fields, all reported",
			data: "waivers:\n  - rule: G1\n",
			want: []string{
				"w.yml:2:5: the waiver has no reason: say why the finding is accepted",
				"w.yml:2:5: the waiver has no owner: say who answers for it (an e-mail address)",
				"w.yml:2:5: the waiver has no expires: every waiver ends (a date like 2026-12-31, or an RFC 3339 time)",
			},
		},
		{
			name: "empty and non-string values",
			data: "waivers:\n  - rule: G1\n    reason: \"  \"\n    owner:\n    expires: [2026-12-31]\n",
			want: []string{
				"w.yml:3:13: reason is empty",
				"w.yml:4:11: owner is empty",
				"w.yml:5:14: expires is a string, not a list",
			},
		},
		{
			name: "typos",
			data: "waivers:\n  - rule: G1\n    reasn: r\n    ownr: o\n    expiry: 2026-12-31\n    fingerprnt: abc\n    color: red\n",
			want: []string{
				`w.yml:2:5: the waiver has no reason: say why the finding is accepted`,
				`w.yml:2:5: the waiver has no owner: say who answers for it (an e-mail address)`,
				`w.yml:2:5: the waiver has no expires: every waiver ends (a date like 2026-12-31, or an RFC 3339 time)`,
				`w.yml:3:5: unknown key "reasn" in a waiver: did you mean "reason"?`,
				`w.yml:4:5: unknown key "ownr" in a waiver: did you mean "owner"?`,
				`w.yml:5:5: unknown key "expiry" in a waiver: did you mean "expires"?`,
				`w.yml:6:5: unknown key "fingerprnt" in a waiver: did you mean "fingerprint"?`,
				`w.yml:7:5: unknown key "color" in a waiver (want fingerprint, rule, path, reason, owner, expires)`,
			},
		},
		{
			name: "bad expiries",
			data: "waivers:\n  - rule: G1\n    reason: r\n    owner: o\n    expires: 2026-13-01\n" +
				"  - rule: G2\n    reason: r\n    owner: o\n    expires: 2026-12-31 10:00\n",
			want: []string{
				`w.yml:5:14: expires "2026-13-01" is neither a date (2026-12-31) nor an RFC 3339 time (2026-12-31T18:00:00Z)`,
				`w.yml:9:14: expires "2026-12-31 10:00" is neither a date (2026-12-31) nor an RFC 3339 time (2026-12-31T18:00:00Z)`,
			},
		},
		{
			name: "bad globs",
			data: "waivers:\n" +
				"  - rule: G1\n    path: \"cmd/[\"\n" + ok +
				"  - rule: G1\n    path: cmd//x\n" + ok +
				"  - rule: G1\n    path: ../x\n" + ok +
				"  - rule: G1\n    path: 'cmd\\x'\n" + ok,
			want: []string{
				`w.yml:3:11: path "cmd/[" segment "[" is not a valid glob`,
				`w.yml:8:11: path "cmd//x" has an empty segment (//, or a trailing /): write dir/** for everything under dir`,
				`w.yml:13:11: path "../x" has a . or .. segment: write the path from the repository root`,
				`w.yml:18:11: path "cmd\\x" uses a backslash: paths use forward slashes (and escapes are not supported)`,
			},
		},
		{
			name: "fingerprint with spaces",
			data: "waivers:\n  - fingerprint: 3f2a 9c0d\n" + ok,
			want: []string{`w.yml:2:18: fingerprint "3f2a 9c0d" has spaces: copy it whole from the finding`},
		},
		{
			name: "duplicates",
			data: "waivers:\n  - fingerprint: abc\n" + ok + "  - fingerprint: abc\n" + ok + "  - rule: G1\n    rule: G2\n" + ok,
			want: []string{
				"w.yml:6:5: fingerprint abc is already waived at line 2",
				"w.yml:11:5: rule is given twice (first at line 10)",
			},
		},
		{
			name: "two documents",
			data: "waivers: []\n---\nwaivers: []\n",
			want: []string{"w.yml:2:1: a second YAML document starts here: a waivers file holds one document"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWaivers("w.yml", []byte(tt.data))
			if err == nil {
				t.Fatalf("ParseWaivers accepted the file: %+v", w.List())
			}
			var list WaiverErrors
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not WaiverErrors: %v", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseWaiversEmpty(t *testing.T) {
	for _, data := range []string{"", "\n# nothing waived\n", "waivers:\n", "waivers: []\n", "~\n"} {
		w, err := ParseWaivers("w.yml", []byte(data))
		if err != nil {
			t.Errorf("ParseWaivers(%q): %v", data, err)
			continue
		}
		if n := len(w.List()); n != 0 {
			t.Errorf("ParseWaivers(%q) gave %d waivers", data, n)
		}
	}
}

func TestParseWaiversAliases(t *testing.T) {
	data := "owners:\n" // an unknown key, to show anchors elsewhere are still checked
	_, err := ParseWaivers("w.yml", []byte(data+"  - &alice alice@example.com\nwaivers: []\n"))
	if err == nil {
		t.Fatal("an unknown top-level key was accepted")
	}
	w, err := ParseWaivers("w.yml", []byte("waivers:\n  - rule: G1\n    reason: r\n    owner: &alice alice@example.com\n    expires: 2026-12-31\n"+
		"  - rule: G2\n    reason: r\n    owner: *alice\n    expires: 2026-12-31\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.List()[1].Owner; got != "alice@example.com" {
		t.Errorf("aliased owner = %q", got)
	}
}

func TestApplyWaivers(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	future, past := date(2026, 12, 31), date(2026, 4, 30)
	finding := func(rule, path, fp string) gantry.Finding {
		return gantry.Finding{Tool: "sast", RuleID: rule, Severity: gantry.SeverityHigh, Location: gantry.Location{Path: path, Line: 1}, Fingerprint: fp}
	}
	byFP := gantry.Waiver{Fingerprint: "fp-a", Reason: "one finding", Owner: "a@example.com", Expires: future}
	byRule := gantry.Waiver{RuleID: "G204", Reason: "all G204", Owner: "b@example.com", Expires: future}
	byRulePath := gantry.Waiver{RuleID: "G204", Path: "cmd/**", Reason: "G204 in cmd", Owner: "c@example.com", Expires: future}
	expired := gantry.Waiver{Fingerprint: "fp-a", Reason: "ran out", Owner: "d@example.com", Expires: past}
	expiredUnused := gantry.Waiver{RuleID: "G999", Reason: "old", Owner: "e@example.com", Expires: past}
	unused := gantry.Waiver{Fingerprint: "fp-gone", Reason: "fixed since", Owner: "f@example.com", Expires: future}

	a := finding("G204", "cmd/run.go", "fp-a")
	b := finding("G204", "internal/x.go", "fp-b")
	c := finding("G204", "cmd/sub/deep/y.go", "fp-c")
	d := finding("G101", "cmd/run.go", "fp-d")
	waived := func(f gantry.Finding, w gantry.Waiver) gantry.Finding {
		f.Waiver = &w
		return f
	}

	tests := []struct {
		name       string
		waivers    []gantry.Waiver
		findings   []gantry.Finding
		want       []gantry.Finding
		wantReport WaiverReport
	}{
		{
			name:       "a fingerprint waives exactly its finding",
			waivers:    []gantry.Waiver{byFP},
			findings:   []gantry.Finding{a, b, c},
			want:       []gantry.Finding{waived(a, byFP), b, c},
			wantReport: WaiverReport{InForce: []UsedWaiver{{byFP, 1}}},
		},
		{
			name:       "a rule waives every finding of the rule",
			waivers:    []gantry.Waiver{byRule},
			findings:   []gantry.Finding{a, b, c, d},
			want:       []gantry.Finding{waived(a, byRule), waived(b, byRule), waived(c, byRule), d},
			wantReport: WaiverReport{InForce: []UsedWaiver{{byRule, 3}}},
		},
		{
			name:       "a rule and a path glob",
			waivers:    []gantry.Waiver{byRulePath},
			findings:   []gantry.Finding{a, b, c, d},
			want:       []gantry.Finding{waived(a, byRulePath), b, waived(c, byRulePath), d},
			wantReport: WaiverReport{InForce: []UsedWaiver{{byRulePath, 2}}},
		},
		{
			name:     "an expired waiver does not apply and is reported",
			waivers:  []gantry.Waiver{expired, expiredUnused},
			findings: []gantry.Finding{a, b},
			want:     []gantry.Finding{a, b},
			wantReport: WaiverReport{
				Expired:        []gantry.Waiver{expired, expiredUnused},
				ExpiredMatched: []UsedWaiver{{expired, 1}},
			},
		},
		{
			name:       "a fingerprint wins over a rule, whatever the order",
			waivers:    []gantry.Waiver{byRule, byFP},
			findings:   []gantry.Finding{a, b},
			want:       []gantry.Finding{waived(a, byFP), waived(b, byRule)},
			wantReport: WaiverReport{InForce: []UsedWaiver{{byRule, 1}, {byFP, 1}}},
		},
		{
			name:       "the first of two rule waivers wins; the shadowed one is unused",
			waivers:    []gantry.Waiver{byRulePath, byRule},
			findings:   []gantry.Finding{a},
			want:       []gantry.Finding{waived(a, byRulePath)},
			wantReport: WaiverReport{InForce: []UsedWaiver{{byRulePath, 1}}, Unused: []gantry.Waiver{byRule}},
		},
		{
			name:       "an expired waiver is replaced by an active one",
			waivers:    []gantry.Waiver{expired, byRule},
			findings:   []gantry.Finding{a},
			want:       []gantry.Finding{waived(a, byRule)},
			wantReport: WaiverReport{InForce: []UsedWaiver{{byRule, 1}}, Expired: []gantry.Waiver{expired}, ExpiredMatched: []UsedWaiver{{expired, 1}}},
		},
		{
			name:       "unused waivers",
			waivers:    []gantry.Waiver{unused, byFP},
			findings:   []gantry.Finding{b},
			want:       []gantry.Finding{b},
			wantReport: WaiverReport{Unused: []gantry.Waiver{unused, byFP}},
		},
		{
			name:       "a stale waiver on a finding is cleared",
			waivers:    nil,
			findings:   []gantry.Finding{waived(a, expired)},
			want:       []gantry.Finding{a},
			wantReport: WaiverReport{},
		},
		{
			name:       "a finding without a fingerprint matches no fingerprint waiver",
			waivers:    []gantry.Waiver{byFP},
			findings:   []gantry.Finding{finding("G204", "cmd/run.go", "")},
			want:       []gantry.Finding{finding("G204", "cmd/run.go", "")},
			wantReport: WaiverReport{Unused: []gantry.Waiver{byFP}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &Waivers{}
			for i, wv := range tt.waivers {
				w.list = append(w.list, waiverEntry{waiver: wv, line: i + 2})
			}
			input := cloneFindings(tt.findings)
			got, report := w.Apply(input, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantReport, report); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.findings, input); diff != "" {
				t.Errorf("Apply changed its input:\n%s", diff)
			}
		})
	}
}

func cloneFindings(fs []gantry.Finding) []gantry.Finding {
	out := make([]gantry.Finding, len(fs))
	for i, f := range fs {
		out[i] = f
		if f.Waiver != nil {
			w := *f.Waiver
			out[i].Waiver = &w
		}
	}
	return out
}

func TestApplyNilWaivers(t *testing.T) {
	var w *Waivers
	findings := []gantry.Finding{{RuleID: "G1"}}
	got, report := w.Apply(findings, time.Now())
	if diff := cmp.Diff(findings, got); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(WaiverReport{}, report); diff != "" {
		t.Error(diff)
	}
}

func TestWaiverExpiry(t *testing.T) {
	tests := []struct {
		expires string
		at      time.Time
		active  bool
	}{
		{"2026-12-31", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), true},
		{"2026-12-31", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"2026-12-31", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), false},
		// The end of the day is UTC's, wherever the clock is read.
		{"2026-12-31", time.Date(2027, 1, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), true},
		{"2026-12-31T18:00:00Z", time.Date(2026, 12, 31, 17, 59, 59, 0, time.UTC), true},
		{"2026-12-31T18:00:00Z", time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC), false},
		{"2026-12-31T18:00:00+02:00", time.Date(2026, 12, 31, 16, 30, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		exp, err := ParseExpiry(tt.expires)
		if err != nil {
			t.Fatalf("ParseExpiry(%q): %v", tt.expires, err)
		}
		w := gantry.Waiver{Expires: exp}
		if got := w.Active(tt.at); got != tt.active {
			t.Errorf("waiver expiring %s: Active(%s) = %v, want %v", tt.expires, tt.at, got, tt.active)
		}
	}
}

func TestFormatExpiry(t *testing.T) {
	for _, s := range []string{"2026-12-31", "2026-12-31T18:00:00Z", "2026-12-31T18:00:00+02:00", "2026-12-31T18:00:00.5Z"} {
		exp, err := ParseExpiry(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatExpiry(exp); got != s {
			t.Errorf("FormatExpiry(ParseExpiry(%q)) = %q", s, got)
		}
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"cmd/**", "cmd/run.go", true},
		{"cmd/**", "cmd/a/b/c.go", true},
		{"cmd/**", "internal/cmd/run.go", false},
		{"cmd/**", "cmdline/run.go", false},
		{"**/*_test.go", "a_test.go", true},
		{"**/*_test.go", "internal/scan/x_test.go", true},
		{"**/*_test.go", "internal/scan/x.go", false},
		{"internal/**/testdata/**", "internal/scan/testdata/a.yml", true},
		{"internal/**/testdata/**", "internal/testdata/a.yml", true},
		{"internal/**/testdata/**", "internal/scan/data/a.yml", false},
		{"*.go", "main.go", true},
		{"*.go", "cmd/main.go", false},
		{"cmd/*.go", "cmd/main.go", true},
		{"cmd/*.go", "cmd/sub/main.go", false},
		{"cmd/?ain.go", "cmd/main.go", true},
		{"cmd/[mn]ain.go", "cmd/main.go", true},
		{"main.go", "main.go", true},
		{"main.go", "cmd/main.go", false},
		{"**", "anything/at/all", true},
		{"**/**/x", "x", true},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
	}
	for _, tt := range tests {
		if got := glob.Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("glob.Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func FuzzParseWaivers(f *testing.F) {
	for _, s := range []string{
		"waivers:\n  - fingerprint: abc\n    reason: r\n    owner: o\n    expires: 2026-12-31\n",
		"waivers:\n  - rule: G1\n    path: 'cmd/**'\n    reason: r\n    owner: o\n    expires: 2026-12-31T10:00:00Z\n",
		"waivers: [{rule: G1, reason: r, owner: o, expires: 2026-01-01}]",
		"a: &x [*x]\n", "waivers:\n  - *y\n", "{", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ParseWaivers("w.yml", data)
		if err != nil {
			var list WaiverErrors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty WaiverErrors: %v", err, err)
			}
			return
		}
		for _, wv := range w.List() {
			if (wv.Fingerprint == "") == (wv.RuleID == "") || wv.Reason == "" || wv.Owner == "" || wv.Expires.IsZero() {
				t.Fatalf("ParseWaivers accepted an incomplete waiver: %+v", wv)
			}
		}
	})
}
