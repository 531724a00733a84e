package testcode

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

var update = flag.Bool("update", false, "rewrite RULES.md from the rule table")

func newScanner(t *testing.T, opts Options) *Scanner {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scanDir(t *testing.T, s *Scanner, root string, with map[string]string) *scan.Result {
	t.Helper()
	res, err := s.Scan(context.Background(), &scan.Request{Root: root, With: with})
	if err != nil {
		t.Fatalf("Scan(%s): %v", root, err)
	}
	return res
}

// wantRE matches the labels of the fixtures: "want: RULE…" in a comment
// expects those findings on its line.
var wantRE = regexp.MustCompile(`want:((?:\s+GTC-[A-Z]+-\d+)+)`)

// readLabels returns the expected findings under root, as counts of
// "path:line rule".
func readLabels(t *testing.T, root string) map[string]int {
	t.Helper()
	want := map[string]int{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range wantRE.FindAllStringSubmatch(line, -1) {
				for _, id := range strings.Fields(m[1]) {
					want[fmt.Sprintf("%s:%d %s", filepath.ToSlash(rel), i+1, id)]++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func findingKey(f gantry.Finding) string {
	return fmt.Sprintf("%s:%d %s", f.Location.Path, f.Location.Line, f.RuleID)
}

type score struct{ tp, fp, fn int }

func (s score) precision() float64 {
	if s.tp+s.fp == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fp)
}

func (s score) recall() float64 {
	if s.tp+s.fn == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fn)
}

// evaluate matches findings with labels, per group of keys, and returns
// the scores with the false positives and negatives.
func evaluate(findings []gantry.Finding, labels map[string]int, group func(key string) []string) (map[string]*score, []string, []string) {
	remaining := maps(labels)
	scores := map[string]*score{}
	get := func(key string) []*score {
		var out []*score
		for _, g := range append(group(key), "all") {
			if scores[g] == nil {
				scores[g] = &score{}
			}
			out = append(out, scores[g])
		}
		return out
	}
	var fps, fns []string
	for _, f := range findings {
		k := findingKey(f)
		if remaining[k] > 0 {
			remaining[k]--
			for _, s := range get(k) {
				s.tp++
			}
			continue
		}
		fps = append(fps, k+": "+f.Message)
		for _, s := range get(k) {
			s.fp++
		}
	}
	for k, n := range remaining {
		for range n {
			fns = append(fns, k)
			for _, s := range get(k) {
				s.fn++
			}
		}
	}
	sort.Strings(fps)
	sort.Strings(fns)
	return scores, fps, fns
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestFixtures runs the scanner over the labelled fixtures and requires
// every labelled finding (recall 1) and few others (precision ≥ 0.9),
// overall and per language.
func TestFixtures(t *testing.T) {
	root := filepath.Join("testdata", "fixtures")
	res := scanDir(t, newScanner(t, Options{}), root, nil)
	if len(res.Gaps) > 0 {
		t.Errorf("gaps: %+v", res.Gaps)
	}
	scores, fps, fns := evaluate(res.Findings, readLabels(t, root), func(key string) []string {
		lang, _, _ := strings.Cut(key, "/")
		rule := key[strings.LastIndexByte(key, ' ')+1:]
		return []string{lang, rule}
	})
	groups := make([]string, 0, len(scores))
	for g := range scores {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		s := scores[g]
		t.Logf("%-12s tp=%3d fp=%2d fn=%2d precision=%.3f recall=%.3f", g, s.tp, s.fp, s.fn, s.precision(), s.recall())
		if g == "go" || g == "js" || g == "py" || g == "all" {
			if s.recall() < 1 {
				t.Errorf("%s: recall %.3f, want 1", g, s.recall())
			}
			if s.precision() < 0.9 {
				t.Errorf("%s: precision %.3f, want at least 0.9", g, s.precision())
			}
		}
	}
	for _, fp := range fps {
		t.Logf("false positive: %s", fp)
	}
	for _, fn := range fns {
		t.Errorf("missed: %s", fn)
	}
	if scores["all"].tp < 60 {
		t.Errorf("only %d labelled findings matched; the fixtures lost their labels?", scores["all"].tp)
	}
	wantScanned := map[string]int{"go test files": 3, "javascript test files": 3, "python test files": 3}
	if diff := cmp.Diff(wantScanned, res.Scanned); diff != "" {
		t.Errorf("Scanned (-want +got):\n%s", diff)
	}

	rules := map[string]Rule{}
	for _, r := range Rules() {
		rules[r.ID] = r
	}
	seen := map[string]string{}
	for _, f := range res.Findings {
		r, ok := rules[f.RuleID]
		if !ok {
			t.Errorf("%s: unknown rule", findingKey(f))
			continue
		}
		if f.Tool != "test-code" || f.Severity != r.Severity || f.Message == "" || f.Help != r.Fix ||
			!slices.Equal(f.CWE, r.CWE) || f.Location.Line < 1 || f.Location.Column < 1 || len(f.Fingerprint) != 32 {
			t.Errorf("incomplete finding: %+v", f)
		}
		if prev, dup := seen[f.Fingerprint]; dup {
			t.Errorf("%s and %s share fingerprint %s", prev, findingKey(f), f.Fingerprint)
		}
		seen[f.Fingerprint] = findingKey(f)
	}
}

func TestFingerprintSurvivesLineMoves(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) []gantry.Finding {
		if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return scanDir(t, newScanner(t, Options{}), dir, nil).Findings
	}
	a := write("package x\n\nimport \"os\"\n\nfunc TestX(t *testing.T) {\n\tos.Getenv(\"API_TOKEN\")\n}\n")
	b := write("package x\n\nimport \"os\"\n\n// Moved down.\n\n\nfunc TestX(t *testing.T) {\n\n\tos.Getenv(\"API_TOKEN\")\n}\n")
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("want one finding each, got %v and %v", a, b)
	}
	if a[0].Location.Line == b[0].Location.Line {
		t.Fatal("the finding did not move")
	}
	if a[0].Fingerprint != b[0].Fingerprint {
		t.Errorf("fingerprint changed when the call moved: %s, %s", a[0].Fingerprint, b[0].Fingerprint)
	}
	if want := scan.Fingerprint("test-code", ruleEnv, "x_test.go", `TestX os.Getenv("API_TOKEN")`); a[0].Fingerprint != want {
		t.Errorf("fingerprint %s, want %s", a[0].Fingerprint, want)
	}
	// The same call twice in a function gives two findings, two fingerprints.
	c := write("package x\n\nimport \"os\"\n\nfunc TestX(t *testing.T) {\n\tos.Getenv(\"API_TOKEN\")\n\tos.Getenv(\"API_TOKEN\")\n}\n")
	if len(c) != 2 || c[0].Fingerprint == c[1].Fingerprint || c[0].Fingerprint != a[0].Fingerprint {
		t.Errorf("repeated call: %+v", c)
	}
}

func TestGaps(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"broken_test.go":         "package broken\n\nfunc TestBroken(t *testing.T) {\n\tif {\n}\n",
		"big_test.py":            strings.Repeat("# padding\n", DefaultMaxFileSize/10+1),
		"ok_test.go":             "package ok\n",
		"node_modules/x.test.js": "fetch('https://example.com')\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := scanDir(t, newScanner(t, Options{}), dir, nil)
	var got []string
	for _, g := range res.Gaps {
		got = append(got, g.What)
		t.Logf("gap %s: %s", g.What, g.Reason)
	}
	if diff := cmp.Diff([]string{"file: big_test.py", "file: broken_test.go"}, got); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	for _, g := range res.Gaps {
		if g.What == "file: broken_test.go" && !strings.Contains(g.Reason, "broken_test.go:4") {
			t.Errorf("parse gap %q does not say where", g.Reason)
		}
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings: %v", res.Findings)
	}
}

func TestClassify(t *testing.T) {
	for rel, want := range map[string]language{
		"a/b_test.go": langGo, "b.go": langNone, "x.test.js": langJS, "x.spec.tsx": langJS,
		"src/__tests__/util.ts": langJS, "__tests__/a.mjs": langJS, "types.d.ts": langNone,
		"src/__tests__/data.json": langNone, "src/util.js": langNone, "test_api.py": langPython,
		"api_test.py": langPython, "conftest.py": langPython, "testing.py": langNone, "tests.py": langNone,
	} {
		if got := classify(rel); got != want {
			t.Errorf("classify(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestWalkSkipsAndExcludes(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{
		".git/a_test.go", "node_modules/pkg/a.test.js", "vendor/x/a_test.go", ".gantry/state/a_test.go",
		"testdata/a_test.go", "legacy/a_test.go", "gen/b_test.go", "a_test.go",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		src := "package a\n\nimport \"os\"\n\nvar _ = os.Getenv(\"API_TOKEN\")\n"
		if strings.HasSuffix(p, ".js") {
			src = "process.env.API_TOKEN;\n"
		}
		if err := os.WriteFile(full, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths := func(res *scan.Result) []string {
		var out []string
		for _, f := range res.Findings {
			out = append(out, f.Location.Path)
		}
		return out
	}
	res := scanDir(t, newScanner(t, Options{}), dir, nil)
	if diff := cmp.Diff([]string{"a_test.go", "gen/b_test.go", "legacy/a_test.go"}, paths(res)); diff != "" {
		t.Errorf("default walk (-want +got):\n%s", diff)
	}
	res = scanDir(t, newScanner(t, Options{Exclude: []string{"legacy"}}), dir,
		map[string]string{"exclude": "gen/*", "include-testdata": "true"})
	if diff := cmp.Diff([]string{"a_test.go", "testdata/a_test.go"}, paths(res)); diff != "" {
		t.Errorf("walk with excludes (-want +got):\n%s", diff)
	}
	res = scanDir(t, newScanner(t, Options{}), dir, map[string]string{"disable": ruleEnv})
	if len(res.Findings) != 0 {
		t.Errorf("disabled rule still reported: %v", res.Findings)
	}
}

func TestBadInputs(t *testing.T) {
	if _, err := New(Options{Disable: []string{"GTC-XX-999"}}); err == nil {
		t.Error("New accepted an unknown rule")
	}
	if _, err := New(Options{Exclude: []string{"["}}); err == nil {
		t.Error("New accepted a bad pattern")
	}
	if _, err := New(Options{MaxFileSize: -1}); err == nil {
		t.Error("New accepted a negative size")
	}
	s := newScanner(t, Options{})
	for _, with := range []map[string]string{{"severity": "high"}, {"include-testdata": "maybe"}, {"disable": "nope"}} {
		if _, err := s.Scan(context.Background(), &scan.Request{Root: "testdata/fixtures", With: with}); err == nil {
			t.Errorf("Scan accepted with %v", with)
		}
	}
	if _, err := s.Scan(context.Background(), &scan.Request{Root: "testdata/missing"}); err == nil {
		t.Error("Scan of a missing root succeeded")
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newScanner(t, Options{}).Scan(ctx, &scan.Request{Root: "testdata/fixtures"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Scan with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestRulesDoc keeps RULES.md in step with the rule table; go test -update
// rewrites it.
func TestRulesDoc(t *testing.T) {
	var buf bytes.Buffer
	if err := writeRulesMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("RULES.md", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile("RULES.md")
	if err != nil {
		t.Fatalf("%v (run go test ./internal/scan/testcode -run TestRulesDoc -update)", err)
	}
	if diff := cmp.Diff(string(have), buf.String()); diff != "" {
		t.Errorf("RULES.md is out of date; run go test ./internal/scan/testcode -run TestRulesDoc -update (-file +table):\n%s", diff)
	}
}

func TestRuleTable(t *testing.T) {
	seen := map[string]bool{}
	idRE := regexp.MustCompile(`^GTC-[A-Z]+-\d{3}$`)
	for _, r := range Rules() {
		if !idRE.MatchString(r.ID) || seen[r.ID] {
			t.Errorf("bad or duplicate ID %q", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Severity.Rank() == 0 || len(r.CWE) == 0 || len(r.Rationale) < 80 || len(r.Fix) < 40 {
			t.Errorf("%s is not fully documented", r.ID)
		}
	}
}
