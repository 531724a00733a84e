package deps

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/requirements"
	"golang.org/x/mod/modfile"

	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/vulndb"
)

// completeGoMod marks the requirements not flagged // indirect as direct
// and restores Go's leading v. The extractor's "stdlib" entry (the go
// directive) is dropped: it names the minimum language version, not the
// toolchain that builds the code; govulncheck checks the standard library
// against the real toolchain. Requirements replaced by a local directory
// are dropped too: their code is part of the repository.
func completeGoMod(root, rel string, found []*extractor.Package) ([]Package, []scan.Gap) {
	direct := map[string]bool{}
	if b, ok := readSibling(root, rel, "go.mod"); ok {
		if mf, err := modfile.ParseLax(rel, b, nil); err == nil {
			for _, r := range mf.Require {
				direct[r.Mod.Path] = !r.Indirect
			}
			for _, r := range mf.Replace {
				if d, ok := direct[r.Old.Path]; ok {
					direct[r.New.Path] = d
				}
			}
		}
	}
	var out []Package
	for _, p := range found {
		if p.Name == "stdlib" || p.Version == "" || strings.HasPrefix(p.Name, ".") || strings.HasPrefix(p.Name, "/") {
			continue
		}
		pkg := fromScalibr(rel, p)
		pkg.Version = "v" + strings.TrimPrefix(p.Version, "v")
		setPURL(&pkg, p)
		pkg.Direct = direct[p.Name]
		out = append(out, pkg)
	}
	return out, nil
}

// npmLock is the part of a package-lock.json read beside the extractor:
// the root's declared dependencies and each package's licence.
type npmLock struct {
	Packages map[string]struct {
		Name                 string            `json:"name"`
		Version              string            `json:"version"`
		License              json.RawMessage   `json:"license"`
		Licenses             json.RawMessage   `json:"licenses"`
		Dependencies         map[string]string `json:"dependencies"`
		DevDependencies      map[string]string `json:"devDependencies"`
		OptionalDependencies map[string]string `json:"optionalDependencies"`
		PeerDependencies     map[string]string `json:"peerDependencies"`
	} `json:"packages"`
}

// packageJSON is the part of a package.json that names direct
// dependencies.
type packageJSON struct {
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
}

// completeNPM marks the root's declared dependencies that are installed at
// the top of node_modules as direct, and adds the licences lock files of
// version 2 and 3 record.
func completeNPM(root, rel string, found []*extractor.Package) ([]Package, []scan.Gap) {
	declared := map[string]bool{}
	topLevel := map[string]string{}      // name → version at node_modules/<name>
	licenses := map[[2]string][]string{} // name, version → licences
	addNames := func(ms ...map[string]string) {
		for _, m := range ms {
			for n := range m {
				declared[n] = true
			}
		}
	}
	var lock npmLock
	if b, ok := readSibling(root, rel, path.Base(rel)); ok && json.Unmarshal(b, &lock) == nil {
		for p, e := range lock.Packages {
			if p == "" {
				addNames(e.Dependencies, e.DevDependencies, e.OptionalDependencies, e.PeerDependencies)
				continue
			}
			i := strings.LastIndex(p, "node_modules/")
			if i < 0 {
				continue // a workspace member
			}
			name := p[i+len("node_modules/"):]
			if e.Name != "" {
				name = e.Name
			}
			if p == "node_modules/"+name {
				topLevel[name] = e.Version
			}
			if ls := npmLicenses(e.License, e.Licenses); len(ls) > 0 {
				licenses[[2]string{name, e.Version}] = ls
			}
		}
	}
	if len(lock.Packages) == 0 {
		// Lock file version 1 does not say which dependencies are the
		// project's own: package.json does.
		var pj packageJSON
		if b, ok := readSibling(root, rel, "package.json"); ok && json.Unmarshal(b, &pj) == nil {
			addNames(pj.Dependencies, pj.DevDependencies, pj.OptionalDependencies, pj.PeerDependencies)
		}
	}
	var out []Package
	for _, p := range found {
		pkg := fromScalibr(rel, p)
		pkg.Direct = declared[p.Name] && (len(lock.Packages) == 0 || topLevel[p.Name] == p.Version)
		pkg.Licenses = licenses[[2]string{p.Name, p.Version}]
		out = append(out, pkg)
	}
	return out, nil
}

// npmLicenses reads the licence fields npm writes: "MIT", {"type": "MIT"},
// or the old [{"type": "MIT"}, …].
func npmLicenses(license, licenses json.RawMessage) []string {
	var out []string
	read := func(raw json.RawMessage) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
			return
		}
		var obj struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &obj) == nil && obj.Type != "" {
			out = append(out, obj.Type)
			return
		}
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			for _, r := range list {
				if json.Unmarshal(r, &obj) == nil && obj.Type != "" {
					out = append(out, obj.Type)
				} else if json.Unmarshal(r, &s) == nil && s != "" {
					out = append(out, s)
				}
			}
		}
	}
	if len(license) > 0 {
		read(license)
	}
	if len(licenses) > 0 {
		read(licenses)
	}
	return out
}

