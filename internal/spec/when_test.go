package spec

import (
	"strings"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
)

func TestWhenMatch(t *testing.T) {
	push := func(branch string, changed ...string) gantry.Trigger {
		return gantry.Trigger{Event: "push", Branch: branch, Changed: changed}
	}
	tests := []struct {
		name   string
		when   *When
		t      gantry.Trigger
		ok     bool
		reason string
	}{
		{"nil matches", nil, push("main"), true, ""},
		{"branch", &When{Branch: Strings{"main", "release/*"}}, push("release/1.2"), true, ""},
		{"branch with refs", &When{Branch: Strings{"main"}}, push("refs/heads/main"), true, ""},
		{"branch * stops at /", &When{Branch: Strings{"main", "release/*"}}, push("release/1.2/hotfix"), false, `branch "release/1.2/hotfix" is not one of main, release/*`},
		{"branch **", &When{Branch: Strings{"release/**"}}, push("release/1.2/hotfix"), true, ""},
		{"branch mismatch", &When{Branch: Strings{"main", "release/*"}}, push("feature/x"), false, `branch "feature/x" is not one of main, release/*`},
		{"unknown branch", &When{Branch: Strings{"main"}}, gantry.Trigger{Event: "local"}, false, "the branch is not known, and the step runs only on main"},
		{"event", &When{Event: Strings{"push", "pull_request"}}, gantry.Trigger{Event: "pull_request"}, true, ""},
		{"event glob", &When{Event: Strings{"pull_*"}}, gantry.Trigger{Event: "pull_request"}, true, ""},
		{"event mismatch", &When{Event: Strings{"push"}}, gantry.Trigger{Event: "local"}, false, `event "local" is not one of push`},
		{"paths unknown", &When{Paths: Strings{"**/*.go"}}, push("main"), true, ""},
		{"paths", &When{Paths: Strings{"**/*.go", "go.mod"}}, push("main", "README.md", "internal/spec/plan.go"), true, ""},
		{"paths root file", &When{Paths: Strings{"**/*.go", "go.mod"}}, push("main", "go.mod"), true, ""},
		{"paths mismatch", &When{Paths: Strings{"**/*.go", "go.mod"}}, push("main", "docs/go.mod", "README.md"), false, "no changed path matches **/*.go, go.mod"},
		{"paths nothing changed", &When{Paths: Strings{"src/**"}}, gantry.Trigger{Event: "push", Branch: "main", Changed: []string{}}, false, "no path changed, and the step runs only when one of src/** changes"},
		{"all match", &When{Branch: Strings{"main"}, Event: Strings{"push"}, Paths: Strings{"src/**"}}, push("main", "src/a/b.c"), true, ""},
		{"first failing condition", &When{Branch: Strings{"main"}, Event: Strings{"manual"}}, push("main"), false, `event "push" is not one of manual`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := tc.when.Match(tc.t)
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("Match = %v, %q; want %v, %q", ok, reason, tc.ok, tc.reason)
			}
		})
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"**/*.go", "main.go", true},
		{"**/*.go", "a/b/c.go", true},
		{"**/*.go", "a/b/c.txt", false},
		{"*.go", "a/b.go", false},
		{"go.mod", "go.mod", true},
		{"go.mod", "sub/go.mod", false},
		{"docs/**", "docs", true},
		{"docs/**", "docs/a/b.md", true},
		{"docs/**", "docsx/a", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"**", "anything/at/all", true},
		{"release/v[0-9]*", "release/v1.2", true},
		{"release/v[0-9]*", "release/vx", false},
		{"a?c", "abc", true},
		{"a?c", "a/c", false},
	}
	for _, tc := range tests {
		if got := glob.Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("glob.Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// TestMatchGlobCost checks that many ** do not make matching exponential:
// When.Match runs on the server for every push.
func TestMatchGlobCost(t *testing.T) {
	pattern := strings.Repeat("**/a/", 20) + "b"
	name := strings.Repeat("a/", 200) + "c"
	if glob.Match(pattern, name) {
		t.Error("matched")
	}
}
