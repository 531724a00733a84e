package deps

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gomod"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/pomxml"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/poetrylock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/requirements"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargolock"
	"github.com/google/osv-scalibr/extractor/filesystem/simplefileapi"
	scalibrfs "github.com/google/osv-scalibr/fs"
	"github.com/google/osv-scalibr/purl"
	"github.com/package-url/packageurl-go"

	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/vulndb"
)

// Package is one dependency a manifest or lock file pins.
type Package struct {
	// Ecosystem is the OSV ecosystem name: Go, npm, PyPI, crates.io, Maven.
	Ecosystem string `json:"ecosystem"`
	// Name is the package name in the ecosystem (Maven: group:artifact).
	Name string `json:"name"`
	// Version is the version as the manifest writes it (Go: v1.2.3); empty
	// when the manifest does not pin one (a gap says so).
	Version string `json:"version"`
	PURL    string `json:"purl"`
	// Path is the manifest or lock file, relative to the scanned root, with
	// forward slashes; Line is where it names the package (0: unknown).
	Path string `json:"path"`
	Line int    `json:"line,omitempty"`
	// Direct is whether the project asks for the package itself, rather
	// than through another dependency.
	Direct bool `json:"direct"`
	// Groups are the dependency groups the manifest puts the package in
	// (dev, optional, test, …); empty for the main group.
	Groups []string `json:"groups,omitempty"`
	// Licenses are the licences the lock file records, when it does (npm).
	Licenses []string `json:"licenses,omitempty"`
}

// maxManifestBytes bounds a manifest or lock file; a larger one is a gap.
const maxManifestBytes = 64 << 20

// skipDirs are never descended into: other projects' code (node_modules,
// vendor), version control, and test fixtures (Go's convention: testdata
// holds inputs for tests, not the project's dependencies). Directories
// whose names start with a dot (.git, .venv, .gantry) are skipped too.
var skipDirs = map[string]bool{"node_modules": true, "vendor": true, "testdata": true}

// lockKind is one supported kind of manifest or lock file.
type lockKind struct {
	name string
	new  func() filesystem.Extractor
	// complete adds what the extractor does not record (directness,
	// licences) and reports what it could not pin.
	complete func(root, rel string, pkgs []*extractor.Package) ([]Package, []scan.Gap)
}

func mustExtractor(ex filesystem.Extractor, err error) filesystem.Extractor {
	if err != nil {
		panic(err) // the constructors used here fail only on bad configuration
	}
	return ex
}

var lockKinds = []lockKind{
	{name: "go.mod", new: func() filesystem.Extractor { return mustExtractor(gomod.New(nil)) }, complete: completeGoMod},
	{name: "package-lock.json", new: func() filesystem.Extractor { return mustExtractor(packagelockjson.New(nil)) }, complete: completeNPM},
	{name: "requirements.txt", new: func() filesystem.Extractor { return mustExtractor(requirements.New(nil)) }, complete: completeRequirements},
	{name: "poetry.lock", new: func() filesystem.Extractor { return mustExtractor(poetrylock.New(nil)) }, complete: completePoetry},
	{name: "Cargo.lock", new: func() filesystem.Extractor { return mustExtractor(cargolock.New(nil)) }, complete: completeCargo},
	{name: "pom.xml", new: func() filesystem.Extractor { return mustExtractor(pomxml.New(nil)) }, complete: completeMaven},
}

// unsupported names lock files and manifests Gantry recognises but cannot
// read yet: finding one is a gap, never a silent pass.
var unsupported = map[string]string{
	"yarn.lock":          "npm (yarn.lock)",
	"pnpm-lock.yaml":     "npm (pnpm-lock.yaml)",
	"bun.lock":           "npm (bun.lock)",
	"bun.lockb":          "npm (bun.lockb)",
	"Pipfile.lock":       "PyPI (Pipfile.lock)",
	"pdm.lock":           "PyPI (pdm.lock)",
	"uv.lock":            "PyPI (uv.lock)",
	"pylock.toml":        "PyPI (pylock.toml)",
	"Gemfile.lock":       "RubyGems (Gemfile.lock)",
	"composer.lock":      "Packagist (composer.lock)",
	"build.gradle":       "Maven (Gradle build)",
	"build.gradle.kts":   "Maven (Gradle build)",
	"gradle.lockfile":    "Maven (Gradle lock file)",
	"packages.lock.json": "NuGet (packages.lock.json)",
	"mix.lock":           "Hex (mix.lock)",
	"pubspec.lock":       "Pub (pubspec.lock)",
	"Package.resolved":   "SwiftURL (Package.resolved)",
	"conan.lock":         "ConanCenter (conan.lock)",
	"packages.config":    "NuGet (packages.config)",
}

