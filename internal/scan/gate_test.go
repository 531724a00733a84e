package scan

import (
	"errors"
	"testing"

	"gantry.dev/gantry"
	"github.com/google/go-cmp/cmp"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		name    string
		with    map[string]string
		want    Threshold
		wantErr string
	}{
		{name: "defaults", with: nil, want: Threshold{FailOn: gantry.SeverityHigh}},
		{name: "other inputs ignored", with: map[string]string{"languages": "go"}, want: Threshold{FailOn: gantry.SeverityHigh}},
		{name: "fail-on medium", with: map[string]string{"fail-on": "medium"}, want: Threshold{FailOn: gantry.SeverityMedium}},
		{name: "case and space", with: map[string]string{"fail-on": " Critical "}, want: Threshold{FailOn: gantry.SeverityCritical}},
		{name: "fail-on none", with: map[string]string{"fail-on": "none"}, want: Threshold{FailOn: FailOnNone}},
		{name: "new only", with: map[string]string{"fail-on-new-only": "true"}, want: Threshold{FailOn: gantry.SeverityHigh, NewOnly: true}},
		{name: "new only false", with: map[string]string{"fail-on-new-only": "false"}, want: Threshold{FailOn: gantry.SeverityHigh}},
		{name: "gap true", with: map[string]string{"fail-on-gap": "true"}, want: Threshold{FailOn: gantry.SeverityHigh, FailOnGap: GapFail}},
		{name: "gap false", with: map[string]string{"fail-on-gap": "no"}, want: Threshold{FailOn: gantry.SeverityHigh, FailOnGap: GapAccept}},
		{
			name: "all",
			with: map[string]string{"fail-on": "low", "fail-on-new-only": "yes", "fail-on-gap": "1"},
			want: Threshold{FailOn: gantry.SeverityLow, NewOnly: true, FailOnGap: GapFail},
		},
		{name: "bad severity", with: map[string]string{"fail-on": "severe"}, wantErr: `fail-on: unknown value "severe" (want none, info, low, medium, high or critical)`},
		{name: "empty severity", with: map[string]string{"fail-on": ""}, wantErr: `fail-on: unknown value "" (want none, info, low, medium, high or critical)`},
		{name: "bad bool", with: map[string]string{"fail-on-new-only": "maybe"}, wantErr: `fail-on-new-only: "maybe" is not a boolean (want true or false)`},
		{name: "bad gap", with: map[string]string{"fail-on-gap": "sometimes"}, wantErr: `fail-on-gap: "sometimes" is not a boolean (want true or false)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseThreshold(tt.with)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if k := gantry.ErrorKind(err); k != gantry.EInvalid {
					t.Errorf("error kind %q, want invalid", k)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("threshold (-want +got):\n%s", diff)
			}
		})
	}
}

func TestThresholdString(t *testing.T) {
	tests := []struct {
		t    Threshold
		want string
	}{
		{Threshold{}, "fail-on: high"},
		{Threshold{FailOn: FailOnNone}, "fail-on: none"},
		{Threshold{FailOn: gantry.SeverityLow, NewOnly: true, FailOnGap: GapFail}, "fail-on: low, fail-on-new-only: true, fail-on-gap: true"},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestBlocking(t *testing.T) {
	waiver := &gantry.Waiver{Fingerprint: "w", Reason: "r", Owner: "o"}
	f := func(fp string, sev gantry.Severity, isNew bool, w *gantry.Waiver) gantry.Finding {
		return gantry.Finding{Fingerprint: fp, Severity: sev, New: isNew, Waiver: w}
	}
	findings := []gantry.Finding{
		f("crit-new", gantry.SeverityCritical, true, nil),
		f("crit-old", gantry.SeverityCritical, false, nil),
		f("high-new", gantry.SeverityHigh, true, nil),
		f("high-waived", gantry.SeverityHigh, true, waiver),
		f("medium-new", gantry.SeverityMedium, true, nil),
		f("low-old", gantry.SeverityLow, false, nil),
		f("info-new", gantry.SeverityInfo, true, nil),
		f("unknown-old", "", false, nil),
	}
	tests := []struct {
		name string
		t    Threshold
		want []string
	}{
		{"zero value is high", Threshold{}, []string{"crit-new", "crit-old", "high-new", "unknown-old"}},
		{"high", Threshold{FailOn: gantry.SeverityHigh}, []string{"crit-new", "crit-old", "high-new", "unknown-old"}},
		{"critical", Threshold{FailOn: gantry.SeverityCritical}, []string{"crit-new", "crit-old", "unknown-old"}},
		{"medium", Threshold{FailOn: gantry.SeverityMedium}, []string{"crit-new", "crit-old", "high-new", "medium-new", "unknown-old"}},
		{"info", Threshold{FailOn: gantry.SeverityInfo}, []string{"crit-new", "crit-old", "high-new", "medium-new", "low-old", "info-new", "unknown-old"}},
		{"none", Threshold{FailOn: FailOnNone}, nil},
		{"new only", Threshold{FailOn: gantry.SeverityHigh, NewOnly: true}, []string{"crit-new", "high-new"}},
		{"new only, low", Threshold{FailOn: gantry.SeverityLow, NewOnly: true}, []string{"crit-new", "high-new", "medium-new"}},
		{"unknown threshold fails closed", Threshold{FailOn: "severe"}, []string{"crit-new", "crit-old", "high-new", "medium-new", "low-old", "info-new", "unknown-old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, b := range tt.t.Blocking(findings) {
				got = append(got, b.Fingerprint)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("blocking (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarkNew(t *testing.T) {
	tests := []struct {
		name     string
		baseline map[string]bool
		want     []bool
	}{
		{"no baseline: all new", nil, []bool{true, true, true}},
		{"empty baseline: all new", map[string]bool{}, []bool{true, true, true}},
		{"baseline", map[string]bool{"a": true, "": true}, []bool{false, true, true}},
		{"false entries are not in the baseline", map[string]bool{"a": false, "b": true}, []bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings := []gantry.Finding{{Fingerprint: "a"}, {Fingerprint: "b", New: true}, {Fingerprint: ""}}
			MarkNew(findings, tt.baseline)
			var got []bool
			for _, f := range findings {
				got = append(got, f.New)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("New (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGapsBlock(t *testing.T) {
	gap := []Gap{{What: "language: Python", Reason: "no analyser"}}
	covered := &Result{Tool: "sast", Gaps: gap, Scanned: map[string]int{"files": 3}}
	nothing := &Result{Tool: "sast", Gaps: gap, Scanned: map[string]int{"files": 0}}
	unsaid := &Result{Tool: "sast", Gaps: gap}
	foundSomething := &Result{Tool: "sast", Gaps: gap, Findings: []gantry.Finding{{RuleID: "G1"}}}
	clean := &Result{Tool: "sast", Scanned: map[string]int{"files": 0}}
	tests := []struct {
		name string
		rule GapRule
		res  *Result
		want bool
	}{
		{"auto: covered something", GapAuto, covered, false},
		{"auto: covered nothing", GapAuto, nothing, true},
		{"auto: coverage not said", GapAuto, unsaid, true},
		{"auto: findings are coverage", GapAuto, foundSomething, false},
		{"auto: no gaps", GapAuto, clean, false},
		{"fail: covered something", GapFail, covered, true},
		{"fail: no gaps", GapFail, clean, false},
		{"accept: covered nothing", GapAccept, nothing, false},
		{"nil result", GapAccept, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Threshold{FailOnGap: tt.rule}).GapsBlock(tt.res); got != tt.want {
				t.Errorf("GapsBlock = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	high := gantry.Finding{RuleID: "G204", Severity: gantry.SeverityHigh, Fingerprint: "h"}
	low := gantry.Finding{RuleID: "G104", Severity: gantry.SeverityLow, Fingerprint: "l"}
	odd := gantry.Finding{RuleID: "X", Fingerprint: "x"}
	gaps := []Gap{{What: "language: Python"}, {What: "file: poetry.lock"}}
	tests := []struct {
		name       string
		t          Threshold
		res        *Result
		err        error
		wantPassed bool
		wantWhy    []string
	}{
		{
			name:       "clean",
			res:        &Result{Tool: "sast", Scanned: map[string]int{"files": 4}},
			wantPassed: true,
		},
		{
			name:       "below the threshold",
			res:        &Result{Tool: "sast", Findings: []gantry.Finding{low}},
			wantPassed: true,
		},
		{
			name:    "blocking findings",
			res:     &Result{Tool: "sast", Findings: []gantry.Finding{high, low, high, odd}},
			wantWhy: []string{"3 findings blocking: 2 high, 1 of unknown severity"},
		},
		{
			name:    "a scan error always fails",
			t:       Threshold{FailOn: FailOnNone, FailOnGap: GapAccept},
			res:     &Result{Tool: "sast"},
			err:     errors.New("go list: exit status 1"),
			wantWhy: []string{"the scan failed: go list: exit status 1"},
		},
		{
			name:    "no result",
			t:       Threshold{FailOn: FailOnNone, FailOnGap: GapAccept},
			wantWhy: []string{"the scan gave no result"},
		},
		{
			name:       "gaps after covering something pass by default",
			res:        &Result{Tool: "deps", Gaps: gaps, Scanned: map[string]int{"packages": 12}},
			wantPassed: true,
		},
		{
			name:    "gaps block with fail-on-gap",
			t:       Threshold{FailOnGap: GapFail},
			res:     &Result{Tool: "deps", Gaps: gaps, Scanned: map[string]int{"packages": 12}},
			wantWhy: []string{"2 gaps not covered: file: poetry.lock, language: Python"},
		},
		{
			name:    "gaps block by default when nothing was covered",
			res:     &Result{Tool: "sast", Gaps: gaps[:1], Scanned: map[string]int{"files": 0}},
			wantWhy: []string{"1 gap not covered: language: Python"},
		},
		{
			name:       "accepted gaps",
			t:          Threshold{FailOnGap: GapAccept},
			res:        &Result{Tool: "sast", Gaps: gaps[:1]},
			wantPassed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.t.Check(tt.res, tt.err)
			if got := v.Passed(); got != tt.wantPassed {
				t.Errorf("Passed = %v, want %v", got, tt.wantPassed)
			}
			if diff := cmp.Diff(tt.wantWhy, v.Reasons()); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}
