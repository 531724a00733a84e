package yamlfile

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package at the bottom of the graph: the pipeline
// and the change decoders both import it, so it imports only the root
// package, the YAML parser and the standard library.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatalf("read the package: %v", err)
	}
	for _, imp := range pkg.Imports {
		std := !strings.Contains(strings.Split(imp, "/")[0], ".")
		if !std && imp != "gantry.dev/gantry" && imp != "go.yaml.in/yaml/v3" {
			t.Errorf("internal/yamlfile imports %s", imp)
		}
	}
	if len(pkg.Imports) == 0 {
		t.Error("found no imports: the check reads nothing")
	}
}