// Inventory lists the dependencies pinned by the manifests and lock files
// under root: go.mod, package-lock.json (v1–v3) and npm-shrinkwrap.json,
// requirements*.txt, poetry.lock, Cargo.lock and pom.xml, read with
// osv-scalibr's extractors. A file that cannot be parsed, a requirement
// that is not pinned, a recognised lock format that is not supported and a
// manifest without its lock file are gaps. The error is for a root that
// cannot be walked at all.
func Inventory(ctx context.Context, root string) ([]Package, []scan.Gap, error) {
	pkgs, gaps, _, err := inventory(ctx, root)
	return pkgs, gaps, err
}

// inventory is Inventory, and also returns the manifests it read.
func inventory(ctx context.Context, root string) ([]Package, []scan.Gap, []string, error) {
	var (
		read  []string
		pkgs  []Package
		gaps  []scan.Gap
		locks = map[string]map[string]bool{} // lock file name → directories holding one
		manif []string                       // package.json, Cargo.toml, pyproject.toml
	)
	fsys := scalibrfs.DirFS(root)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			gaps = append(gaps, scan.Gap{What: "path: " + filepath.ToSlash(rel), Reason: fmt.Sprintf("cannot be read: %v", err)})
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symbolic links may point outside the repository
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		base := d.Name()
		dir := path.Dir(rel)
		if locks[base] == nil {
			locks[base] = map[string]bool{}
		}
		locks[base][dir] = true
		switch base {
		case "package.json", "Cargo.toml", "pyproject.toml":
			manif = append(manif, rel)
		}
		if what, ok := unsupported[base]; ok {
			gaps = append(gaps, scan.Gap{What: "file: " + rel, Reason: what + " is not supported yet: its dependencies are not checked"})
			return nil
		}
		info, err := d.Info()
		if err != nil {
			gaps = append(gaps, scan.Gap{What: "file: " + rel, Reason: fmt.Sprintf("cannot be read: %v", err)})
			return nil
		}
		api := simplefileapi.New(rel, info)
		for _, k := range lockKinds {
			ex := k.new()
			if !ex.FileRequired(api) {
				continue
			}
			if info.Size() > maxManifestBytes {
				gaps = append(gaps, scan.Gap{What: "file: " + rel, Reason: fmt.Sprintf("%d bytes, more than the limit of %d", info.Size(), maxManifestBytes)})
				break
			}
			found, err := extract(ctx, ex, fsys, root, rel, info)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				gaps = append(gaps, scan.Gap{What: "file: " + rel, Reason: fmt.Sprintf("cannot be parsed: %v", err)})
				break
			}
			read = append(read, rel)
			ps, gs := k.complete(root, rel, found)
			pkgs = append(pkgs, ps...)
			gaps = append(gaps, gs...)
			break
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("inventory %s: %w", root, err)
	}
	gaps = append(gaps, missingLocks(manif, locks)...)
	return dedupe(pkgs), gaps, read, nil
}

// extract runs one extractor on one file.
func extract(ctx context.Context, ex filesystem.Extractor, fsys scalibrfs.FS, root, rel string, info fs.FileInfo) ([]*extractor.Package, error) {
	f, err := fsys.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	inv, err := ex.Extract(ctx, &filesystem.ScanInput{FS: fsys, Path: rel, Root: root, Info: info, Reader: f})
	if err != nil {
		return nil, err
	}
	return inv.Packages, nil
}

