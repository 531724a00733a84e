package sbom

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/scan"
)

// TestBuiltArtifacts puts a Go binary (this test's own) in a project and
// checks that the BOM lists it with its digest and the modules it was
// built from, and still validates.
func TestBuiltArtifacts(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/app\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "app"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{NoLicenses: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(context.Background(), &scan.Request{Root: root, With: map[string]string{"artifacts": "bin/*, dist/missing.tar.gz"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Gaps) != 1 || !strings.Contains(res.Gaps[0].What, "dist/missing.tar.gz") {
		t.Errorf("gaps %v: want one for the missing artifact", res.Gaps)
	}
	out, err := os.ReadFile(filepath.Join(root, DefaultOutput))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, bomSchema(t), out); err != nil {
		t.Fatalf("the BOM with an artifact does not validate: %v", err)
	}
	text := string(out)
	for _, want := range []string{`"bom-ref": "artifact:bin/app"`, `"alg": "SHA-256"`, `"name": "gantry:go-version"`} {
		if !strings.Contains(text, want) {
			t.Errorf("BOM lacks %s", want)
		}
	}
}
