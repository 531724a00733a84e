package sast

import (
	"context"
	"errors"
	"go/ast"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/issue"
	"golang.org/x/tools/go/analysis"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// writeTree writes files (path → content) under a new temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func newScanner(t *testing.T, opts Options) *Scanner {
	t.Helper()
	if opts.Env == nil {
		opts.Env = offlineEnv()
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scanDir(t *testing.T, s *Scanner, root string) *scan.Result {
	t.Helper()
	res, err := s.Scan(context.Background(), &scan.Request{Root: root})
	if err != nil {
		t.Fatalf("Scan(%s): %v", root, err)
	}
	return res
}

func gapWhats(gaps []scan.Gap) []string {
	var out []string
	for _, g := range gaps {
		out = append(out, g.What)
	}
	return out
}

func findGap(gaps []scan.Gap, what string) (scan.Gap, bool) {
	for _, g := range gaps {
		if g.What == what {
			return g, true
		}
	}
	return scan.Gap{}, false
}

func findRule(fs []gantry.Finding, rule, path string) (gantry.Finding, bool) {
	for _, f := range fs {
		if f.RuleID == rule && f.Location.Path == path {
			return f, true
		}
	}
	return gantry.Finding{}, false
}

const mainGo = `package main

import (
	"crypto/md5"
	"fmt"
)

func main() {
	fmt.Println(md5.Sum([]byte("x")))
}
`

func TestName(t *testing.T) {
	if got := newScanner(t, DefaultOptions()).Name(); got != "sast" {
		t.Errorf("Name() = %q, want sast", got)
	}
}

func TestNewRejectsUnknownRule(t *testing.T) {
	_, err := New(Options{Exclude: []string{"G999"}})
	if gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("New with unknown rule: err = %v, want an invalid error", err)
	}
}

func TestExclude(t *testing.T) {
	s := newScanner(t, Options{Exclude: []string{"G401", "G501"}})
	if slices.Contains(s.Rules(), "G401") || !slices.Contains(s.Rules(), "G104") {
		t.Errorf("Rules() = %v, want G401 out and G104 in", s.Rules())
	}
	root := writeTree(t, map[string]string{"go.mod": "module example.com/m\n\ngo 1.24\n", "main.go": mainGo})
	if res := scanDir(t, s, root); len(res.Findings) != 0 {
		t.Errorf("findings with G401 and G501 excluded: %+v", res.Findings)
	}
}

func TestBadRequest(t *testing.T) {
	s := newScanner(t, DefaultOptions())
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]*scan.Request{
		"nil":     nil,
		"no root": {},
		"missing": {Root: filepath.Join(t.TempDir(), "absent")},
		"not dir": {Root: file},
	} {
		if _, err := s.Scan(context.Background(), req); err == nil {
			t.Errorf("%s: Scan succeeded, want an error", name)
		}
	}
}

