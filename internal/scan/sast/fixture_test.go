package sast

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// fixtureRoot is the labelled module; see testdata/src/README.md.
const fixtureRoot = "testdata/src"

// offlineEnv is the environment the tests load modules with: nothing may
// be downloaded, and the go command does not switch toolchains.
func offlineEnv() []string {
	return append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
}

// hit is a rule reported at a line.
type hit struct {
	path string
	line int
	rule string
}

func (h hit) String() string { return fmt.Sprintf("%s:%d %s", h.path, h.line, h.rule) }

var labelRE = regexp.MustCompile(`\b(want|suppressed|tagged): ((?:G\d{3}\b\s*)+)`)

// readLabels returns the fixture's labels by kind (want, suppressed,
// tagged).
func readLabels(t *testing.T, root string) map[string][]hit {
	t.Helper()
	labels := map[string][]hit{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, p)
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			for _, m := range labelRE.FindAllStringSubmatch(sc.Text(), -1) {
				for _, rule := range strings.Fields(m[2]) {
					labels[m[1]] = append(labels[m[1]], hit{filepath.ToSlash(rel), n, rule})
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return labels
}

func hits(fs []gantry.Finding) []hit {
	var out []hit
	for _, f := range fs {
		h := hit{f.Location.Path, f.Location.Line, f.RuleID}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

func scanFixture(t *testing.T, opts Options, with map[string]string) *scan.Result {
	t.Helper()
	opts.Env = offlineEnv()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(context.Background(), &scan.Request{Root: fixtureRoot, With: with})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if len(res.Gaps) != 0 {
		t.Errorf("gaps on the fixture: %+v", res.Gaps)
	}
	return res
}

// TestFixturePrecisionRecall scans the labelled fixture with the default
// options and measures precision and recall over (path, line, rule).
func TestFixturePrecisionRecall(t *testing.T) {
	labels := readLabels(t, fixtureRoot)
	res := scanFixture(t, DefaultOptions(), nil)
	want := labels["want"]
	got := hits(res.Findings)

	var tp int
	for _, h := range got {
		if slices.Contains(want, h) {
			tp++
		} else {
			t.Logf("false positive: %s", h)
		}
	}
	for _, h := range want {
		if !slices.Contains(got, h) {
			t.Logf("missed: %s", h)
		}
	}
	precision := float64(tp) / float64(max(len(got), 1))
	recall := float64(tp) / float64(max(len(want), 1))
	t.Logf("labels %d, reported %d, true positives %d: precision %.3f, recall %.3f",
		len(want), len(got), tp, precision, recall)
	if precision < 0.9 {
		t.Errorf("precision %.3f < 0.9", precision)
	}
	if recall < 0.9 {
		t.Errorf("recall %.3f < 0.9", recall)
	}

	// Every kind of rule the product documents is exercised.
	for _, rule := range []string{"G101", "G103", "G107", "G115", "G201", "G202", "G203", "G204",
		"G301", "G302", "G304", "G305", "G306", "G401", "G402", "G404", "G501", "G505",
		"G701", "G702", "G703", "G704", "G705", "G708", "G710"} {
		if !slices.ContainsFunc(want, func(h hit) bool { return h.rule == rule }) {
			t.Errorf("no label for %s in the fixture", rule)
		}
	}
}
