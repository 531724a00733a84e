package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testActions = Options{Actions: []string{"deps", "sast", "secrets"}}

// positions formats errors as "line:col: msg", the part a test checks.
func positions(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not an ErrorList: %v", err, err)
	}
	out := make([]string, len(list))
	for i, e := range list {
		if e.File != "x.yml" {
			t.Errorf("error %q has file %q", e.Msg, e.File)
		}
		out[i] = strings.TrimPrefix(e.Error(), "x.yml:")
	}
	return out
}

// errorCases hold one or two mistakes each, with every error they cause.
var errorCases = []struct {
	name string
	src  string
	opts *Options
	want []string
}{
	// YAML itself.
	{name: "yaml mapping value", src: "version: 1\nstages: a: b\n", want: []string{
		`2:10: invalid YAML: mapping values are not allowed in this context: a value that contains ": " must be quoted`,
	}},
	{name: "yaml indentation", src: "version: 1\nstages:\n  - name: commit\n    steps:\n      - name: build\n        run: go build\n      run: go test\n", want: []string{
		"7: invalid YAML: did not find expected '-' indicator: check the indentation of this line and the lines above it",
	}},
	{name: "yaml tab", src: "version: 1\nstages:\n\t- name: commit\n", want: []string{
		"3:1: invalid YAML: found character that cannot start any token: YAML is indented with spaces, not tabs",
	}},
	{name: "yaml unknown anchor", src: "version: 1\nstages: *nope\n", want: []string{
		"2: invalid YAML: unknown anchor 'nope' referenced: an alias (*name) can only refer to an anchor (&name) defined before it",
	}},
	{name: "yaml unclosed flow", src: "version: 1\nstages: [\n", want: []string{
		"2: invalid YAML: did not find expected node content",
	}},
	{name: "second document", src: "version: 1\nstages: []\n---\nversion: 1\n", want: []string{
		"3:1: a second YAML document starts here: a pipeline file holds one document, so remove this ---",
	}},
	{name: "empty file", src: "# nothing yet\n", want: []string{
		"1:1: the file is empty: a pipeline needs version: 1 and stages",
	}},
	{name: "control character", src: "version: 1\nstages: \x07\n", want: []string{
		"2:9: control character U+0007 is not allowed in YAML: remove it",
	}},
	{name: "invalid utf-8", src: "version: 1\n# caf\xe9\n", want: []string{
		"2:6: byte 0xe9 is not valid UTF-8: a pipeline file must be UTF-8 text",
	}},
	{name: "alias cycle", src: "version: 1\nx-a: &a [*a]\n", want: []string{
		"2:10: alias *a is used inside the value it names, which would make it endless",
	}},

	// The top of the file.
	{name: "not a mapping", src: "- version: 1\n", want: []string{
		"1:1: the file: expected a mapping with version and stages, got a list",
	}},
	{name: "missing version and stages", src: "defaults: {}\n", want: []string{
		"1:1: missing version: add version: 1 at the top of the file",
		"1:1: missing stages: a pipeline needs at least one stage with steps",
	}},
	{name: "version 2", src: "version: 2\nstages: [{name: a, steps: [{name: b, run: c}]}]\n", want: []string{
		"1:10: version: unsupported version 2: this Gantry reads version 1",
	}},
	{name: "version quoted", src: "version: \"1\"\nstages: [{name: a, steps: [{name: b, run: c}]}]\n", want: []string{
		`1:10: version: expected the number 1, got the string "1": remove the quotes`,
	}},
	{name: "version list", src: "version: [1]\nstages: [{name: a, steps: [{name: b, run: c}]}]\n", want: []string{
		"1:10: version: expected 1, got a list",
	}},
	{name: "stages not a list", src: "version: 1\nstages: {name: a}\n", want: []string{
		"2:9: stages: expected a list of stages, got a mapping",
	}},
	{name: "stages empty", src: "version: 1\nstages: []\n", want: []string{
		"2:9: stages: the list is empty: a pipeline needs at least one stage",
	}},
	{name: "unknown top key typo", src: "version: 1\nstage: []\n", want: []string{
		"1:1: missing stages: a pipeline needs at least one stage with steps",
		`2:1: unknown key "stage" at the top of the file: did you mean "stages"?`,
	}},
	{name: "step key at top", src: "version: 1\nstages: [{name: a, steps: [{name: b, run: c}]}]\nsteps: []\n", want: []string{
		`3:1: unknown key "steps" at the top of the file: steps belongs in a stage`,
	}},
	{name: "unknown top key", src: "version: 1\nstages: [{name: a, steps: [{name: b, run: c}]}]\nfoo: 1\n", want: []string{
		`3:1: unknown key "foo" at the top of the file; expected version, defaults or stages (keys starting with x- are ignored, for anchors)`,
	}},
	{name: "duplicate key", src: "version: 1\nversion: 1\nstages: [{name: a, steps: [{name: b, run: c}]}]\n", want: []string{
		`2:1: duplicate key "version": it is already set at line 1`,
	}},
	{name: "key not a string", src: "version: 1\n[a]: 1\nstages: [{name: a, steps: [{name: b, run: c}]}]\n", want: []string{
		"2:1: expected a key name, got a list",
	}},

	// defaults.
	{name: "defaults", src: `version: 1
defaults:
  executor: kubernetes
  image: ${{ matrix.os }}
  timout: 1h
  env: {GANTRY_X: "1"}
stages: [{name: a, steps: [{name: b, run: c}]}]
`, want: []string{
		`3:13: defaults.executor: unknown executor "kubernetes": expected local or docker`,
		"4:10: defaults.image: ${{ }} is not replaced here: only a matrix step's run, env, image and with are",
		`5:3: unknown key "timout" under defaults: did you mean "timeout"?`,
		"6:9: defaults.env: GANTRY_X is reserved: names starting with GANTRY_ are for the variables Gantry sets",
	}},
	{name: "durations", src: `version: 1
defaults:
  timeout: 30
stages:
  - name: a
    steps:
      - {name: b, run: c, timeout: 10 min}
      - {name: c, run: c, timeout: 1d}
      - {name: d, run: c, timeout: 0s}
      - {name: e, run: c, timeout: 200h}
      - {name: f, run: c, timeout: [1h]}
`, want: []string{
		"3:12: defaults.timeout: 30 has no unit: write 30s, 30m or 30h",
		`7:36: timeout: invalid duration "10 min": expected a number and a unit (s, m or h), such as 90s, 10m or 1h30m`,
		`8:36: timeout: invalid duration "1d": there is no unit d; write 24h for a day`,
		"9:36: timeout: the duration must be positive, got 0s",
		"10:36: timeout: 200h is longer than the limit of 168h",
		"11:36: timeout: expected a string, got a list",
	}},

	// Stages.
	{name: "stage not a mapping", src: "version: 1\nstages: [commit]\n", want: []string{
		`2:10: stages[0]: expected a stage: a mapping with name and steps, got the string "commit"`,
	}},
	{name: "stage names", src: `version: 1
stages:
  - name: Commit
    steps: [{name: a, run: x}]
  - steps: [{name: b, run: x}]
  - name: commit-and-a-very-long-name-that-goes-on-and-on-until-the-limit-is-passed
    steps: [{name: c, run: x}]
  - name: Commit
    steps: [{name: d, run: x}]
`, want: []string{
		`3:11: name: invalid stage name "Commit": use lower-case letters, digits, '-' and '_', starting with a letter or digit`,
		"5:5: stage 2 has no name: add name: with a name such as commit",
		"6:11: name: the stage name is 73 characters long; the limit is 63",
		`8:11: name: invalid stage name "Commit": use lower-case letters, digits, '-' and '_', starting with a letter or digit`,
		`8:11: duplicate stage name "Commit": it is already used at line 3`,
	}},
	{name: "stage steps", src: `version: 1
stages:
  - name: a
  - name: b
    steps: []
  - name: c
    steps: {name: x, run: y}
  - name: d
    run: make
    steps: [{name: e, run: x}]
`, want: []string{
		`3:5: stage "a" has no steps: add steps: with at least one step`,
		`5:12: steps: the list is empty: stage "b" needs at least one step`,
		"7:12: steps: expected a list of steps, got a mapping",
		`9:5: unknown key "run" in stage "d": run belongs in a step`,
	}},

	// Steps.
	{name: "step not a mapping", src: "version: 1\nstages: [{name: a, steps: [make]}]\n", want: []string{
		`2:28: steps[0]: expected a step: a mapping with name and run or uses, got the string "make"`,
	}},
	{name: "step names", src: `version: 1
stages:
  - name: a
    steps:
      - {name: build/app, run: x}
      - {name: "test ", run: x}
      - {name: -lint, run: x}
      - {name: "", run: x}
      - {run: x}
      - {name: build, run: x}
      - {name: build, run: x}
      - {name: 2024, run: x}
`, want: []string{
		`5:16: name: invalid step name "build/app": '/' is not allowed; use letters, digits, spaces, '-', '_' and '.' (the name is used in file names)`,
		`6:16: name: invalid step name "test ": it ends with a space`,
		`7:16: name: invalid step name "-lint": it must start with a letter or digit`,
		"8:16: name: the step name is empty",
		`9:9: step 5 of stage "a" has no name: add name: with a name such as build`,
		`11:16: duplicate step name "build": it is already used at line 10; step names must be unique across the pipeline`,
	}},
	{name: "run and uses", src: `version: 1
stages:
  - name: a
    steps:
      - {name: both, run: x, uses: sast}
      - {name: neither, env: {A: b}}
      - {name: inputs, run: x, with: {a: b}}
      - {name: empty, run: []}
      - {name: blank, run: [make, "  "]}
      - {name: mapping, run: {make: all}}
`, want: []string{
		`5:30: step "both" has both run and uses: a step either runs commands or uses an action`,
		`6:9: step "neither" has neither run nor uses: give it commands to run or an action to use`,
		`7:32: with: gives inputs to an action, but step "inputs" has no uses`,
		"8:28: run: the list is empty: give at least one command",
		"9:35: run: the command is empty",
		"10:30: run: expected a string or a list of strings, got a mapping",
	}},
	{name: "unknown action", opts: &testActions, src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, uses: sats}
      - {name: b, uses: fuzz}
      - {name: c, uses: sast, with: {level: {a: b}, off: , n: 3, b: true}}
`, want: []string{
		`5:25: uses: unknown action "sats": did you mean "sast"? (the actions are deps, sast, secrets)`,
		`6:25: uses: unknown action "fuzz": the actions are deps, sast, secrets`,
		"7:45: with.level: expected a string, number or boolean, got a mapping",
		`7:58: with.off: expected a value, got an empty value; write "" for an empty string`,
	}},
	{name: "action name when any is allowed", src: "version: 1\nstages: [{name: a, steps: [{name: a, uses: My_Action}]}]\n", want: []string{
		`2:44: uses: invalid action name "My_Action": expected lower-case letters, digits and '-', starting with a letter`,
	}},
	{name: "no actions", opts: &Options{Actions: []string{}}, src: "version: 1\nstages: [{name: a, steps: [{name: a, uses: sast}]}]\n", want: []string{
		`2:44: uses: unknown action "sast": no built-in actions are available`,
	}},
	{name: "unknown step keys", src: `version: 1
stages:
  - name: a
    steps:
      - name: a
        run: x
        tiemout: 1m
        script: y
        depends_on: [b]
        branch: main
        exit-codes: [1]
        frobnicate: true
`, want: []string{
		`7:9: unknown key "tiemout" in step "a": did you mean "timeout"?`,
		`8:9: unknown key "script" in step "a": did you mean "run"?`,
		`9:9: unknown key "depends_on" in step "a": did you mean "needs"?`,
		`10:9: unknown key "branch" in step "a": branch belongs under when`,
		`11:9: unknown key "exit-codes" in step "a": exit-codes belongs under retry`,
		`12:9: unknown key "frobnicate" in step "a"; expected name, run, uses, with, needs, env, secrets, when, executor, image, network, timeout, retry, continue-on-error, kind, test-report, coverage, outputs or matrix`,
	}},
	{name: "booleans", src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, run: x, network: yes, continue-on-error: 1}
`, want: []string{
		`5:36: network: expected true or false, got the string "yes"`,
		"5:60: continue-on-error: expected true or false, got the number 1",
	}},
	{name: "executor", src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, run: x, executor: dokcer}
      - {name: b, run: x, executor: docker}
      - {name: c, run: x, executor: docker, image: alpine}