// TestFindingShape checks every field of one finding from the fixture.
func TestFindingShape(t *testing.T) {
	res := scanFixture(t, DefaultOptions(), nil)
	f, ok := findRule(res.Findings, "G701", "web/sql.go")
	if !ok {
		t.Fatalf("no G701 in web/sql.go: %+v", res.Findings)
	}
	src, err := os.ReadFile(filepath.Join(fixtureRoot, "web", "sql.go"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Split(string(src), "\n")[f.Location.Line-1]
	want := gantry.Finding{
		Tool:        "sast",
		RuleID:      "G701",
		Severity:    gantry.SeverityCritical,
		Confidence:  "high",
		Location:    gantry.Location{Path: "web/sql.go", Line: 19, Column: f.Location.Column},
		Message:     f.Message,
		CWE:         []string{"CWE-89"},
		Fingerprint: scan.Fingerprint("sast", "G701", "web/sql.go", line),
		Help:        ruleInfo["G701"].help,
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("finding (-want +got):\n%s", diff)
	}
	if f.Location.Column < 1 || !strings.Contains(f.Message, "SQL injection") {
		t.Errorf("column %d, message %q", f.Location.Column, f.Message)
	}
	for _, f := range res.Findings {
		if f.Help == "" || f.Message == "" || len(f.CWE) == 0 || f.Severity.Rank() == 0 {
			t.Errorf("incomplete finding: %+v", f)
		}
	}
	for _, k := range []string{"packages", "files", "lines", "nosec", "dismissed", "modules"} {
		if _, ok := res.Scanned[k]; !ok {
			t.Errorf("Scanned has no %q: %v", k, res.Scanned)
		}
	}
	if res.Scanned["dismissed"] == 0 {
		t.Errorf("no finding dismissed by its context on the fixture: %v", res.Scanned)
	}
}

func TestSeverity(t *testing.T) {
	res := scanFixture(t, DefaultOptions(), nil)
	for _, tc := range []struct {
		rule, path string
		want       gantry.Severity
	}{
		{"G702", "web/exec.go", gantry.SeverityCritical},
		{"G708", "web/html.go", gantry.SeverityCritical},
		{"G204", "web/exec.go", gantry.SeverityMedium},
		{"G402", "netconf/tls.go", gantry.SeverityHigh},
		{"G103", "lowlevel/unsafe.go", gantry.SeverityLow},
	} {
		f, ok := findRule(res.Findings, tc.rule, tc.path)
		if !ok {
			t.Errorf("no %s in %s", tc.rule, tc.path)
			continue
		}
		if f.Severity != tc.want {
			t.Errorf("%s: severity %s, want %s", tc.rule, f.Severity, tc.want)
		}
	}
}

func TestNosec(t *testing.T) {
	suppressed := readLabels(t, fixtureRoot)["suppressed"]
	if len(suppressed) == 0 {
		t.Fatal("the fixture has no suppressed label")
	}

	honoured := scanFixture(t, DefaultOptions(), nil)
	ignored := DefaultOptions()
	ignored.HonourNosec = false
	all := scanFixture(t, ignored, nil)

	for _, h := range suppressed {
		if slices.Contains(hits(honoured.Findings), h) {
			t.Errorf("%s reported although #nosec is honoured", h)
		}
		if !slices.Contains(hits(all.Findings), h) {
			t.Errorf("%s not reported although #nosec is not honoured", h)
		}
	}
	if got := honoured.Scanned["nosec"]; got != len(suppressed) {
		t.Errorf("Scanned[nosec] = %d, want %d", got, len(suppressed))
	}
	if got := all.Scanned["nosec"]; got != 0 {
		t.Errorf("Scanned[nosec] = %d with #nosec ignored, want 0", got)
	}
}

func TestBuildTags(t *testing.T) {
	tagged := readLabels(t, fixtureRoot)["tagged"]
	if len(tagged) == 0 {
		t.Fatal("the fixture has no tagged label")
	}
	plain := hits(scanFixture(t, DefaultOptions(), nil).Findings)
	withTag := hits(scanFixture(t, DefaultOptions(), map[string]string{"tags": "integration"}).Findings)
	for _, h := range tagged {
		if slices.Contains(plain, h) {
			t.Errorf("%s reported without its build tag", h)
		}
		if !slices.Contains(withTag, h) {
			t.Errorf("%s not reported with -tags integration", h)
		}
	}
}

// TestFingerprintSurvivesMoves shifts the flagged code down a file: the
// lines change, the fingerprints do not. Two identical flagged lines get
// different fingerprints.
func TestFingerprintSurvivesMoves(t *testing.T) {
	const body = `
func a() int { return rand.Int() }

func b() int { return rand.Int() }
`
	header := "package m\n\nimport \"math/rand\"\n"
	root := writeTree(t, map[string]string{"go.mod": "module example.com/m\n\ngo 1.24\n", "m.go": header + body})
	s := newScanner(t, DefaultOptions())
	before := scanDir(t, s, root)

	moved := header + "\n// A comment that moves everything down.\n\nvar _ = 1\n" + body
	if err := os.WriteFile(filepath.Join(root, "m.go"), []byte(moved), 0o600); err != nil {
		t.Fatal(err)
	}
	after := scanDir(t, s, root)

	fps := func(res *scan.Result) (lines []int, fps []string) {
		for _, f := range res.Findings {
			if f.RuleID == "G404" {
				lines = append(lines, f.Location.Line)
				fps = append(fps, f.Fingerprint)
			}
		}
		return lines, fps
	}
	l1, f1 := fps(before)
	l2, f2 := fps(after)
	if len(f1) != 2 || slices.Equal(l1, l2) {
		t.Fatalf("G404 lines before %v, after %v; want two findings that moved", l1, l2)
	}
	if !slices.Equal(f1, f2) {
		t.Errorf("fingerprints changed with the move: %v -> %v", f1, f2)
	}
	if f1[0] == f1[1] {
		t.Errorf("identical lines share the fingerprint %s", f1[0])
	}
}

func TestOtherLanguages(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.mod":                     "module example.com/m\n\ngo 1.24\n",
		"main.go":                    mainGo,
		"tools/gen.py":               "print('x')\n",
		"tools/lib/util.py":          "x = 1\n",
		"web/app.ts":                 "export const x = 1\n",
		"Service.java":               "class Service {}\n",
		"node_modules/left/index.js": "module.exports = 1\n",
		"vendor/x/y.rb":              "puts 1\n",
		".git/hooks/pre-commit.sh":   "exit 0\n",
		"testdata/sample.php":        "<?php\n",
	})
	res := scanDir(t, newScanner(t, DefaultOptions()), root)
	want := []scan.Gap{
		{What: "language: Java (1 file)", Reason: "Gantry cannot analyse Java yet"},
		{What: "language: Python (2 files)", Reason: "Gantry cannot analyse Python yet"},
		{What: "language: TypeScript (1 file)", Reason: "Gantry cannot analyse TypeScript yet"},
	}
	if diff := cmp.Diff(want, res.Gaps); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	if _, ok := findRule(res.Findings, "G401", "main.go"); !ok {
		t.Errorf("the Go code was not scanned: %+v", res.Findings)
	}
}

