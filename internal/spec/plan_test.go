package spec

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustPlan(t *testing.T, src string) *Plan {
	t.Helper()
	p, err := Parse("x.yml", []byte(src), testActions)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	plan, err := p.Plan()
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return plan
}

func TestPlanDefaults(t *testing.T) {
	plan := mustPlan(t, `version: 1
defaults:
  executor: docker
  image: alpine:3
  env: {A: from-defaults, B: from-defaults}
  timeout: 20m
stages:
  - name: commit
    steps:
      - name: inherit
        run: [make, make test]
      - name: override
        uses: sast
        with: {level: 3}
        env: {B: from-step}
        executor: local
        image: ignored-for-local
        timeout: 90s
        network: true
        retry: 2
        continue-on-error: true
        secrets: [TOKEN]
        outputs: [report.sarif]
        when: {event: push}
`)
	want := []*PlanStep{
		{
			Name:     "inherit",
			Stage:    "commit",
			Script:   "make\nmake test",
			Env:      map[string]string{"A": "from-defaults", "B": "from-defaults"},
			Executor: "docker",
			Image:    "alpine:3",
			Timeout:  20 * time.Minute,
			Pos:      Pos{10, 9},
		},
		{
			Name:            "override",
			Stage:           "commit",
			Uses:            "sast",
			With:            map[string]string{"level": "3"},
			Env:             map[string]string{"A": "from-defaults", "B": "from-step"},
			Secrets:         []string{"TOKEN"},
			When:            &When{Event: Strings{"push"}},
			Executor:        "local",
			Network:         true,
			Timeout:         90 * time.Second,
			Retry:           Retry{Count: 2},
			ContinueOnError: true,
			Outputs:         []string{"report.sarif"},
			Pos:             Pos{12, 9},
		},
	}
	if diff := cmp.Diff(want, plan.Stages[0].Steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}

	// Without defaults: local, one hour, an empty (not nil) environment.
	plan = mustPlan(t, "version: 1\nstages: [{name: a, steps: [{name: b, run: c}]}]\n")
	wantMinimal := &PlanStep{Name: "b", Stage: "a", Script: "c", Env: map[string]string{}, Executor: "local", Timeout: time.Hour, Pos: Pos{2, 28}}
	if diff := cmp.Diff(wantMinimal, plan.Step("b")); diff != "" {
		t.Errorf("minimal step (-want +got):\n%s", diff)
	}
}

func TestPlanMatrix(t *testing.T) {
	plan := mustPlan(t, `version: 1
stages:
  - name: commit
    steps:
      - name: build
        run: make
      - name: test
        matrix:
          os: [linux, darwin]
          go: [1.25, "1.26"]
          go-arch: [amd64]
        run: GOOS=${{ matrix.os }} go${{matrix.go}} test ./...
        env: {TARGET: "${{ matrix.os }}-${{ matrix.go-arch }}"}
        executor: docker
        image: golang:${{ matrix.go }}
        needs: [build]
      - name: scan
        uses: sast
        with: {target: "${{ matrix.os }}"}
        matrix: {os: [linux]}
  - name: release
    steps:
      - name: publish
        run: ./publish
        needs: [test, scan]
`)
	var names []string
	for _, s := range plan.Stages[0].Steps {
		names = append(names, s.Name)
	}
	wantNames := []string{
		"build",
		"test (go=1.25, go-arch=amd64, os=linux)",
		"test (go=1.25, go-arch=amd64, os=darwin)",
		"test (go=1.26, go-arch=amd64, os=linux)",
		"test (go=1.26, go-arch=amd64, os=darwin)",
		"scan (os=linux)",
	}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}

	want := &PlanStep{
		Name:   "test (go=1.26, go-arch=amd64, os=darwin)",
		Stage:  "commit",
		Script: "GOOS=darwin go1.26 test ./...",
		Env: map[string]string{
			"TARGET":                "darwin-amd64",
			"GANTRY_MATRIX_GO":      "1.26",
			"GANTRY_MATRIX_GO_ARCH": "amd64",
			"GANTRY_MATRIX_OS":      "darwin",
		},
		Needs:    []string{"build"},
		Executor: "docker",
		Image:    "golang:1.26",
		Timeout:  time.Hour,
		Matrix:   map[string]string{"go": "1.26", "go-arch": "amd64", "os": "darwin"},
		Pos:      Pos{7, 9},
	}
	if diff := cmp.Diff(want, plan.Step(want.Name)); diff != "" {
		t.Errorf("variant (-want +got):\n%s", diff)
	}
	if got := plan.Step("scan (os=linux)").With; !cmp.Equal(got, map[string]string{"target": "linux"}) {
		t.Errorf("with = %v", got)
	}
	wantNeeds := append(wantNames[1:5:5], "scan (os=linux)")
	if diff := cmp.Diff(wantNeeds, plan.Step("publish").Needs); diff != "" {
		t.Errorf("needs of a matrix step (-want +got):\n%s", diff)
	}
}

// TestPlanBuiltInCode checks that Plan refuses what Parse would have, for
// pipelines that did not come from Parse.
func TestPlanBuiltInCode(t *testing.T) {
	p := &Pipeline{
		Version: 1,
		File:    "code",
		Stages: []Stage{
			{Name: "a", Steps: []Step{
				{Name: "x", Run: Commands{"make"}, Needs: Strings{"y"}, Pos: Pos{3, 5}},
				{Name: "x", Run: Commands{"make"}, Pos: Pos{4, 5}},
			}},
		},
	}
	_, err := p.Plan()
	want := []string{
		`code:3:5: step "x" needs "y", which is not a step of its own stage or an earlier one`,
		`code:4:5: duplicate step name "x"`,
	}
	var got []string
	for _, e := range err.(ErrorList) {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"go": "1.26", "os": "linux"}
	tests := []struct{ in, want string }{
		{"go${{ matrix.go }}", "go1.26"},
		{"${{matrix.os}}/${{  matrix.go  }}", "linux/1.26"},
		{"${{ matrix.nope }} stays", "${{ matrix.nope }} stays"},
		{"${{ unclosed", "${{ unclosed"},
		{"no expressions", "no expressions"},
	}
	for _, tc := range tests {
		if got := substitute(tc.in, vars); got != tc.want {
			t.Errorf("substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
