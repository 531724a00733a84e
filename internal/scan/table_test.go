package scan

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gantry.dev/gantry"
)

func TestWriteTable(t *testing.T) {
	allNew := richResults()
	for _, r := range allNew {
		for i := range r.Findings {
			r.Findings[i].New = true
		}
	}
	hostile := []*Result{{
		Tool: "secrets",
		Findings: []gantry.Finding{{
			RuleID: "generic\x1b[2J", Severity: gantry.SeverityHigh,
			Location: gantry.Location{Path: "a\u202egnp.go", Line: 1},
			Message:  "line one\nline two\x1b]0;title\x07 \xff end",
			New:      true,
			Waiver:   nil,
		}, {
			RuleID: "r", Severity: gantry.SeverityLow, Location: gantry.Location{Path: "b.go"}, Message: "m", New: true,
			Waiver: &gantry.Waiver{Fingerprint: "x", Reason: "ok\r\n\x1b[31mred", Owner: "o@example.com",
				Expires: time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC)},
		}},
		Gaps: []Gap{{What: "file: \x1b[1mx", Reason: "bad"}},
	}}
	tests := []struct {
		name    string
		results []*Result
		opts    TableOptions
	}{
		{"rich", richResults(), TableOptions{}},
		{"rich-80", richResults(), TableOptions{Width: 80}},
		{"rich-40", richResults(), TableOptions{Width: 40}},
		{"all-new", allNew, TableOptions{Width: 120}},
		{"gaps-only", []*Result{{Tool: "sast", Gaps: []Gap{{What: "language: Python", Reason: "no analyser for Python"}}, Scanned: map[string]int{"files": 0}}}, TableOptions{}},
		{"empty", nil, TableOptions{}},
		{"hostile", hostile, TableOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteTable(&buf, tt.results, tt.opts); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "table/"+tt.name+".golden", buf.Bytes())
		})
	}
}

// TestWriteTableFitsWidth checks that the finding lines fit the terminal
// when it leaves room for a message of the minimum width.
func TestWriteTableFitsWidth(t *testing.T) {
	for _, width := range []int{100, 120, 160} {
		var buf bytes.Buffer
		if err := WriteTable(&buf, richResults(), TableOptions{Width: width}); err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(buf.String()) {
			line = strings.TrimSuffix(line, "\n")
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("width %d: line of %d columns: %q", width, n, line)
			}
		}
	}
}

func TestWriteTableIsDeterministic(t *testing.T) {
	var want bytes.Buffer
	if err := WriteTable(&want, richResults(), TableOptions{}); err != nil {
		t.Fatal(err)
	}
	results := richResults()
	for i, j := 0, len(results)-1; i < j; i, j = i+1, j-1 {
		results[i], results[j] = results[j], results[i]
	}
	for _, r := range results {
		for i, j := 0, len(r.Findings)-1; i < j; i, j = i+1, j-1 {
			r.Findings[i], r.Findings[j] = r.Findings[j], r.Findings[i]
		}
	}
	var got bytes.Buffer
	if err := WriteTable(&got, results, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("the table depends on the order of the input:\n%s\nwant:\n%s", got.String(), want.String())
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, ünïcode ✓", "plain text, ünïcode ✓"},
		{"a\nb\tc\rd", "a b c d"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bell\x07", `bell\x07`},
		{"\u202eevil", `\u202eevil`},
		{"line\u2028sep", `line\u2028sep`},
		{"bad \xff byte", `bad \xff byte`},
		{"c1 \u0085", `c1 \x85`},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 0, "hello"},
		{"hello", 5, "hello"},
		{"hello world", 5, "hell…"},
		{"ünïcödé", 4, "ünï…"},
	}
	for _, tt := range tests {
		if got := cut(tt.in, tt.n); got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
