package deps

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"
)

// goIndex is the Go vulnerability database's index/modules.json: for each
// module, its vulnerabilities and the latest version that fixes each.
type goIndex map[string][]string // module path → fixed versions ("" when unfixed)

func readGoIndex(goDir string) (goIndex, error) {
	b, err := os.ReadFile(filepath.Join(goDir, "index", "modules.json"))
	if err != nil {
		return nil, err
	}
	var mods []struct {
		Path  string `json:"path"`
		Vulns []struct {
			Fixed string `json:"fixed"`
		} `json:"vulns"`
	}
	if err := json.Unmarshal(b, &mods); err != nil {
		return nil, fmt.Errorf("read the Go vulnerability index: %w", err)
	}
	idx := goIndex{}
	for _, m := range mods {
		for _, v := range m.Vulns {
			idx[m.Path] = append(idx[m.Path], v.Fixed)
		}
	}
	return idx, nil
}

// mayAffect reports whether any vulnerability of the index can affect the
// Go module whose go.mod is manifest: one of its requirements, or the
// standard library at goVersion, is below a fixed version (or the
// vulnerability is unfixed). An unknown version counts as affected.
func (idx goIndex) mayAffect(manifest string, pkgs []Package, goVersion string) bool {
	below := func(module, version string) bool {
		for _, fixed := range idx[module] {
			if fixed == "" || version == "" || semver.Compare(canonical(version), canonical(fixed)) < 0 {
				return true
			}
		}
		return false
	}
	if below("stdlib", goVersion) || below("toolchain", goVersion) {
		return true
	}
	for _, p := range pkgs {
		if p.Ecosystem == "Go" && p.Path == manifest && below(p.Name, p.Version) {
			return true
		}
	}
	return false
}

// canonical turns a Go or module version into semver: go1.26.8 → v1.26.8.
func canonical(v string) string {
	v = strings.TrimPrefix(v, "go")
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return v
}

// toolchainVersion is the version of the go command govulncheck runs
// (go1.26.8), or "" when it cannot be told.
func toolchainVersion(ctx context.Context, env []string) string {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
