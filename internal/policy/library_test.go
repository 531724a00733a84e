package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibrary(t *testing.T) {
	var out bytes.Buffer
	passed, err := Test(context.Background(), nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !passed {
		t.Fatalf("library tests failed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "PASS:") {
		t.Errorf("no summary printed:\n%s", out.String())
	}
	t.Log(out.String())
}

func TestTest(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		passed bool
		want   string // in the output
	}{
		{
			name: "pass",
			files: map[string]string{
				"gate.rego":      "package gantry.gates.commit\n\ndeny contains \"no\" if input.bad\n",
				"gate_test.rego": "package gantry.gates.commit_test\n\nimport data.gantry.gates.commit\n\ntest_ok if count(commit.deny) == 0 with input as {}\n",
			},
			passed: true,
			want:   "PASS: ",
		},
		{
			name: "fail",
			files: map[string]string{
				"gate.rego":      "package gantry.gates.commit\n\ndeny contains \"no\" if input.bad\n",
				"gate_test.rego": "package gantry.gates.commit_test\n\nimport data.gantry.gates.commit\n\ntest_bad if count(commit.deny) == 0 with input as {\"bad\": true}\n",
			},
			want: "test_bad: FAIL",
		},
		{
			name: "error",
			files: map[string]string{
				"gate_test.rego": "package gantry.gates.commit_test\n\ntest_err if to_number(\"x\") == 1\n",
			},
			want: "eval_builtin_error",
		},
		{
			name: "broken",
			files: map[string]string{
				"gate_test.rego": "package gantry.gates.commit_test\n\ntest_x if {\n",
			},
			want: "gate_test.rego:4:",
		},
		{
			name: "unsafe built-in",
			files: map[string]string{
				"gate_test.rego": "package gantry.gates.commit_test\n\ntest_x if http.send({\"method\": \"get\", \"url\": \"http://x\"})\n",
			},
			want: "gate_test.rego:3:",
		},
		{
			name: "print output",
			files: map[string]string{
				"gate_test.rego": "package gantry.gates.commit_test\n\ntest_x if {\n\tprint(\"hello from print\")\n\tfalse\n}\n",
			},
			want: "hello from print",
		},
		{
			name: "does not compile",
			files: map[string]string{
				"gate_test.rego": "package gantry.gates.commit_test\n\ntest_x if undefined_function(1)\n",
			},
			want: "gate_test.rego:3:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			passed, err := Test(context.Background(), []string{dir}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if passed != tt.passed {
				t.Errorf("passed = %v, want %v\n%s", passed, tt.passed, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
}

func TestTestMissingDir(t *testing.T) {
	if _, err := Test(context.Background(), []string{filepath.Join(t.TempDir(), "nope")}, &bytes.Buffer{}); err == nil {
		t.Fatal("no error for a missing directory")
	}
}
