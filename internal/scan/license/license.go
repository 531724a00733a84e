package license

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/scan/deps"
)

// The rule IDs; doc.go documents them.
const (
	RuleDenied     = "GLIC-001"
	RuleNotAllowed = "GLIC-002"
	RuleUnknown    = "GLIC-003"
)

// maxLicenseBytes bounds a licence file read from the module cache.
const maxLicenseBytes = 1 << 20

// Options configure the scanner.
type Options struct {
	// ModCache is the Go module cache to read licence files from; empty:
	// $GOMODCACHE, else `go env GOMODCACHE`.
	ModCache string
}

// Scanner is the licence scanner.
type Scanner struct {
	opts Options
}

// New returns a licence scanner.
func New(opts Options) (*Scanner, error) {
	return &Scanner{opts: opts}, nil
}

// Name is "license".
func (s *Scanner) Name() string { return "license" }

// Licensed is a package with the licence found for it.
type Licensed struct {
	deps.Package
	// License is an SPDX expression, or NOASSERTION.
	License string
	// Source says where it came from: "lock file", or the licence files
	// in the module cache, relative to the module's directory.
	Source string
	// Why says, for NOASSERTION, why no licence was found.
	Why string
}

// Resolve finds the licence of each package: the lock file's, else, for
// Go modules, the one the licence files in modCache state.
func Resolve(ctx context.Context, pkgs []deps.Package, modCache string) ([]Licensed, error) {
	out := make([]Licensed, 0, len(pkgs))
	for _, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l := Licensed{Package: p, License: NoAssertion}
		switch {
		case len(p.Licenses) > 0:
			l.License, l.Source = joinLicenses(p.Licenses, "OR"), "lock file"
		case p.Ecosystem == "Go":
			l.License, l.Source, l.Why = fromModCache(modCache, p.Name, p.Version)
		default:
			l.Why = "the lock file records no licence and " + p.Ecosystem + " packages are not looked up"
		}
		out = append(out, l)
	}
	return out, nil
}

// joinLicenses joins several licences (npm's legacy "licenses" array, or
// the licence files of one module) with op, parenthesising expressions.
func joinLicenses(ls []string, op string) string {
	var parts []string
	for _, l := range ls {
		l = strings.TrimSpace(l)
		if l == "" || slices.Contains(parts, l) {
			continue
		}
		if len(ls) > 1 && strings.ContainsAny(l, " ") && !strings.HasPrefix(l, "(") {
			l = "(" + l + ")"
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return NoAssertion
	}
	return strings.Join(parts, " "+op+" ")
}

// licenseFile reports whether a file in a module's root directory is a
// licence file: LICENSE, LICENCE, COPYING, UNLICENSE, with any extension
// or suffix (LICENSE.md, LICENSE-MIT, COPYING.LESSER).
func licenseFile(name string) bool {
	n := strings.ToUpper(name)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "UNLICENSE"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// fromModCache reads the licence files of module path@version in the
// module cache and detects their licences. Several licences found are
// joined with AND, the reading that assumes the least.
func fromModCache(modCache, path, version string) (license, source, why string) {
	if modCache == "" {
		return NoAssertion, "", "no Go module cache is available"
	}
	if version == "" {
		return NoAssertion, "", "the version is not pinned"
	}
	ep, err := module.EscapePath(path)
	if err != nil {
		return NoAssertion, "", fmt.Sprintf("invalid module path: %v", err)
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return NoAssertion, "", fmt.Sprintf("invalid module version: %v", err)
	}
	return fromModuleDir(filepath.Join(modCache, filepath.FromSlash(ep)+"@"+ev))
}

// fromModuleDir detects the licence of the module extracted in dir.
func fromModuleDir(dir string) (license, source, why string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return NoAssertion, "", "the module is not in the module cache (run go mod download)"
	}
	// The module's own licence files (LICENSE, COPYING.LESSER) come
	// first; suffixed ones (LICENSE-MIT, LICENSE-3RD-PARTY.md) count only
	// when there is none, since they often describe vendored code.
	var primary, secondary []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !licenseFile(e.Name()) {
			continue
		}
		stem, _, _ := strings.Cut(strings.ToUpper(e.Name()), ".")
		switch stem {
		case "LICENSE", "LICENCE", "COPYING", "UNLICENSE":
			primary = append(primary, e.Name())
		default:
			secondary = append(secondary, e.Name())
		}
	}
	var ids, files []string
	for _, group := range [][]string{primary, secondary} {
		for _, name := range group {
			text, err := readLimited(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			files = append(files, name)
			for _, id := range Detect(text) {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) > 0 {
			break
		}
	}
	// An LGPL comes with the GPL it amends (COPYING and COPYING.LESSER):
	// the LGPL is the licence.
	if slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, "LGPL-") }) {
		ids = slices.DeleteFunc(ids, func(id string) bool { return strings.HasPrefix(id, "GPL-") })
	}
	source = strings.Join(files, ", ")
	switch {
	case len(files) == 0:
		return NoAssertion, "", "the module has no LICENSE or COPYING file"
	case len(ids) == 0:
		return NoAssertion, source, "the text of " + source + " is not a licence Gantry recognises"
	}
	return joinLicenses(ids, "AND"), source, ""
}