func TestNoGoModule(t *testing.T) {
	s := newScanner(t, DefaultOptions())

	t.Run("no Go at all", func(t *testing.T) {
		res := scanDir(t, s, writeTree(t, map[string]string{"app.py": "print(1)\n"}))
		if diff := cmp.Diff([]string{"language: Go", "language: Python (1 file)"}, gapWhats(res.Gaps)); diff != "" {
			t.Errorf("gaps (-want +got):\n%s", diff)
		}
	})
	t.Run("Go files without go.mod", func(t *testing.T) {
		res := scanDir(t, s, writeTree(t, map[string]string{"main.go": mainGo}))
		g, ok := findGap(res.Gaps, "module: .")
		if !ok || !strings.Contains(g.Reason, "no go.mod") {
			t.Errorf("gaps %+v, want one for module . that says there is no go.mod", res.Gaps)
		}
		if res.Scanned["packages"] != 0 {
			t.Errorf("Scanned = %v, want no packages", res.Scanned)
		}
	})
}

func TestNestedModules(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.mod":          "module example.com/outer\n\ngo 1.24\n",
		"main.go":         mainGo,
		"svc/go.mod":      "module example.com/svc\n\ngo 1.24\n",
		"svc/cmd/main.go": mainGo,
		"testdata/go.mod": "module example.com/ignored\n\ngo 1.24\n",
		"testdata/x.go":   mainGo,
	})
	res := scanDir(t, newScanner(t, DefaultOptions()), root)
	for _, p := range []string{"main.go", "svc/cmd/main.go"} {
		if _, ok := findRule(res.Findings, "G401", p); !ok {
			t.Errorf("no G401 in %s: %+v", p, res.Findings)
		}
	}
	if res.Scanned["modules"] != 2 || len(res.Gaps) != 0 {
		t.Errorf("Scanned = %v, gaps %+v; want 2 modules and no gaps", res.Scanned, res.Gaps)
	}
}

// TestTypeErrors scans a module where one package does not type-check,
// one imports it, and one has broken tests only.
func TestTypeErrors(t *testing.T) {
	res := scanDir(t, newScanner(t, DefaultOptions()), "testdata/broken")

	bad, ok := findGap(res.Gaps, "package: example.com/broken/bad")
	if !ok || !strings.Contains(bad.Reason, "bad/bad.go:7") {
		t.Errorf("no gap for the bad package with its error: %+v", res.Gaps)
	}
	if _, ok := findGap(res.Gaps, "package: example.com/broken/user"); !ok {
		t.Errorf("no gap for the package importing bad: %+v", res.Gaps)
	}
	tests, ok := findGap(res.Gaps, "package: tests of example.com/broken/testsbad")
	if !ok || !strings.Contains(tests.Reason, "lib_test.go") {
		t.Errorf("no gap for the broken tests: %+v", res.Gaps)
	}
	if len(res.Gaps) != 3 {
		t.Errorf("gaps %+v, want 3", res.Gaps)
	}
	for _, want := range []struct{ rule, path string }{
		{"G401", "good/good.go"},    // syntax rule, healthy package
		{"G701", "good/good.go"},    // taint analysis, healthy package
		{"G404", "bad/bad.go"},      // syntax rules still run on the broken package
		{"G702", "testsbad/lib.go"}, // taint analysis where only the tests are broken
	} {
		if _, ok := findRule(res.Findings, want.rule, want.path); !ok {
			t.Errorf("no %s in %s: %+v", want.rule, want.path, res.Findings)
		}
	}
}