`, want: []string{
		`5:37: executor: unknown executor "dokcer": did you mean "docker"? (expected local or docker)`,
		`6:37: step "b" runs in docker but has no image: set image on the step or under defaults`,
	}},
	{name: "docker by default without image", src: `version: 1
defaults:
  executor: docker
stages:
  - name: a
    steps:
      - {name: a, run: x}
      - {name: b, run: x, image: alpine}
      - {name: c, run: x}
      - {name: d, run: x, executor: local}
`, want: []string{
		`3:13: defaults.executor: steps run in docker by default, but there is no image under defaults and steps "a" and "c" set none: add image under defaults`,
	}},
	{name: "retry", src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, run: x, retry: 11}
      - {name: b, run: x, retry: twice}
      - {name: c, run: x, retry: {exit-codes: [1]}}
      - {name: d, run: x, retry: {count: 1, exit-codes: [0, 256, 75, 75, x]}}
      - {name: e, run: x, retry: {count: 1, exit-code: [1]}}
      - {name: f, run: x, retry: {count: 1, exit-codes: 1}}
`, want: []string{
		"5:34: retry: expected a whole number from 0 to 10, got 11",
		`6:34: retry: expected a number of retries, or a mapping such as {count: 2, exit-codes: [75]}, got the string "twice"`,
		"7:34: retry: missing count: say how many times to retry, such as count: 2",
		"8:58: retry.exit-codes[0]: expected a whole number from 1 to 255, got 0",
		"8:61: retry.exit-codes[1]: expected a whole number from 1 to 255, got 256",
		"8:70: retry.exit-codes: 75 is listed twice",
		`8:74: retry.exit-codes[4]: expected a whole number, got the string "x"`,
		`9:45: unknown key "exit-code" under retry: did you mean "exit-codes"?`,
		"10:57: retry.exit-codes: expected a list of exit codes, got the number 1",
	}},
	{name: "env", src: `version: 1
stages:
  - name: a
    steps:
      - name: a
        run: x
        env:
          1ST: a
          with-dash: b
          gantry_run: c
          EMPTY:
          NESTED: {a: b}
          OK: 1
      - {name: b, run: x, env: [A=b]}
`, want: []string{
		`8:11: env: invalid variable name "1ST": use letters, digits and '_', not starting with a digit`,
		`9:11: env: invalid variable name "with-dash": use letters, digits and '_', not starting with a digit`,
		"10:11: env: gantry_run is reserved: names starting with GANTRY_ are for the variables Gantry sets",
		`11:17: env.EMPTY: expected a value, got an empty value; write "" for an empty string`,
		"12:19: env.NESTED: expected a string, number or boolean, got a mapping",
		"14:32: env: expected a mapping of variable names to values, got a list",
	}},
	{name: "secrets", src: `version: 1
defaults:
  env: {TOKEN: x}
stages:
  - name: a
    steps:
      - name: a
        run: x
        env: {DB: x}
        secrets: [DB, TOKEN, API-KEY, KEY, KEY]
`, want: []string{
		"10:19: secrets: DB is also a variable under env; the secret is given to the step as the variable DB, so rename one",
		"10:23: secrets: TOKEN is also a variable under defaults.env; the secret is given to the step as the variable TOKEN, so rename one",
		`10:30: secrets: invalid secret name "API-KEY": use letters, digits and '_', not starting with a digit`,
		"10:44: secrets: KEY is listed twice",
	}},
	{name: "gate", src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, run: x}
    gate:
      policies: [/etc/policies, ../up]
  - name: b
    steps:
      - {name: b, run: x}
    gate: {polices: [p]}
  - name: c
    steps:
      - {name: c, run: x}
    gate:
      policies: []