// missingLocks reports manifests whose dependencies no lock file pins: a
// package.json or Cargo.toml with no lock beside it or above it (workspace
// members share the root's), a pyproject.toml with no poetry.lock or
// requirements file beside it.
func missingLocks(manifests []string, locks map[string]map[string]bool) []scan.Gap {
	has := func(lock, dir string, ancestors bool) bool {
		for {
			if locks[lock][dir] {
				return true
			}
			if !ancestors || dir == "." {
				return false
			}
			dir = path.Dir(dir)
		}
	}
	var gaps []scan.Gap
	for _, m := range manifests {
		dir := path.Dir(m)
		switch path.Base(m) {
		case "package.json":
			if !has("package-lock.json", dir, true) && !has("npm-shrinkwrap.json", dir, true) &&
				!has("yarn.lock", dir, true) && !has("pnpm-lock.yaml", dir, true) && !has("bun.lock", dir, true) && !has("bun.lockb", dir, true) {
				gaps = append(gaps, scan.Gap{What: "file: " + m, Reason: "no package-lock.json pins its dependencies: they are not checked"})
			}
		case "Cargo.toml":
			if !has("Cargo.lock", dir, true) {
				gaps = append(gaps, scan.Gap{What: "file: " + m, Reason: "no Cargo.lock pins its dependencies: they are not checked"})
			}
		case "pyproject.toml":
			pinned := has("poetry.lock", dir, false) || has("uv.lock", dir, false) || has("pdm.lock", dir, false) || has("pylock.toml", dir, false)
			for name, dirs := range locks {
				if dirs[dir] && strings.HasSuffix(name, ".txt") && strings.Contains(name, "requirements") {
					pinned = true
				}
			}
			if !pinned {
				gaps = append(gaps, scan.Gap{What: "file: " + m, Reason: "no poetry.lock or requirements file pins its dependencies: they are not checked"})
			}
		}
	}
	return gaps
}

// fromScalibr converts an extracted package; the caller sets Direct.
func fromScalibr(rel string, p *extractor.Package) Package {
	out := Package{
		Ecosystem: p.Ecosystem().String(),
		Name:      p.Name,
		Version:   p.Version,
		Path:      rel,
	}
	loc := p.Location
	if len(loc.Related) > 0 && loc.Related[0].File != nil {
		// A requirement reached through -r: name the file that pins it.
		out.Path = filepath.ToSlash(loc.Related[0].File.Path)
		out.Line = loc.Related[0].File.LineNumber
	} else if loc.Descriptor != nil && loc.Descriptor.File != nil {
		out.Line = loc.Descriptor.File.LineNumber
	}
	if g, ok := p.Metadata.(interface{ DepGroups() []string }); ok {
		out.Groups = slices.Clone(g.DepGroups())
		if len(out.Groups) == 0 {
			out.Groups = nil
		}
	}
	out.PURL = purlOf(p)
	return out
}

// setPURL recomputes the PURL after Version changed.
func setPURL(out *Package, p *extractor.Package) {
	q := *p
	q.Version = out.Version
	out.PURL = purlOf(&q)
}

// purlOf returns a package's PURL without the qualifiers osv-scalibr adds
// that the PURL specification does not define for the type (npm's
// "source").
func purlOf(p *extractor.Package) string {
	u := p.PURL()
	if u == nil {
		return ""
	}
	if u.Type == purl.TypeNPM {
		u.Qualifiers = slices.DeleteFunc(slices.Clone(u.Qualifiers), func(q packageurl.Qualifier) bool { return q.Key == "source" })
	}
	return u.String()
}

// dedupe drops packages listed twice by one file (a requirement included
// twice, the same version at two places in node_modules), keeping the
// first, and sorts by path, ecosystem, name and version.
func dedupe(pkgs []Package) []Package {
	type key struct{ path, eco, name, version string }
	seen := map[key]int{}
	var out []Package
	for _, p := range pkgs {
		k := key{p.Path, p.Ecosystem, vulndb.NormalizeName(p.Ecosystem, p.Name), p.Version}
		if i, ok := seen[k]; ok {
			out[i].Direct = out[i].Direct || p.Direct
			continue
		}
		seen[k] = len(out)
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Ecosystem, b.Ecosystem),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return out
}

// readSibling reads a file beside rel, if it is there and small.
func readSibling(root, rel, name string) ([]byte, bool) {
	p := filepath.Join(root, filepath.FromSlash(path.Dir(rel)), name)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxManifestBytes {
		return nil, false
	}
	b, err := os.ReadFile(p)
	return b, err == nil
}