func readLimited(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLicenseBytes))
	return string(b), err
}

// modCache returns the module cache to read.
func (s *Scanner) modCache(ctx context.Context) string {
	if s.opts.ModCache != "" {
		return s.opts.ModCache
	}
	return DefaultModCache(ctx)
}

// DefaultModCache returns the Go module cache: $GOMODCACHE, else what
// `go env GOMODCACHE` says, else "" when there is no go command.
func DefaultModCache(ctx context.Context) string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// policy is what the step's inputs ask.
type policy struct {
	allow, deny idSet
	unknown     gantry.Severity // "" when unknown licences are not reported
}

func parsePolicy(with map[string]string) (*policy, error) {
	p := &policy{allow: parseIDList(with["allow"]), deny: parseIDList(with["deny"]), unknown: gantry.SeverityMedium}
	if u := strings.TrimSpace(with["unknown"]); u != "" {
		switch strings.ToLower(u) {
		case "off", "none", "ignore":
			p.unknown = ""
		default:
			sev, err := gantry.ParseSeverity(u)
			if err != nil {
				return nil, gantry.Errorf(gantry.EInvalid, "license: with unknown: %v", err)
			}
			p.unknown = sev
		}
	}
	return p, nil
}

// check returns the finding for a package, if the policy raises one.
func (p *policy) check(l Licensed) *gantry.Finding {
	e := parseExpr(l.License)
	known := !e.any(func(id string) bool { return baseID(id) == NoAssertion || id == "UNKNOWN" })
	pkg := l.Name + "@" + l.Version
	f := func(rule string, sev gantry.Severity, msg, help string) *gantry.Finding {
		return &gantry.Finding{
			Tool:        "license",
			RuleID:      rule,
			Severity:    sev,
			Confidence:  "high",
			Location:    gantry.Location{Path: l.Path, Line: l.Line},
			Message:     msg,
			Fingerprint: scan.Fingerprint("license", rule, l.Path, pkg),
			Help:        help,
		}
	}
	switch {
	case len(p.deny) > 0 && e.forced(p.deny.has):
		return f(RuleDenied, gantry.SeverityHigh,
			fmt.Sprintf("%s (%s) is licensed %s, which the deny list forbids", pkg, l.Ecosystem, l.License),
			"Replace the dependency, or get legal approval and waive the finding.")
	case known && len(p.allow) > 0 && !e.any(p.allow.has):
		return f(RuleNotAllowed, gantry.SeverityMedium,
			fmt.Sprintf("%s (%s) is licensed %s, which is not on the allow list", pkg, l.Ecosystem, l.License),
			"Check the licence with legal; add it to `allow:` or waive the finding.")
	case !known && p.unknown != "":
		msg := fmt.Sprintf("the licence of %s (%s) is unknown", pkg, l.Ecosystem)
		if l.Why != "" {
			msg += ": " + l.Why
		}
		f := f(RuleUnknown, p.unknown, msg, "Find the package's licence and check it; waive the finding once it is known to be acceptable.")
		f.Confidence = "medium"
		return f
	}
	return nil
}

// Scan finds the licence of every package under req.Root and checks it
// against the step's allow and deny lists.
func (s *Scanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	pol, err := parsePolicy(req.With)
	if err != nil {
		return nil, err
	}
	pkgs, gaps, err := deps.Inventory(ctx, req.Root)
	if err != nil {
		return nil, fmt.Errorf("license: %w", err)
	}
	var modCache string
	if slices.ContainsFunc(pkgs, func(p deps.Package) bool { return p.Ecosystem == "Go" && len(p.Licenses) == 0 }) {
		modCache = s.modCache(ctx)
	}
	licensed, err := Resolve(ctx, pkgs, modCache)
	if err != nil {
		return nil, err
	}
	res := &scan.Result{Tool: "license", Findings: []gantry.Finding{}, Gaps: gaps, Scanned: map[string]int{"packages": len(licensed)}}
	unknown := 0
	for _, l := range licensed {
		if l.License == NoAssertion {
			unknown++
		}
		if f := pol.check(l); f != nil {
			res.Findings = append(res.Findings, *f)
		}
	}
	if unknown > 0 {
		res.Scanned["unknown licences"] = unknown
	}
	if req.Progress != nil {
		fmt.Fprintf(req.Progress, "license: %d packages, %d with unknown licences, %d findings\n", len(licensed), unknown, len(res.Findings))
	}
	return res, nil
}