`, want: []string{
		`7:18: gate.policies: "/etc/policies" is absolute: write a path relative to the workspace`,
		`7:33: gate.policies: "../up" leaves the workspace: write a path inside it`,
		"11:11: gate has no policies: add policies: with Rego files or directories",
		`11:12: unknown key "polices" under gate: did you mean "policies"?`,
		"16:17: gate.policies: the list is empty: name policy files or directories, or remove gate",
	}},
	{name: "coverage", src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, run: x, coverage: /tmp/cover.out}
      - {name: b, run: x, coverage: [c.out]}
`, want: []string{
		`5:37: coverage: "/tmp/cover.out" is absolute: write a path relative to the workspace`,
		"6:37: coverage: expected a string, got a list",
	}},
	{name: "environment", src: `version: 1
stages:
  - name: a
    environment: Production
    steps:
      - {name: a, run: x}
  - name: b
    environment: [prod]
    steps:
      - {name: b, run: x}
`, want: []string{
		`4:18: environment: invalid name "Production": use lower-case letters, digits, '-' and '_', starting with a letter or digit`,
		"8:18: environment: expected a string, got a list",
	}},
	{name: "kind and test-report", src: `version: 1
stages:
  - name: a
    steps:
      - name: a
        run: x
        kind: tset
      - name: b
        run: x
        kind: build
        test-report: report.xml
      - name: c
        run: x
        test-report: /tmp/report.xml
`, want: []string{
		`7:15: kind: unknown step kind "tset": did you mean "test"? (expected build, test, scan or other)`,
		"10:15: kind: the step has a test-report, so it is a test: write kind: test or remove kind",
		`14:22: test-report: "/tmp/report.xml" is absolute: write a path relative to the workspace`,
	}},
	{name: "outputs", src: `version: 1
stages:
  - name: a
    steps:
      - name: a
        run: x
        outputs: [/etc/passwd, ../up, 'dist\app', ./bin/app, bin/app, bin/app, "[bad", "out/${{ matrix.os }}", ""]
`, want: []string{
		`7:19: outputs: "/etc/passwd" is absolute: write a path relative to the workspace`,
		`7:32: outputs: "../up" leaves the workspace: write a path inside it`,
		"7:39: outputs: \"dist\\\\app\" uses \\: separate directories with /",
		`7:51: outputs: "./bin/app" should be written "bin/app"`,
		`7:71: outputs: "bin/app" is listed twice`,
		"7:80: outputs: invalid pattern \"[bad\": a [ class is not closed or is empty, or a \\ ends the pattern",
		"7:93: outputs: ${{ }} is not replaced here: only a matrix step's run, env, image and with are",
		"7:112: outputs: the path is empty",
	}},
	{name: "when", src: `version: 1
stages:
  - name: a
    steps:
      - name: a
        run: x
        when:
          branch: [refs/heads/main, "[x"]
          event: [pr, pushh, "pull_*", tag]
          paths: [/src/**, ./go.mod, docs/**]
          path: x
      - {name: b, run: x, when: {}}
      - {name: c, run: x, when: {branch: []}}
      - {name: d, run: x, when: main}
      - {name: e, run: x, when: {event: {push: true}}}
`, want: []string{
		`8:20: when.branch: "refs/heads/main": write the branch name without refs/heads/`,
		"8:37: when.branch: invalid pattern \"[x\": a [ class is not closed or is empty, or a \\ ends the pattern",
		`9:19: when.event: unknown event "pr": the events are push, pull_request, manual or local`,
		`9:23: when.event: unknown event "pushh": did you mean "push"? (the events are push, pull_request, manual or local)`,
		`9:40: when.event: unknown event "tag": the events are push, pull_request, manual or local`,
		`10:19: when.paths: "/src/**": paths are relative to the repository root: write "src/**"`,
		`10:28: when.paths: "./go.mod": paths are relative to the repository root: write "go.mod"`,
		`11:11: unknown key "path" under when: did you mean "paths"?`,
		"12:33: when: no conditions: add branch, event or paths, or remove when",
		"13:42: when.branch: the list is empty, so the step would never run: add a pattern or remove branch",
		`14:33: when: expected a mapping of conditions (branch, event, paths), got the string "main"`,
		"15:41: when.event: expected a string or a list of strings, got a mapping",
	}},

	// needs.
	{name: "needs", src: `version: 1
stages:
  - name: commit
    steps:
      - {name: build, run: x}
      - {name: test, run: x, needs: [biuld, build, build, test, deploy, nothing-like-it]}
  - name: production
    steps:
      - {name: deploy, run: x, needs: [{build: true}]}
`, want: []string{
		`6:38: needs: there is no step "biuld": did you mean "build"?`,
		`6:52: needs: "build" is listed twice`,
		`6:59: needs: step "test" needs itself`,
		`6:65: needs: "deploy" is in stage "production", which runs after stage "commit": a step can only need steps of its own stage or an earlier one`,
		`6:73: needs: there is no step "nothing-like-it" in the pipeline`,
		"9:40: needs[0]: expected a string, got a mapping",
	}},
	{name: "cycles", src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, run: x, needs: [c]}
      - {name: b, run: x, needs: a}
      - {name: c, run: x, needs: [b]}
      - {name: d, run: x, needs: [e]}
      - {name: e, run: x, needs: [d, a]}
