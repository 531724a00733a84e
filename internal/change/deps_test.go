package change

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the policy engine out of this package: the server
// imports it, and OPA must stay off the server.
func TestImports(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.Contains(dep, "open-policy-agent"),
			dep == "gantry.dev/gantry/internal/policy",
			dep == "gantry.dev/gantry/internal/gate":
			t.Errorf("internal/change imports %s", dep)
		}
	}
}
