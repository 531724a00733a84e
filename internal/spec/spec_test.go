package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry"
)

var update = flag.Bool("update", false, "rewrite the golden files (plans and the JSON Schema)")

// TestValid parses every valid fixture and compares its plan with the
// golden JSON beside it.
func TestValid(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.gantry.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			p, err := Load(file, testActions)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			data, _ := os.ReadFile(file)
			if p.File != file || p.Digest != gantry.DigestBytes(data) {
				t.Errorf("File, Digest = %q, %q", p.File, p.Digest)
			}
			plan, err := p.Plan()
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			got, err := json.MarshalIndent(plan, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(file, ".gantry.yml") + ".plan.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("plan differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestThreeMistakes is the acceptance test for error reporting: a file with
// three different mistakes gets all three, each with file:line:col.
func TestThreeMistakes(t *testing.T) {
	const file = "testdata/invalid/three-mistakes.gantry.yml"
	_, err := Load(file, Options{})
	want := file + `:4:12: defaults.timeout: invalid duration "45 minutes": expected a number and a unit (s, m or h), such as 90s, 10m or 1h30m
` + file + `:12:9: unknown key "neds" in step "test": did you mean "needs"?
` + file + `:17:17: needs: there is no step "tset": did you mean "test"?`
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestErrorKind checks that the CLI and the server see pipeline errors as
// invalid input whose text the user may read.
func TestErrorKind(t *testing.T) {
	_, err := Parse("x.yml", []byte("version: 2\n"), Options{})
	if got := gantry.ErrorKind(err); got != gantry.EInvalid {
		t.Errorf("ErrorKind = %q, want %q", got, gantry.EInvalid)
	}
	if got := gantry.ErrorMessage(err); got != err.Error() {
		t.Errorf("ErrorMessage = %q, want %q", got, err.Error())
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 {
		t.Errorf("errors.As(*Error) = %v", e)
	}

	_, err = Load(filepath.Join(t.TempDir(), ".gantry.yml"), Options{})
	if got := gantry.ErrorKind(err); got != gantry.ENotFound {
		t.Errorf("Load of a missing file: kind %q (%v), want %q", got, err, gantry.ENotFound)
	}
}

func TestLimits(t *testing.T) {
	big := append([]byte("version: 1\n#"), bytes.Repeat([]byte("x"), MaxFileSize)...)
	path := filepath.Join(t.TempDir(), "big.yml")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, Options{})
	if want := path + ":1:1: the file is larger than 1 MiB (1048576 bytes), the limit for a pipeline file"; err == nil || err.Error() != want {
		t.Errorf("Load of a big file: %v, want %s", err, want)
	}

	// Nine aliases of nine aliases of ...: a billion values from a few lines.
	var b strings.Builder
	b.WriteString("version: 1\nx-0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		a := "*a" + string(rune('0'+i-1))
		b.WriteString("x-" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(a+", ", 8) + a + "]\n")
	}
	b.WriteString("stages: *a9\n")
	start := time.Now()
	_, err = Parse("x.yml", []byte(b.String()), Options{})
	if diff := cmp.Diff([]string{"1:1: the file has more than 100000 YAML values once its aliases are expanded: use fewer aliases"}, positions(t, err)); diff != "" {
		t.Errorf("alias bomb (-want +got):\n%s", diff)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the alias bomb took %v", d)
	}

	// 17 steps of 256 variants pass the limit of steps in a plan.
	var steps strings.Builder
	for i := range 17 {
		steps.WriteString("      - {name: s" + string(rune('a'+i)) + ", run: x, matrix: {a: [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15], b: [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}}\n")
	}
	_, err = Parse("x.yml", []byte("version: 1\nstages:\n  - name: a\n    steps:\n"+steps.String()), Options{})
	if diff := cmp.Diff([]string{"21:9: the pipeline has more than 4096 steps once matrices are expanded (this step passes the limit): split it"}, positions(t, err)); diff != "" {
		t.Errorf("plan size (-want +got):\n%s", diff)
	}
}

// TestSuggest checks that synonyms from other CI systems come before
// typos.
func TestSuggest(t *testing.T) {
	for s, want := range map[string]string{"Run": "run", "script": "run", "tmeout": "timeout", "xyz": "", "exec": "", "executer": "executor"} {
		if got := suggest(s, stepKeys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestRoundTrip checks that the Go types model the file: a parsed pipeline
// written back as YAML parses to the same plan.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.gantry.yml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			p, err := Load(file, testActions)
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse("again.yml", out, testActions)
			if err != nil {
				t.Fatalf("the marshalled pipeline does not parse: %v\n%s", err, out)
			}
			want, _ := p.Plan()
			got, _ := q.Plan()
			ignore := cmp.Options{
				cmpopts.IgnoreFields(Plan{}, "File", "Digest"),
				cmpopts.IgnoreFields(PlanStep{}, "Pos"),
			}
			if diff := cmp.Diff(want, got, ignore); diff != "" {
				t.Errorf("plan after a round trip (-want +got):\n%s\n%s", diff, out)
			}
		})
	}
}