`, want: []string{
		"5:35: needs form a cycle: a -> c -> b -> a; remove one of these needs",
		"8:35: needs form a cycle: d -> e -> d; remove one of these needs",
	}},

	// matrix.
	{name: "matrix shape", src: `version: 1
stages:
  - name: a
    steps:
      - {name: a, run: x, matrix: [go]}
      - {name: b, run: x, matrix: {}}
      - {name: c, run: x, matrix: {go: "1.26", os: [], arch: {a: b}}}
      - {name: d, run: x, matrix: {"go version": [a], go-v: [a], go_v: [b], Go_V: [c]}}
      - {name: e, run: x, matrix: {os: [linux/amd64, "", a, a, {x: y}]}}
`, want: []string{
		`5:35: matrix: expected a mapping of keys to lists of values, such as {go: ["1.25", "1.26"]}, got a list`,
		"6:35: matrix: no keys: add a key with a list of values, or remove matrix",
		`7:40: matrix.go: expected a list of values, got the string "1.26": write [1.26]`,
		"7:52: matrix.os: the list is empty: give at least one value",
		"7:62: matrix.arch: expected a list of values, got a mapping",
		`8:36: matrix: invalid key "go version": use letters, digits, '-' and '_', starting with a letter`,
		`8:66: matrix: keys "go-v" and "go_v" both become the variable GANTRY_MATRIX_GO_V: rename one`,
		`8:77: matrix: keys "go-v" and "Go_V" both become the variable GANTRY_MATRIX_GO_V: rename one`,
		`9:41: matrix.os: invalid value "linux/amd64": use letters, digits, '.', '-' and '_' (the value becomes part of the step name)`,
		"9:54: matrix.os: the value is empty",
		`9:61: matrix.os: "a" is listed twice`,
		"9:64: matrix.os[4]: expected a string, number or boolean, got a mapping",
	}},
	{name: "matrix too big", src: `version: 1