// completeRequirements treats every requirement as direct, and reports the
// ones not pinned to one version with == (or ===): for those the installed
// version is not known, so their vulnerabilities are not checked.
func completeRequirements(_, rel string, found []*extractor.Package) ([]Package, []scan.Gap) {
	var out []Package
	unpinned := map[string][]string{} // file → names
	for _, p := range found {
		pkg := fromScalibr(rel, p)
		pkg.Direct = true
		comp := ""
		if m, ok := p.Metadata.(*requirements.Metadata); ok {
			comp = m.VersionComparator
		}
		if (comp != "==" && comp != "===") || strings.ContainsAny(p.Version, "*,<>!") {
			unpinned[pkg.Path] = append(unpinned[pkg.Path], p.Name)
			pkg.Version = ""
			setPURL(&pkg, p)
		}
		out = append(out, pkg)
	}
	var gaps []scan.Gap
	for _, file := range sortedKeys(unpinned) {
		names := unpinned[file]
		slices.Sort(names)
		names = slices.Compact(names)
		gaps = append(gaps, scan.Gap{
			What:   "file: " + file,
			Reason: fmt.Sprintf("%d requirement(s) not pinned with ==, not checked: %s", len(names), strings.Join(names, ", ")),
		})
	}
	return out, gaps
}

// pyproject is the part of a pyproject.toml that names direct
// dependencies, in Poetry's tables and in PEP 621's.
type pyproject struct {
	Project struct {
		Dependencies         []string            `toml:"dependencies"`
		OptionalDependencies map[string][]string `toml:"optional-dependencies"`
	} `toml:"project"`
	DependencyGroups map[string][]any `toml:"dependency-groups"`
	Tool             struct {
		Poetry struct {
			Dependencies    map[string]any `toml:"dependencies"`
			DevDependencies map[string]any `toml:"dev-dependencies"`
			Group           map[string]struct {
				Dependencies map[string]any `toml:"dependencies"`
			} `toml:"group"`
		} `toml:"poetry"`
	} `toml:"tool"`
}

// pep508Name is the name at the start of a PEP 508 requirement.
var pep508Name = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)

// completePoetry marks the packages pyproject.toml asks for as direct.
func completePoetry(root, rel string, found []*extractor.Package) ([]Package, []scan.Gap) {
	direct := map[string]bool{}
	if b, ok := readSibling(root, rel, "pyproject.toml"); ok {
		var pp pyproject
		if _, err := toml.Decode(string(b), &pp); err == nil {
			addReq := func(reqs []string) {
				for _, r := range reqs {
					if m := pep508Name.FindStringSubmatch(r); m != nil {
						direct[vulndb.NormalizeName(vulndb.EcosystemPyPI, m[1])] = true
					}
				}
			}
			addReq(pp.Project.Dependencies)
			for _, reqs := range pp.Project.OptionalDependencies {
				addReq(reqs)
			}
			for _, reqs := range pp.DependencyGroups {
				for _, r := range reqs {
					if s, ok := r.(string); ok {
						addReq([]string{s})
					}
				}
			}
			tables := []map[string]any{pp.Tool.Poetry.Dependencies, pp.Tool.Poetry.DevDependencies}
			for _, g := range pp.Tool.Poetry.Group {
				tables = append(tables, g.Dependencies)
			}
			for _, t := range tables {
				for n := range t {
					if !strings.EqualFold(n, "python") {
						direct[vulndb.NormalizeName(vulndb.EcosystemPyPI, n)] = true
					}
				}
			}
		}
	}
	var out []Package
	for _, p := range found {
		pkg := fromScalibr(rel, p)
		pkg.Direct = direct[vulndb.NormalizeName(vulndb.EcosystemPyPI, p.Name)]
		out = append(out, pkg)
	}
	return out, nil
}

// cargoLock is the part of a Cargo.lock read beside the extractor.
type cargoLock struct {
	Package []struct {
		Name         string   `toml:"name"`
		Version      string   `toml:"version"`
		Source       string   `toml:"source"`
		Dependencies []string `toml:"dependencies"`
	} `toml:"package"`
}

// completeCargo drops the crates without a source (the workspace's own
// crates and path dependencies, which are the project's code) and marks
// the crates they depend on as direct.
func completeCargo(root, rel string, found []*extractor.Package) ([]Package, []scan.Gap) {
	local := map[[2]string]bool{}
	direct := map[string]bool{}
	if b, ok := readSibling(root, rel, "Cargo.lock"); ok {
		var lock cargoLock
		if _, err := toml.Decode(string(b), &lock); err == nil {
			for _, p := range lock.Package {
				if p.Source != "" {
					continue
				}
				local[[2]string{p.Name, p.Version}] = true
				for _, d := range p.Dependencies {
					// "name", "name version" or "name version (source)"
					direct[strings.Fields(d)[0]] = true
				}
			}
		}
	}
	var out []Package
	for _, p := range found {
		if local[[2]string{p.Name, p.Version}] {
			continue
		}
		pkg := fromScalibr(rel, p)
		pkg.Direct = direct[p.Name]
		out = append(out, pkg)
	}
	return out, nil
}

// completeMaven treats every dependency of a pom.xml as direct (a pom
// names only its own); one whose version cannot be resolved without the
// network (a parent or BOM not in the repository) is a gap.
func completeMaven(_, rel string, found []*extractor.Package) ([]Package, []scan.Gap) {
	var out []Package
	var unresolved []string
	for _, p := range found {
		pkg := fromScalibr(rel, p)
		pkg.Direct = true
		if p.Version == "" || strings.Contains(p.Version, "${") {
			unresolved = append(unresolved, p.Name)
			pkg.Version = ""
			setPURL(&pkg, p)
		}
		out = append(out, pkg)
	}
	var gaps []scan.Gap
	if len(unresolved) > 0 {
		slices.Sort(unresolved)
		gaps = append(gaps, scan.Gap{
			What:   "file: " + rel,
			Reason: fmt.Sprintf("%d dependency version(s) not resolved offline, not checked: %s", len(unresolved), strings.Join(unresolved, ", ")),
		})
	}
	return out, gaps
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
