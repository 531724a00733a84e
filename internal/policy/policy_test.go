package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func src(name, data string) Source { return Source{Name: name, Data: []byte(data)} }

func TestEvaluate(t *testing.T) {
	in := testInput()
	tests := []struct {
		name     string
		stage    string
		srcs     []Source
		opts     Options
		allowed  bool
		deny     []string // exactly, or
		denyLike string   // a substring of the only reason
		warn     []string
	}{
		{
			name:    "allow",
			stage:   "commit",
			srcs:    []Source{src("commit.rego", "package gantry.gates.commit\n\ndeny contains \"never\" if false\n")},
			allowed: true,
		},
		{
			name:  "deny and warn sorted",
			stage: "commit",
			srcs: []Source{src("commit.rego", `package gantry.gates.commit

deny contains sprintf("step %s is %s", [s.name, s.status]) if {
	some s in input.run.steps
	s.status != "succeeded"
}

deny contains "b reason" if true

deny contains "a reason" if true

warn contains "careful" if true
`)},
			deny: []string{"a reason", "b reason", "step deploy is pending", "step lint is failed", "step unit is failed"},
			warn: []string{"careful"},
		},
		{
			name:    "stage with a dash, quoted package",
			stage:   "commit-stage",
			srcs:    []Source{src("g.rego", "package gantry.gates[\"commit-stage\"]\n\ndeny contains \"no\" if input.stage == \"never\"\n")},
			allowed: true,
		},
		{
			name:  "built-in library",
			stage: "commit",
			srcs: []Source{src("g.rego", `package gantry.gates.commit

import data.gantry.lib

deny contains msg if some msg in lib.tests.deny

deny contains msg if some msg in lib.secrets.deny
`)},
			deny: []string{
				"secret aws-key at .env:2 (fingerprint fp-secret) is not waived",
				"tests did not pass: step unit is failed",
			},
		},
		{
			name:     "parse error",
			stage:    "commit",
			srcs:     []Source{src("bad.rego", "package gantry.gates.commit\n\ndeny contains \"x\" if {\n")},
			denyLike: "bad.rego:4:",
		},
		{
			name:     "compile error",
			stage:    "commit",
			srcs:     []Source{src("bad.rego", "package gantry.gates.commit\n\ndeny contains x if no_such_function(1)\n")},
			denyLike: "bad.rego:3:",
		},
		{
			name:     "unsafe builtin",
			stage:    "commit",
			srcs:     []Source{src("net.rego", "package gantry.gates.commit\n\ndeny contains \"x\" if http.send({\"method\": \"get\", \"url\": \"http://example.com\"}).status_code != 200\n")},
			denyLike: "net.rego:3:",
		},
		{
			name:     "conflict",
			stage:    "commit",
			srcs:     []Source{src("c.rego", "package gantry.gates.commit\n\nx := 1 if true\n\nx := 2 if true\n\ndeny contains \"x\" if x == 3\n")},
			denyLike: "policy evaluation error",
		},
		{
			name:     "built-in error",
			stage:    "commit",
			srcs:     []Source{src("e.rego", "package gantry.gates.commit\n\ndeny contains \"x\" if to_number(input.stage) > 1\n")},
			denyLike: "e.rego:3:",
		},
		{
			name:     "no policy for the stage",
			stage:    "deploy",
			srcs:     []Source{src("commit.rego", "package gantry.gates.commit\n\ndeny contains \"x\" if false\n")},
			denyLike: `no policy for stage "deploy"`,
		},
		{
			name:     "no policy at all",
			stage:    "commit",
			denyLike: `no policy for stage "commit"`,
		},
		{
			name:     "no deny rule",
			stage:    "commit",
			srcs:     []Source{src("w.rego", "package gantry.gates.commit\n\nwarn contains \"x\" if true\n")},
			denyLike: "has no deny rule",
		},
		{
			name:     "deny is not a set",
			stage:    "commit",
			srcs:     []Source{src("d.rego", "package gantry.gates.commit\n\ndeny := \"x\"\n")},
			denyLike: "not a set",
		},
		{
			name:  "messages that are not strings",
			stage: "commit",
			srcs:  []Source{src("d.rego", "package gantry.gates.commit\n\ndeny contains {\"step\": \"lint\"} if true\n")},
			deny:  []string{`{"step":"lint"}`},
		},
		{
			name:     "empty file",
			stage:    "commit",
			srcs:     []Source{src("e.rego", "")},
			denyLike: "e.rego",
		},
		{
			name:     "too large",
			stage:    "commit",
			srcs:     []Source{src("big.rego", "package gantry.gates.commit\n\ndeny contains \"x\" if false\n"+strings.Repeat("# padding\n", 20))},
			opts:     Options{MaxFileBytes: 100},
			denyLike: "larger than 100 bytes",
		},
		{
			name:  "timeout",
			stage: "commit",
			srcs: []Source{src("slow.rego", `package gantry.gates.commit

deny contains "x" if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i + j < 0
}
`)},
			opts:     Options{Timeout: 20 * time.Millisecond},
			denyLike: "did not finish within 20ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Prepare(context.Background(), tt.srcs, tt.stage, tt.opts).Evaluate(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v (deny %q)", d.Allowed, tt.allowed, d.Deny)
			}
			if tt.denyLike != "" {
				if len(d.Deny) != 1 || !strings.Contains(d.Deny[0], tt.denyLike) {
					t.Errorf("deny = %q, want one reason with %q", d.Deny, tt.denyLike)
				}
			} else if diff := cmp.Diff(tt.deny, d.Deny); diff != "" {
				t.Errorf("deny (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warn, d.Warn); diff != "" {
				t.Errorf("warn (-want +got):\n%s", diff)
			}
			if !d.PolicyDigest.Valid() {
				t.Errorf("policy digest %q", d.PolicyDigest)
			}
		})
	}
}

