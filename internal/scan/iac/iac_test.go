package iac

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

// wantRE matches the labels of the fixtures: "want: RULE…" expects the
// findings on its own line, "want+1: RULE…" on the next line (for
// Dockerfiles, which have no end-of-line comments).
var wantRE = regexp.MustCompile(`want(\+1)?:((?:\s+GIAC-[A-Z0-9]+-\d+)+)`)

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
				n := i + 1
				if m[1] != "" {
					n++
				}
				for _, id := range strings.Fields(m[2]) {
					want[fmt.Sprintf("%s:%d %s", filepath.ToSlash(rel), n, id)]++
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

// score compares findings with labels and returns true and false
// positives and false negatives, per group (the fixture directory).
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

func evaluate(findings []gantry.Finding, labels map[string]int, group func(key string) string) (map[string]*score, []string, []string) {
	remaining := map[string]int{}
	for k, n := range labels {
		remaining[k] = n
	}
	scores := map[string]*score{"all": {}}
	get := func(key string) []*score {
		g := group(key)
		if scores[g] == nil {
			scores[g] = &score{}
		}
		return []*score{scores[g], scores["all"]}
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

// TestFixtures runs the scanner over the labelled fixtures and requires
// every labelled finding (recall 1) and few others (precision ≥ 0.9).
func TestFixtures(t *testing.T) {
	root := filepath.Join("testdata", "fixtures")
	res := scanDir(t, newScanner(t, Options{}), root, nil)
	if len(res.Gaps) > 0 {
		t.Errorf("gaps: %+v", res.Gaps)
	}
	labels := readLabels(t, root)
	scores, fps, fns := evaluate(res.Findings, labels, func(key string) string {
		dir, _, _ := strings.Cut(key, "/")
		return dir
	})
	groups := make([]string, 0, len(scores))
	for g := range scores {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		s := scores[g]
		t.Logf("%-6s tp=%3d fp=%2d fn=%2d precision=%.3f recall=%.3f", g, s.tp, s.fp, s.fn, s.precision(), s.recall())
	}
	for _, fp := range fps {
		t.Logf("false positive: %s", fp)
	}
	for _, fn := range fns {
		t.Errorf("missed: %s", fn)
	}
	all := scores["all"]
	if all.recall() < 1 {
		t.Errorf("recall %.3f, want 1", all.recall())
	}
	if all.precision() < 0.9 {
		t.Errorf("precision %.3f, want at least 0.9", all.precision())
	}
	if all.tp < 60 {
		t.Errorf("only %d labelled findings matched; the fixtures lost their labels?", all.tp)
	}
	wantScanned := map[string]int{"dockerfiles": 5, "kubernetes workloads": 7, "shell scripts": 4}
	if diff := cmp.Diff(wantScanned, res.Scanned); diff != "" {
		t.Errorf("Scanned (-want +got):\n%s", diff)
	}

	// Every finding is complete, and distinct findings have distinct
	// fingerprints.
	rules := map[string]Rule{}
	for _, r := range Rules() {
		rules[r.ID] = r
	}
	fps2 := map[string]string{}
	for _, f := range res.Findings {
		r, ok := rules[f.RuleID]
		if !ok {
			t.Errorf("%s: unknown rule", findingKey(f))
			continue
		}
		if f.Tool != "iac" || f.Severity != r.Severity || f.Message == "" || f.Help != r.Fix ||
			!slices.Equal(f.CWE, r.CWE) || f.Location.Line < 1 || len(f.Fingerprint) != 32 {
			t.Errorf("incomplete finding: %+v", f)
		}
		if prev, dup := fps2[f.Fingerprint]; dup {
			t.Errorf("%s and %s share fingerprint %s", prev, findingKey(f), f.Fingerprint)
		}
		fps2[f.Fingerprint] = findingKey(f)
	}
}

// TestSecretsNotInFindings checks that no message or fingerprint key
// carries a secret value from the fixtures.
func TestSecretsNotInFindings(t *testing.T) {
	res := scanDir(t, newScanner(t, Options{}), filepath.Join("testdata", "fixtures"), nil)
	for _, f := range res.Findings {
		for _, secret := range []string{"hunter2", "ghp_notarealtoken", "sk-live-0123"} {
			if strings.Contains(f.Message, secret) || strings.Contains(f.Help, secret) {
				t.Errorf("%s reveals %q: %s", findingKey(f), secret, f.Message)
			}
		}
	}
}

func TestFingerprintSurvivesLineMoves(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) []gantry.Finding {
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return scanDir(t, newScanner(t, Options{}), dir, nil).Findings
	}
	a := write("FROM alpine:3.20\nUSER app\nRUN chmod 777 /data\n")
	b := write("FROM alpine:3.20\n\n\n# more\nUSER app\n\nRUN   chmod 777 \\\n  /data\n")
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("want one finding each, got %v and %v", a, b)
	}
	if a[0].Location.Line == b[0].Location.Line {
		t.Fatalf("the finding did not move: line %d", a[0].Location.Line)
	}
	if a[0].Fingerprint != b[0].Fingerprint {
		t.Errorf("fingerprint changed with the line: %s, %s", a[0].Fingerprint, b[0].Fingerprint)
	}
	if want := scan.Fingerprint("iac", ruleDFWorldWrite, "Dockerfile", "RUN chmod 777 /data"); a[0].Fingerprint != want {
		t.Errorf("fingerprint %s, want %s", a[0].Fingerprint, want)
	}
}

func TestGaps(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "gaps"))); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("# padding\n"), DefaultMaxFileSize/10+1)
	if err := os.WriteFile(filepath.Join(dir, "big.sh"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	// A large binary without an extension is not a script and no gap.
	if err := os.WriteFile(filepath.Join(dir, "app-binary"), append([]byte("\x7fELF"), big...), 0o755); err != nil {
		t.Fatal(err)
	}
	res := scanDir(t, newScanner(t, Options{}), dir, nil)
	var got []string
	for _, g := range res.Gaps {
		got = append(got, g.What)
		t.Logf("gap %s: %s", g.What, g.Reason)
	}
	want := []string{
		"file: big.sh",
		"file: broken.Dockerfile",
		"file: chart/templates/deployment.yaml",
		"file: unterminated.Dockerfile",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	for _, g := range res.Gaps {
		switch g.What {
		case "file: broken.Dockerfile":
			if !strings.Contains(g.Reason, "line 2") || !strings.Contains(g.Reason, "RUNN") {
				t.Errorf("reason %q does not say where and what", g.Reason)
			}
		case "file: chart/templates/deployment.yaml":
			if !strings.Contains(g.Reason, "template") {
				t.Errorf("reason %q does not mention templates", g.Reason)
			}
		}
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings in gap fixtures: %v", res.Findings)
	}
	// The limit is configurable.
	res = scanDir(t, newScanner(t, Options{MaxFileSize: 8}), dir, nil)
	if !slices.ContainsFunc(res.Gaps, func(g scan.Gap) bool { return g.What == "file: ok.Dockerfile" }) {
		t.Errorf("an 8-byte limit does not skip ok.Dockerfile: %v", res.Gaps)
	}
}

func TestWalkSkipsAndExcludes(t *testing.T) {
	dir := t.TempDir()
	bad := "FROM alpine\n"
	for _, p := range []string{
		".git/Dockerfile", "node_modules/pkg/Dockerfile", "vendor/x/Dockerfile",
		".gantry/state/Dockerfile", "sub/.gantry/state/Dockerfile", "testdata/Dockerfile",
		"deploy/legacy/Dockerfile", "build/Dockerfile.ci", "Dockerfile",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths := func(res *scan.Result) []string {
		var out []string
		for _, f := range res.Findings {
			if !slices.Contains(out, f.Location.Path) {
				out = append(out, f.Location.Path)
			}
		}
		return out
	}
	res := scanDir(t, newScanner(t, Options{}), dir, nil)
	if diff := cmp.Diff([]string{"Dockerfile", "build/Dockerfile.ci", "deploy/legacy/Dockerfile"}, paths(res)); diff != "" {
		t.Errorf("default walk (-want +got):\n%s", diff)
	}
	res = scanDir(t, newScanner(t, Options{Exclude: []string{"deploy/legacy"}}), dir,
		map[string]string{"exclude": "*.ci", "include-testdata": "true"})
	if diff := cmp.Diff([]string{"Dockerfile", "testdata/Dockerfile"}, paths(res)); diff != "" {
		t.Errorf("walk with excludes (-want +got):\n%s", diff)
	}
	res = scanDir(t, newScanner(t, Options{Disable: []string{ruleDFRoot}}), dir, map[string]string{"disable": ruleDFUnpinned})
	if len(res.Findings) != 0 {
		t.Errorf("disabled rules still reported: %v", res.Findings)
	}
}

func TestBadInputs(t *testing.T) {
	if _, err := New(Options{Disable: []string{"GIAC-XX-999"}}); err == nil {
		t.Error("New accepted an unknown rule")
	}
	if _, err := New(Options{Exclude: []string{"["}}); err == nil {
		t.Error("New accepted a bad pattern")
	}
	if _, err := New(Options{MaxFileSize: -1}); err == nil {
		t.Error("New accepted a negative size")
	}
	s := newScanner(t, Options{})
	for _, with := range []map[string]string{
		{"severity": "high"},
		{"include-testdata": "yes please"},
		{"disable": "GIAC-DF-001, nope"},
	} {
		if _, err := s.Scan(context.Background(), &scan.Request{Root: "testdata/fixtures", With: with}); err == nil {
			t.Errorf("Scan accepted with %v", with)
		}
	}
	if _, err := s.Scan(context.Background(), &scan.Request{Root: "testdata/does-not-exist"}); err == nil {
		t.Error("Scan of a missing root succeeded")
	}
	if _, err := s.Scan(context.Background(), &scan.Request{Root: "iac.go"}); err == nil {
		t.Error("Scan of a file succeeded")
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

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	if _, err := newScanner(t, Options{}).Scan(context.Background(), &scan.Request{Root: "testdata/fixtures", Progress: &buf}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "iac: 5 dockerfiles") {
		t.Errorf("progress %q", buf.String())
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
		t.Fatalf("%v (run go test ./internal/scan/iac -run TestRulesDoc -update)", err)
	}
	if diff := cmp.Diff(string(have), buf.String()); diff != "" {
		t.Errorf("RULES.md is out of date; run go test ./internal/scan/iac -run TestRulesDoc -update (-file +table):\n%s", diff)
	}
}

func TestRuleTable(t *testing.T) {
	seen := map[string]bool{}
	idRE := regexp.MustCompile(`^GIAC-(DF|K8S|SH)-\d{3}$`)
	for _, r := range Rules() {
		if !idRE.MatchString(r.ID) || seen[r.ID] {
			t.Errorf("bad or duplicate ID %q", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Severity.Rank() == 0 || len(r.CWE) == 0 || len(r.Rationale) < 80 || len(r.Fix) < 40 {
			t.Errorf("%s is not fully documented", r.ID)
		}
		for _, c := range r.CWE {
			if !regexp.MustCompile(`^CWE-\d+$`).MatchString(c) {
				t.Errorf("%s: bad CWE %q", r.ID, c)
			}
		}
	}
}
