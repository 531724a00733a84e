package gantry_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph keeps the architecture: the root package is vocabulary
// with no infrastructure, the engine gets executors and stores injected,
// and the parts below do not reach up.
func TestImportGraph(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps=false", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "gantry.dev/gantry"
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
	}
	if len(imports) < 5 {
		t.Fatalf("go list found only %d packages", len(imports))
	}
	isStd := func(p string) bool { return !strings.Contains(strings.Split(p, "/")[0], ".") }
	forbid := func(pkgPrefix string, banned ...string) {
		for pkg, imps := range imports {
			if pkg != pkgPrefix && !strings.HasPrefix(pkg, pkgPrefix+"/") {
				continue
			}
			for _, imp := range imps {
				for _, b := range banned {
					if imp == b || strings.HasPrefix(imp, b+"/") {
						t.Errorf("%s imports %s", pkg, imp)
					}
				}
			}
		}
	}

	for _, imp := range imports[mod] {
		if !isStd(imp) {
			t.Errorf("the root package imports %s: it must hold only vocabulary (standard library imports)", imp)
		}
	}
	in := func(p string) string { return mod + "/internal/" + p }
	forbid(in("engine"), in("cli"), in("server"), in("store"), in("executor"), in("agent"), in("web"))
	forbid(in("executor"), in("engine"), in("cli"), in("server"), in("store"), in("spec"))
	forbid(in("store"), in("engine"), in("cli"), in("server"), in("executor"), in("spec"))
	forbid(in("spec"), in("engine"), in("cli"), in("server"), in("store"), in("executor"))
	forbid(in("cas"), in("engine"), in("cli"), in("server"), in("store"), in("executor"))
	// The agent and the server speak through internal/agentproto only.
	forbid(in("agent"), in("server"), in("cli"), in("store"), in("web"), in("auth"))
	forbid(in("agentproto"), in("agent"), in("server"), in("cli"), in("store"))
	forbid(in("server"), in("agent"), in("cli"), in("store/sqlite"), in("store/postgres"))
	// Libraries the server wires together know nothing of it, or of the
	// stores they are given.
	forbid(in("auth"), in("server"), in("web"), in("cli"), in("store/sqlite"), in("store/postgres"))
	forbid(in("web"), in("server"), in("cli"), in("auth"), in("store/sqlite"), in("store/postgres"))
	forbid(in("forge"), in("server"), in("cli"), in("store"), in("engine"))
	forbid(in("secrets"), in("server"), in("cli"), in("engine"), in("store/sqlite"), in("store/postgres"))
	forbid(in("ledger"), in("evidence"), in("server"), in("cli"), in("engine"), in("store/sqlite"), in("store/postgres"))
	forbid(in("evidence"), in("server"), in("cli"), in("engine"), in("store/sqlite"), in("store/postgres"))
	forbid(in("policy"), in("server"), in("cli"), in("engine"), in("store"), in("executor"))
	forbid(in("gate"), in("server"), in("cli"), in("agent"), in("store"), in("executor"))
	forbid(in("report"), in("server"), in("cli"), in("engine"), in("store"), in("executor"))
	// The examples are applications Gantry delivers, not parts of it.
	for pkg, imps := range imports {
		if !strings.HasPrefix(pkg, mod+"/examples/") {
			continue
		}
		for _, imp := range imps {
			if strings.HasPrefix(imp, mod) && !strings.HasPrefix(imp, mod+"/examples/") {
				t.Errorf("example %s imports %s", pkg, imp)
			}
		}
	}
	for pkg, imps := range imports {
		for _, imp := range imps {
			if imp == in("cli") && pkg != mod+"/cmd/gantry" {
				t.Errorf("%s imports the CLI; only cmd/gantry may", pkg)
			}
		}
	}
}
