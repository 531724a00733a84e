// Package sbom is the SBOM scanner: it writes a CycloneDX 1.6 JSON bill of
// materials of the dependencies the inventory of package deps finds, for
// the pipeline to keep as an artifact.
//
// The BOM's metadata names Gantry as the tool and the scanned project as
// the component (its Go module path, else its package.json name, else its
// directory's name). Every package becomes a library component whose
// bom-ref is its purl, with the licence the lock file records or, for Go
// modules, the one package license detects in the module cache. Packages
// only in development or test groups get scope "excluded" (not part of
// the runtime), those in an optional group "optional". The dependency
// graph holds what the manifests state: the project depends on its direct
// dependencies.
//
// Step inputs: `output` is the file to write, relative to the scanned
// root (default sbom.cdx.json).
package sbom

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/scan/deps"
	"gantry.dev/gantry/internal/scan/license"
)

// DefaultOutput is the file the scanner writes when the step names none.
const DefaultOutput = "sbom.cdx.json"

// SpecVersion is the CycloneDX version of the BOMs Gantry writes.
const SpecVersion = "1.6"

// Options configure the scanner.
type Options struct {
	// Now gives the BOM's timestamp; nil: time.Now.
	Now func() time.Time
	// ToolVersion is Gantry's version, for the BOM's tool entry; empty:
	// none is written.
	ToolVersion string
	// ModCache is the Go module cache to read Go modules' licences from;
	// empty: the go command's. NoLicenses skips that look-up (licences
	// lock files record are still written).
	ModCache   string
	NoLicenses bool
}

// Scanner is the SBOM scanner.
type Scanner struct {
	opts Options
}

// New returns an SBOM scanner.
func New(opts Options) (*Scanner, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Scanner{opts: opts}, nil
}

// Name is "sbom".
func (s *Scanner) Name() string { return "sbom" }

// Scan writes the BOM of req.Root to the file `output` names and lists it
// in the result's outputs. It raises no findings; what the inventory could
// not read are its gaps.
func (s *Scanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	out := DefaultOutput
	if o := strings.TrimSpace(req.With["output"]); o != "" {
		out = o
	}
	out = filepath.ToSlash(filepath.Clean(filepath.FromSlash(out)))
	if !filepath.IsLocal(filepath.FromSlash(out)) {
		return nil, gantry.Errorf(gantry.EInvalid, "sbom: output %q must be a path inside the scanned directory", out)
	}
	bom, gaps, err := Build(ctx, req.Root, s.opts)
	if err != nil {
		return nil, err
	}
	if patterns := scan.SplitList(req.With["artifacts"]); len(patterns) > 0 {
		more, err := addArtifacts(bom, req.Root, patterns)
		if err != nil {
			return nil, err
		}
		gaps = append(gaps, more...)
	}
	data, err := Marshal(bom)
	if err != nil {
		return nil, err
	}
	dst := filepath.Join(req.Root, filepath.FromSlash(out))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	if req.Progress != nil {
		fmt.Fprintf(req.Progress, "sbom: %d components written to %s\n", len(bom.Components), out)
	}
	return &scan.Result{
		Tool:     "sbom",
		Findings: []gantry.Finding{},
		Gaps:     gaps,
		Scanned:  map[string]int{"components": len(bom.Components)},
		Outputs:  []string{out},
	}, nil
}

