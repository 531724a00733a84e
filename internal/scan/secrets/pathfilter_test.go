package secrets

import (
	"io/fs"
	"path/filepath"
	"testing"
)

// TestGlobalPathFilter checks the literal-filtered matching of gitleaks'
// global path allowlist against gitleaks' own.
func TestGlobalPathFilter(t *testing.T) {
	rs, err := buildRules(DefaultMinEntropy, nil)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"gitleaks.toml", "a/b/logo.PNG", "fonts/x.woff2", "doc.PDF", "go.mod", "go.work.sum",
		"vendor/modules.txt", "vendor/github.com/x/y.go", "vendor/example.com/x.go",
		"gradlew", "gradlew.bat", "x/gradle.lockfile", "mvnw.cmd", ".mvn/wrapper/MavenWrapperDownloader.java",
		"web/node_modules/left-pad/index.js", "node_modules", "deno.lock", "x/yarn.lock",
		"bower_components/a.js", "static/jquery-3.7.1.min.js", "static/bootstrap.bundle.js.map",
		"javascript.json", "Pipfile.lock", "venv/lib/python3.11/site-packages/a.py",
		"lib/python3.12/site.py", "pkg/requests-2.31.0.dist-info/METADATA", "vendor/bundle/ruby/x.rb",
		"x.gem", "verification-metadata.xml", "Database.refactorlog", "a/.git",
		"src/main.go", "config/app.env", "README.md", "docs/node.md", "envs/lib.go",
	}
	root := filepath.Join(goroot(t), "src")
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if rel, err := filepath.Rel(root, p); err == nil {
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	allowed := 0
	for _, p := range paths {
		want := pathOrCommitAllowed(rs.global, p, "")
		if got := rs.textAllowed(p, ""); got != want {
			t.Errorf("textAllowed(%q) = %v, gitleaks says %v", p, got, want)
		}
		if want {
			allowed++
		}
	}
	t.Logf("%d paths, %d allowed", len(paths), allowed)
}