func TestEvaluateCallerErrors(t *testing.T) {
	g := Prepare(context.Background(), []Source{src("c.rego", "package gantry.gates.commit\n\ndeny contains \"x\" if false\n")}, "commit", Options{})
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	d, err := g.Evaluate(context.Background(), nil)
	if err == nil || d.Allowed {
		t.Errorf("nil input: allowed %v, err %v", d.Allowed, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err = g.Evaluate(ctx, testInput())
	if !errors.Is(err, context.Canceled) || d.Allowed || len(d.Deny) == 0 {
		t.Errorf("cancelled: allowed %v, deny %q, err %v", d.Allowed, d.Deny, err)
	}
}

func TestBrokenGateErr(t *testing.T) {
	g := Prepare(context.Background(), []Source{src("b.rego", "package")}, "commit", Options{})
	if g.Err() == nil {
		t.Fatal("no error for a broken policy")
	}
	if g.Stage() != "commit" {
		t.Errorf("stage %q", g.Stage())
	}
}

func TestPolicyDigest(t *testing.T) {
	a := src("a.rego", "package gantry.gates.commit\n\ndeny contains \"x\" if false\n")
	b := src("b.rego", "package gantry.gates.deploy\n\ndeny contains \"x\" if false\n")
	digest := func(srcs ...Source) *Decision {
		t.Helper()
		d, err := Evaluate(context.Background(), srcs, "commit", testInput())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ab, ba := digest(a, b), digest(b, a)
	if ab.PolicyDigest != ba.PolicyDigest {
		t.Error("digest depends on the order of the sources")
	}
	if diff := cmp.Diff(ab.Files, ba.Files); diff != "" {
		t.Error(diff)
	}
	if ab.Files[0] != "a.rego" || ab.Files[1] != "b.rego" || !strings.HasPrefix(ab.Files[2], LibraryPrefix) {
		t.Errorf("files %q", ab.Files)
	}
	b2 := src(b.Name, strings.Replace(string(b.Data), `"x"`, `"y"`, 1))
	if digest(a, b2).PolicyDigest == ab.PolicyDigest {
		t.Error("digest does not change with the bytes")
	}
	renamed := b
	renamed.Name = "c.rego"
	if digest(a, renamed).PolicyDigest == ab.PolicyDigest {
		t.Error("digest does not change with the names")
	}
}

func TestLoadAndEvaluatePaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gates/commit.rego", "package gantry.gates.commit\n\nimport data.gantry.shared\n\ndeny contains msg if some msg in shared.deny\n")
	write("gates/shared/shared.rego", "package gantry.shared\n\ndeny contains \"shared says no\" if true\n")
	write("gates/commit_test.rego", "package gantry.gates.commit_test\n\ntest_x if false\n")
	write("gates/.hidden/x.rego", "not rego at all")
	write("gates/README.md", "not rego")

	srcs, err := Load([]string{filepath.Join(dir, "gates")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, strings.TrimPrefix(s.Name, filepath.ToSlash(dir)+"/"))
	}
	if diff := cmp.Diff([]string{"gates/commit.rego", "gates/shared/shared.rego"}, names); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	d, err := EvaluatePaths(context.Background(), []string{filepath.Join(dir, "gates")}, "commit", testInput())
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || len(d.Deny) != 1 || d.Deny[0] != "shared says no" {
		t.Errorf("decision %+v", d)
	}
	d, err = EvaluatePaths(context.Background(), []string{filepath.Join(dir, "missing")}, "commit", testInput())
	if err == nil || d.Allowed || len(d.Deny) != 1 {
		t.Errorf("missing path: decision %+v, err %v", d, err)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	g := Prepare(context.Background(), []Source{src("commit.rego", `package gantry.gates.commit

import data.gantry.lib

deny contains msg if some msg in lib.tests.deny
deny contains msg if some msg in lib.findings.deny
deny contains msg if some msg in lib.secrets.deny
deny contains msg if some msg in lib.provenance.deny
deny contains msg if some msg in lib.review.deny
deny contains msg if some msg in lib.freeze.deny
`)}, "commit", Options{})
	if err := g.Err(); err != nil {
		b.Fatal(err)
	}
	in := testInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrepare(b *testing.B) {
	srcs := []Source{src("commit.rego", "package gantry.gates.commit\n\nimport data.gantry.lib\n\ndeny contains msg if some msg in lib.tests.deny\n")}
	ctx := context.Background()
	for b.Loop() {
		if err := Prepare(ctx, srcs, "commit", Options{}).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvaluateConcurrently checks that one prepared gate serves many
// evaluations at once (run with -race).
func TestEvaluateConcurrently(t *testing.T) {
	g := Prepare(context.Background(), []Source{src("c.rego", "package gantry.gates.commit\n\nimport data.gantry.lib\n\ndeny contains msg if some msg in lib.tests.deny\n")}, "commit", Options{})
	in := testInput()
	done := make(chan *Decision)
	for range 8 {
		go func() {
			d, err := g.Evaluate(context.Background(), in)
			if err != nil {
				t.Error(err)
			}
			done <- d
		}()
	}
	for range 8 {
		if d := <-done; d == nil || d.Allowed || len(d.Deny) != 1 {
			t.Errorf("decision %+v", d)
		}
	}
}
