package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var regoBlock = regexp.MustCompile("(?s)```rego\n(.*?)```")

// TestDocExamples compiles every whole policy shown in docs/policy.md and
// runs the example's tests, so that the documentation cannot rot.
func TestDocExamples(t *testing.T) {
	b, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := 0
	for i, m := range regoBlock.FindAllStringSubmatch(string(b), -1) {
		body := m[1]
		if !strings.HasPrefix(body, "package ") && !strings.HasPrefix(body, "# ") {
			continue // a fragment
		}
		if strings.Count(body, "\n") < 3 {
			continue // a one-line package or import example
		}
		name := filepath.Join(dir, "example"+string(rune('a'+i))+".rego")
		if strings.Contains(body, "_test\n") {
			name = strings.TrimSuffix(name, ".rego") + "_test.rego"
		}
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 3 {
		t.Fatalf("found %d examples in %s", n, docFile)
	}
	var out bytes.Buffer
	passed, err := Test(context.Background(), []string{dir}, &out)
	if err != nil || !passed {
		t.Fatalf("examples: passed %v, err %v\n%s", passed, err, out.String())
	}
	for _, stage := range []string{"commit", "production"} {
		d, err := EvaluatePaths(context.Background(), []string{dir}, stage, testInput())
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed || len(d.Deny) == 0 {
			t.Errorf("%s: the example allows the failing test input", stage)
		}
		for _, r := range d.Deny {
			if strings.Contains(r, "policy") && strings.Contains(r, "error") {
				t.Errorf("%s: %s", stage, r)
			}
		}
		t.Logf("%s: %q warn %q", stage, d.Deny, d.Warn)
	}
}
