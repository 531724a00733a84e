package secrets

import "testing"

func TestPathAllowlist(t *testing.T) {
	a, err := compileAllowlist(Allowlist{Paths: []string{
		"fixtures", "docs/**", "**/*.golden", "config/dev-?.env", "./build/", "*.min.[jc]s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"fixtures/a.env":         true,
		"src/fixtures/b/c.env":   true,
		"fixtures.env":           false,
		"docs/a/b/c.md":          true,
		"docs":                   true,
		"src/docs/a.md":          false,
		"a.golden":               true,
		"x/y/z.golden":           true,
		"config/dev-1.env":       true,
		"config/dev-12.env":      false,
		"build/out.txt":          true,
		"web/app.min.js":         true,
		"web/app.min.ts":         false,
		"src/main.go":            false,
		"documentation/guide.md": false,
	} {
		if got := a.pathAllowed(path); got != want {
			t.Errorf("pathAllowed(%q) = %v, want %v", path, got, want)
		}
	}
	if _, err := compileAllowlist(Allowlist{Paths: []string{"a/[b"}}); err == nil {
		t.Error("an unclosed class was accepted")
	}
	var none *projectAllowlist
	if none.pathAllowed("a") || none.secretAllowed([]byte("a")) {
		t.Error("a nil allowlist allows")
	}
}

func TestLockFiles(t *testing.T) {
	for path, want := range map[string]bool{
		"package-lock.json":    true,
		"web/yarn.lock":        true,
		"Cargo.lock":           true,
		"a/b/poetry.lock":      true,
		"go.sum":               true,
		"lockfile.json":        false,
		"src/lock.go":          false,
		"packages.lock.json":   true,
		".terraform.lock.hcl":  true,
		"deploy/flux/app.yaml": false,
	} {
		if got := isLockFile(path); got != want {
			t.Errorf("isLockFile(%q) = %v, want %v", path, got, want)
		}
	}
}