// TestWebapp scans the example service, which lives in Gantry's own
// module: the root has no go.mod of its own.
func TestWebapp(t *testing.T) {
	res := scanDir(t, newScanner(t, Options{HonourNosec: true, ExcludeGenerated: true, Exclude: []string{"G104"}, Env: os.Environ()}), "../../../examples/webapp")
	if len(res.Gaps) != 0 || res.Scanned["packages"] < 5 {
		t.Errorf("gaps %+v, scanned %v", res.Gaps, res.Scanned)
	}
	for _, f := range res.Findings {
		t.Logf("webapp: %s %s:%d %s", f.RuleID, f.Location.Path, f.Location.Line, f.Message)
	}
}

// cancelOn is a progress writer that cancels a scan when it reports a line
// containing a marker.
type cancelOn struct {
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

func TestCancel(t *testing.T) {
	s := newScanner(t, DefaultOptions())
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Scan(ctx, &scan.Request{Root: fixtureRoot})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	for _, marker := range []string{"loading", "analysing"} {
		t.Run("while "+marker, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.Scan(ctx, &scan.Request{Root: fixtureRoot, Progress: &cancelOn{marker, cancel}})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
}

// TestRuleTable keeps the help table and the package documentation in
// step with the rules gosec ships.
func TestRuleTable(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range knownRules() {
		if ruleInfo[id].help == "" {
			t.Errorf("no help text for %s", id)
		}
		if issue.GetCweByRule(id) == nil && ruleInfo[id].cwe == "" {
			t.Errorf("no CWE for %s", id)
		}
		if !strings.Contains(string(doc), id) {
			t.Errorf("doc.go does not list %s", id)
		}
	}
	for id := range ruleInfo {
		if !slices.Contains(knownRules(), id) {
			t.Errorf("help text for %s, which gosec does not ship", id)
		}
	}
}

func BenchmarkScanWebapp(b *testing.B) {
	s, err := New(DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	req := &scan.Request{Root: "../../../examples/webapp"}
	for b.Loop() {
		res, err := s.Scan(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Gaps) != 0 {
			b.Fatalf("gaps: %+v", res.Gaps)
		}
	}
}

// TestFailingAnalyzerIsAGap plants an analyzer that panics, as gosec's own
// could on unusual code: the scan goes on and reports the failure.
func TestFailingAnalyzerIsAGap(t *testing.T) {
	s := newScanner(t, DefaultOptions())
	s.analyzerDefs["G999"] = analyzers.AnalyzerDefinition{
		ID:          "G999",
		Description: "panics",
		Create: guardAnalyzer(func(id, description string) *analysis.Analyzer {
			return &analysis.Analyzer{Name: id, Doc: description, Run: func(*analysis.Pass) (any, error) { panic("boom") }}
		}),
	}
	root := writeTree(t, map[string]string{"go.mod": "module example.com/m\n\ngo 1.24\n", "main.go": mainGo})
	res := scanDir(t, s, root)
	g, ok := findGap(res.Gaps, "package: example.com/m")
	if !ok || !strings.Contains(g.Reason, "G999") || !strings.Contains(g.Reason, "boom") {
		t.Errorf("gaps %+v, want one naming G999 and its panic", res.Gaps)
	}
	if _, ok := findRule(res.Findings, "G401", "main.go"); !ok {
		t.Errorf("the other rules did not run: %+v", res.Findings)
	}
}

func TestSafeRule(t *testing.T) {
	r := safeRule{panicRule{}}
	iss, err := r.Match(nil, nil)
	if iss != nil || err == nil || !strings.Contains(err.Error(), "G998") {
		t.Errorf("Match = %v, %v; want an error naming the rule", iss, err)
	}
}

type panicRule struct{}

func (panicRule) ID() string { return "G998" }

func (panicRule) Match(ast.Node, *gosec.Context) (*issue.Issue, error) { panic("boom") }