stages:
  - name: a
    steps:
      - name: a
        run: x
        matrix:
          a: [1, 2, 3, 4, 5, 6, 7, 8]
          b: [1, 2, 3, 4, 5, 6, 7, 8]
          c: [1, 2, 3, 4, 5]
`, want: []string{
		"8:11: matrix: more than 256 variants; a step may have at most 256: use fewer values",
	}},
	{name: "expressions", src: `version: 1
stages:
  - name: a
    steps:
      - name: a
        run:
          - echo ${{ matrix.goo }} ${{matrix.os}}
          - "echo ${{ secrets.TOKEN }} ${{ env.HOME }} ${{ github.sha }}"
          - |
            echo one
            echo ${{ matrix.arch }}
          - echo ${{ matrix.go
        env: {V: "${{ matrix.g }}"}
        image: golang:${{ matrix.x }}
        matrix: {go: [1.26], os: [linux]}
      - {name: b, uses: sast, with: {v: "${{ matrix.go }}"}}
`, want: []string{
		`7:18: run: unknown matrix key "goo": did you mean "go"? (the matrix has go, os)`,
		"8:19: run: unknown expression ${{ secrets.TOKEN }}: only ${{ matrix.KEY }} is replaced; a secret listed under secrets is the environment variable $TOKEN",
		"8:40: run: unknown expression ${{ env.HOME }}: only ${{ matrix.KEY }} is replaced; use the environment variable $HOME",
		"8:56: run: unknown expression ${{ github.sha }}: only ${{ matrix.KEY }} is replaced",
		`11:18: run: unknown matrix key "arch": the matrix has go, os`,
		"12:18: run: ${{ is not closed: write ${{ matrix.KEY }}",
		`13:19: env: unknown matrix key "g": did you mean "go"? (the matrix has go, os)`,
		`14:23: image: unknown matrix key "x": the matrix has go, os`,
		`16:42: with.v: ${{ matrix.go }} is used, but step "b" has no matrix`,
	}},
	{name: "merge of a scalar", src: `version: 1
x-a: &a hello
stages:
  - name: a
    steps:
      - {name: a, run: x, <<: *a}
`, want: []string{
		`6:31: <<: expected a mapping or a list of mappings to merge, got the string "hello"`,
	}},
	{name: "error in an anchor", src: `version: 1
x-common: &common
  executor: docker
  imag: alpine
stages:
  - name: a
    steps:
      - {name: a, run: x, <<: *common}
`, want: []string{
		`3:13: step "a" runs in docker but has no image: set image on the step or under defaults`,
		`4:3: unknown key "imag" in step "a": did you mean "image"?`,
	}},
}

func TestErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{}
			if tc.opts != nil {
				opts = *tc.opts
			}
			p, err := Parse("x.yml", []byte(tc.src), opts)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if p != nil {
				t.Error("Parse returned a pipeline with its error")
			}
			if diff := cmp.Diff(tc.want, positions(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