// Marshal encodes a BOM as indented JSON with a final newline.
func Marshal(bom *BOM) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(bom); err != nil {
		return nil, fmt.Errorf("sbom: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Build makes the BOM of the dependencies under root. The gaps are the
// inventory's: what it could not read is missing from the BOM.
func Build(ctx context.Context, root string, opts Options) (*BOM, []scan.Gap, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pkgs, gaps, err := deps.Inventory(ctx, root)
	if err != nil {
		return nil, nil, fmt.Errorf("sbom: %w", err)
	}
	cache := ""
	if !opts.NoLicenses {
		cache = opts.ModCache
		if cache == "" && slices.ContainsFunc(pkgs, func(p deps.Package) bool { return p.Ecosystem == "Go" }) {
			cache = license.DefaultModCache(ctx)
		}
	}
	resolved, err := license.Resolve(ctx, pkgs, cache)
	if err != nil {
		return nil, nil, fmt.Errorf("sbom: %w", err)
	}

	project := projectComponent(root)
	byRef := map[string]*entry{}
	for i, p := range pkgs {
		ref := bomRef(p)
		e := byRef[ref]
		if e == nil {
			e = &entry{c: component(p, ref, resolved[i].License)}
			byRef[ref] = e
		}
		e.direct = e.direct || p.Direct
		e.runtime = e.runtime || len(p.Groups) == 0
		e.optional = e.optional || slices.Contains(p.Groups, "optional")
		e.manifests = appendNew(e.manifests, p.Path)
		if len(e.c.Licenses) == 0 {
			e.c.Licenses = licenseChoice(resolved[i].License)
		}
	}
	refs := make([]string, 0, len(byRef))
	for ref := range byRef {
		refs = append(refs, ref)
	}
	slices.Sort(refs)

	bom := &BOM{
		Schema:      "http://cyclonedx.org/schema/bom-1.6.schema.json",
		BOMFormat:   "CycloneDX",
		SpecVersion: SpecVersion,
		Version:     1,
		Metadata: &Metadata{
			Timestamp: opts.Now().UTC().Format(time.RFC3339),
			Tools: &Tools{Components: []Component{{
				Type: "application", Name: "gantry", Version: opts.ToolVersion,
			}}},
			Component: &project,
		},
		Components: []Component{},
	}
	var direct []string
	for _, ref := range refs {
		e := byRef[ref]
		switch {
		case e.runtime:
		case e.optional:
			e.c.Scope = "optional"
		default:
			e.c.Scope = "excluded"
		}
		for _, m := range e.manifests {
			e.c.Properties = append(e.c.Properties, Property{Name: "gantry:manifest", Value: m})
		}
		bom.Components = append(bom.Components, e.c)
		if e.direct {
			direct = append(direct, ref)
		}
	}
	bom.Dependencies = []Dependency{{Ref: project.BOMRef, DependsOn: direct}}
	bom.SerialNumber = serial(bom)
	return bom, gaps, nil
}

// entry gathers what the manifests say of one component.
type entry struct {
	c                         Component
	direct, runtime, optional bool
	manifests                 []string
}

func appendNew(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// bomRef is a package's bom-ref: its purl, or, for a package without
// one, a reference made of its ecosystem, name and version.
func bomRef(p deps.Package) string {
	if p.PURL != "" {
		return p.PURL
	}
	return "gantry:" + p.Ecosystem + "/" + p.Name + "@" + cmp.Or(p.Version, "unpinned")
}

// component is a package as a CycloneDX library. Maven's group:artifact
// and npm's @scope/name are split into group and name.
func component(p deps.Package, ref, lic string) Component {
	c := Component{Type: "library", BOMRef: ref, Name: p.Name, Version: p.Version, PURL: p.PURL}
	switch p.Ecosystem {
	case "Maven":
		if g, a, ok := strings.Cut(p.Name, ":"); ok {
			c.Group, c.Name = g, a
		}
	case "npm":
		if strings.HasPrefix(p.Name, "@") {
			if g, n, ok := strings.Cut(p.Name, "/"); ok {
				c.Group, c.Name = g, n
			}
		}
	}
	c.Licenses = licenseChoice(lic)
	return c
}

// licenseChoice writes a licence the way CycloneDX wants it: a compound
// SPDX expression as an expression, a known SPDX ID as an ID, anything
// else by name. NOASSERTION writes nothing.
func licenseChoice(lic string) []LicenseChoice {
	lic = strings.TrimSpace(lic)
	switch {
	case lic == "" || strings.EqualFold(lic, license.NoAssertion) || strings.EqualFold(lic, "UNKNOWN"):
		return nil
	case license.IsExpression(lic):
		return []LicenseChoice{{Expression: lic}}
	}
	if id, ok := license.SPDXID(lic); ok {
		return []LicenseChoice{{License: &License{ID: id}}}
	}
	return []LicenseChoice{{License: &License{Name: lic}}}
}

// projectComponent describes the scanned project: an application named by
// root's go.mod module path, else its package.json name, else the
// directory's name.
func projectComponent(root string) Component {
	name := ""
	if data, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		name = modfile.ModulePath(data)
	}
	if name == "" {
		if data, err := os.ReadFile(filepath.Join(root, "package.json")); err == nil {
			var pj struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(data, &pj) == nil {
				name = pj.Name
			}
		}
	}
	if name == "" {
		if abs, err := filepath.Abs(root); err == nil {
			name = filepath.Base(abs)
		}
	}
	name = cmp.Or(name, "project")
	return Component{Type: "application", BOMRef: "gantry:project/" + path.Clean(name), Name: name}
}

// serial derives the BOM's serial number from its content, as a version 8
// (custom) UUID, so the same inputs at the same time give the same BOM.
func serial(bom *BOM) string {
	data, _ := json.Marshal(bom)
	sum := sha256.Sum256(data)
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
