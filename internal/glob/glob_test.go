package glob

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"cmd/**", "cmd/gantry/main.go", true},
		{"cmd/**", "cmd", true},
		{"**/*_test.go", "a/b/c_test.go", true},
		{"**/*_test.go", "c_test.go", true},
		{"*.go", "a/b.go", false},
		{"dist/*.tar.gz", "dist/app.tar.gz", true},
		{"dist/*.tar.gz", "dist/x/app.tar.gz", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"go.mod", "./go.mod", true},
		{"[", "[", false},
	} {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// TestMatchManyStars guards against an exponential search.
func TestMatchManyStars(t *testing.T) {
	pattern := strings.Repeat("**/", 30) + "x"
	name := strings.Repeat("a/", 60) + "y"
	if Match(pattern, name) {
		t.Error("matched")
	}
}
