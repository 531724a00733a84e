// Package deps is the dependency scanner: it lists the packages a
// repository's manifests and lock files pin (Inventory) and reports the
// known vulnerabilities among them from the offline database that
// internal/vulndb keeps. For Go modules it also runs govulncheck in-process
// to learn whether a vulnerable function is actually called, and rates the
// finding by that.
package deps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/vulndb"
)

// Options configure the scanner.
type Options struct {
	// DB is the directory of the offline vulnerability database (see
	// internal/vulndb for its layout). Required.
	DB string
	// NoReachability skips govulncheck's call-level analysis of Go
	// modules. A step can ask the same with `reachability: false`.
	NoReachability bool
	// Tests makes govulncheck analyse test files too (`tests: true`).
	Tests bool
	// GoEnv is the environment of the go command govulncheck runs to load
	// packages; nil means this process's environment.
	GoEnv []string
	// GoTimeout bounds the analysis of one Go module (default 10 minutes).
	GoTimeout time.Duration
	// MaxAge, when set, makes a database older than this (or of unknown
	// age) a gap.
	MaxAge time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Scanner is the deps scanner.
type Scanner struct {
	opts Options
}

var _ scan.Scanner = (*Scanner)(nil)

// New returns a deps scanner reading the database in opts.DB.
func New(opts Options) (*Scanner, error) {
	if strings.TrimSpace(opts.DB) == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "deps: no vulnerability database directory configured")
	}
	if opts.GoTimeout <= 0 {
		opts.GoTimeout = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Scanner{opts: opts}, nil
}

// Name is "deps".
func (s *Scanner) Name() string { return "deps" }

// Scan lists the dependencies under req.Root and reports their known
// vulnerabilities. A missing database is an error (no evidence is not a
// pass); an ecosystem the database lacks, a file that cannot be parsed and
// a Go module that cannot be analysed are gaps.
func (s *Scanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	progress := req.Progress
	if progress == nil {
		progress = io.Discard
	}
	reachability := !s.opts.NoReachability
	tests := s.opts.Tests
	for k, v := range req.With {
		b, err := strconv.ParseBool(v)
		switch k {
		case "reachability":
			if err != nil {
				return nil, gantry.Errorf(gantry.EInvalid, "deps: reachability: %q is not true or false", v)
			}
			reachability = b
		case "tests":
			if err != nil {
				return nil, gantry.Errorf(gantry.EInvalid, "deps: tests: %q is not true or false", v)
			}
			tests = b
		}
	}

	// A step may name its own database (`db:`), relative to the scanned
	// directory: a repository that ships a snapshot for offline runs.
	dbDir := s.opts.DB
	if v := strings.TrimSpace(req.With["db"]); v != "" {
		dbDir = v
		if !filepath.IsAbs(dbDir) {
			dbDir = filepath.Join(req.Root, dbDir)
		}
	}
	db, err := vulndb.Open(dbDir)
	if err != nil {
		return nil, fmt.Errorf("deps: %w", err)
	}
	pkgs, gaps, manifests, err := inventory(ctx, req.Root)
	if err != nil {
		return nil, fmt.Errorf("deps: %w", err)
	}
	fmt.Fprintf(progress, "deps: %d packages in %d manifests\n", len(pkgs), len(manifests))
	if s.opts.MaxAge > 0 {
		now := s.opts.Now()
		switch up := db.Updated(); {
		case up.IsZero():
			gaps = append(gaps, scan.Gap{What: "vulnerability database", Reason: "its age is unknown (never updated by gantry vulndb update)"})
		case now.Sub(up) > s.opts.MaxAge:
			gaps = append(gaps, scan.Gap{What: "vulnerability database", Reason: fmt.Sprintf("last updated %s, older than %s", up.Format(time.RFC3339), s.opts.MaxAge)})
		}
	}

	var qs []vulndb.Query
	var qpkg []int
	for i, p := range pkgs {
		if p.Version == "" {
			continue
		}
		qs = append(qs, vulndb.Query{Ecosystem: p.Ecosystem, Name: p.Name, Version: p.Version})
		qpkg = append(qpkg, i)
	}
	res, err := db.Match(ctx, qs)
	if err != nil {
		return nil, fmt.Errorf("deps: %w", err)
	}
	for _, eco := range res.Missing {
		gaps = append(gaps, scan.Gap{What: "vulnerabilities: " + eco, Reason: "the vulnerability database has no " + eco + " data (run gantry vulndb update)"})
	}
	for _, p := range res.Problems {
		pk := pkgs[qpkg[p.Query]]
		gaps = append(gaps, scan.Gap{What: "package: " + pk.Path + " " + pk.Name + "@" + pk.Version, Reason: p.Reason})
	}

	analyses, moreGaps, err := s.analyseModules(ctx, req.Root, manifests, pkgs, db, reachability, tests, progress)
	if err != nil {
		return nil, fmt.Errorf("deps: %w", err)
	}
	gaps = append(gaps, moreGaps...)

	byPkg := map[int][]vulndb.Match{}
	for _, m := range res.Matches {
		i := qpkg[m.Query]
		byPkg[i] = append(byPkg[i], m)
	}
	var findings []finding
	reported := map[string]bool{} // "go.mod path, ID, module" of Go findings
	for i, p := range pkgs {
		for _, grp := range groupAliases(p.Ecosystem, byPkg[i]) {
			f := finding{pkg: p, group: grp}
			if g := analyses[p.Path]; g != nil && p.Ecosystem == vulndb.EcosystemGo {
				ids := grp.ids()
				if ri := g.lookup(ids, p.Name); ri != nil {
					f.reach = ri
				} else if inGoDB(db.GoDir(), ids) {
					// govulncheck knows the vulnerability and did not
					// report it: no vulnerable package of the module is
					// imported, if the module is built at all.
					f.reach = &reachInfo{level: reachRequired}
				}
				for _, id := range ids {
					reported[p.Path+" "+id+" "+p.Name] = true
				}
			}
			findings = append(findings, f)
		}
	}
	findings = append(findings, govulncheckOnly(analyses, pkgs, reported)...)

	type ranked struct {
		f     gantry.Finding
		reach int
	}
	rs := make([]ranked, 0, len(findings))
	for _, f := range findings {
		rs = append(rs, ranked{f.toFinding(), f.reachRank()})
	}
	// Most severe first; within one severity, what is called before what
	// is imported, before what was not analysed, before what is only
	// required.
	slices.SortStableFunc(rs, func(a, b ranked) int {
		return cmp.Or(
			b.f.Severity.Rank()-a.f.Severity.Rank(),
			b.reach-a.reach,
			cmp.Compare(a.f.Location.Path, b.f.Location.Path),
			cmp.Compare(a.f.Location.Line, b.f.Location.Line),
			cmp.Compare(a.f.RuleID, b.f.RuleID),
			cmp.Compare(a.f.Fingerprint, b.f.Fingerprint),
		)
	})
	out := make([]gantry.Finding, len(rs))
	for i, r := range rs {
		out[i] = r.f
	}
	fmt.Fprintf(progress, "deps: %d vulnerabilities, %d gaps\n", len(out), len(gaps))
	return &scan.Result{
		Tool:     s.Name(),
		Findings: out,
		Gaps:     gaps,
		Scanned: map[string]int{
			"manifests":  len(manifests),
			"packages":   len(pkgs),
			"go-modules": len(analyses),
		},
	}, nil
}

func (s *Scanner) goEnv() []string {
	if s.opts.GoEnv != nil {
		return s.opts.GoEnv
	}
	return os.Environ()
}

// reachRank orders findings of one severity: called before imported
// before not analysed before required-only.
func (f finding) reachRank() int {
	if f.reach == nil {
		return 1
	}
	switch f.reach.level {
	case reachCalled:
		return 3
	case reachImported:
		return 2
	case reachRequired:
		return 0
	}
	return 1
}

// analyseModules runs govulncheck on each Go module among the manifests,
// one after the other, and returns the analyses by go.mod path. A module
// that cannot be analysed is a gap; cancellation is an error.
func (s *Scanner) analyseModules(ctx context.Context, root string, manifests []string, pkgs []Package, db *vulndb.DB, enabled, tests bool, progress io.Writer) (map[string]*goAnalysis, []scan.Gap, error) {
	analyses := map[string]*goAnalysis{}
	var gaps []scan.Gap
	if !enabled {
		return analyses, nil, nil
	}
	index, indexErr := readGoIndex(db.GoDir())
	goVersion := ""
	for _, m := range manifests {
		if path.Base(m) != "go.mod" {
			continue
		}
		if !db.HasGo() {
			gaps = append(gaps, scan.Gap{What: "reachability: " + m, Reason: "the vulnerability database has no Go vulnerability database"})
			continue
		}
		// govulncheck's call graph costs seconds; it can only add to what
		// the database says about this module's requirements and the
		// standard library, so a module with nothing to look for skips it.
		if indexErr == nil {
			if goVersion == "" {
				goVersion = toolchainVersion(ctx, s.goEnv())
			}
			if !index.mayAffect(m, pkgs, goVersion) {
				fmt.Fprintf(progress, "deps: no known Go vulnerability can affect %s: reachability not needed\n", m)
				continue
			}
		}
		fmt.Fprintf(progress, "deps: govulncheck %s\n", m)
		mctx, cancel := context.WithTimeout(ctx, s.opts.GoTimeout)
		g, err := analyseGo(mctx, filepath.Join(root, filepath.FromSlash(path.Dir(m))), db.GoDir(), s.goEnv(), tests)
		cancel()
		switch {
		case errors.Is(err, errNoGoPackages):
		case err != nil:
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			gaps = append(gaps, scan.Gap{What: "reachability: " + m, Reason: err.Error()})
		default:
			analyses[m] = g
		}
	}
	return analyses, gaps, nil
}

// govulncheckOnly turns what govulncheck found and the OSV data did not
// into findings: the standard library (checked against the toolchain that
// builds the code, which go.mod does not name), and whatever the two
// databases disagree on.
func govulncheckOnly(analyses map[string]*goAnalysis, pkgs []Package, reported map[string]bool) []finding {
	var out []finding
	for _, m := range sortedIDs(analyses) {
		g := analyses[m]
		for _, id := range sortedIDs(g.byVuln) {
			for _, module := range sortedIDs(g.byVuln[id]) {
				e, ri := g.entries[id], g.byVuln[id][module]
				if e == nil || reported[m+" "+id+" "+module] {
					continue
				}
				p := Package{Ecosystem: vulndb.EcosystemGo, Name: module, Version: ri.version, Path: m}
				for _, q := range pkgs {
					if q.Path == m && q.Name == module {
						p.Line, p.Direct = q.Line, q.Direct
					}
				}
				var aff *vulndb.Affected
				for ai := range e.Affected {
					if e.Affected[ai].Package.Name == module {
						aff = &e.Affected[ai]
					}
				}
				grp := aliasGroup{entries: []*vulndb.Entry{e}, affected: []*vulndb.Affected{aff}, fixed: strings.TrimPrefix(ri.fixed, "v")}
				out = append(out, finding{pkg: p, group: grp, reach: ri})
			}
		}
	}
	return out
}

// inGoDB reports whether the Go vulnerability database knows one of ids:
// only then does govulncheck's silence mean "not imported".
func inGoDB(goDB string, ids []string) bool {
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(goDB, "ID", id+".json")); err == nil {
			return true
		}
	}
	return false
}

// aliasGroup is the entries that describe one vulnerability of one
// package: OSV often holds the same one under several IDs (GO-, GHSA-,
// PYSEC-) that name each other as aliases.
type aliasGroup struct {
	entries  []*vulndb.Entry // the representative first
	affected []*vulndb.Affected
	fixed    string // the lowest fixed version any of them gives
	last     string // last affected, when no fix is known
}

// ids lists the IDs and aliases of the group.
func (g aliasGroup) ids() []string {
	var ids []string
	for _, e := range g.entries {
		ids = append(ids, e.ID)
		ids = append(ids, e.Aliases...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// groupAliases gathers the matches of one package into alias groups, each
// with a representative entry whose ID names the finding. The choice rests
// on the IDs alone, so that it does not move when an entry gains a score:
// for Go the GO- entry (govulncheck's ID), then a GHSA, then the lowest
// ID.
func groupAliases(ecosystem string, ms []vulndb.Match) []aliasGroup {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	for _, m := range ms {
		for _, a := range m.Entry.Aliases {
			union(m.Entry.ID, a)
		}
		find(m.Entry.ID)
	}
	byRoot := map[string][]vulndb.Match{}
	for _, m := range ms {
		r := find(m.Entry.ID)
		byRoot[r] = append(byRoot[r], m)
	}
	var out []aliasGroup
	for _, r := range sortedIDs(byRoot) {
		grp := byRoot[r]
		slices.SortStableFunc(grp, func(a, b vulndb.Match) int {
			return cmp.Or(repRank(ecosystem, b.Entry)-repRank(ecosystem, a.Entry), cmp.Compare(a.Entry.ID, b.Entry.ID))
		})
		var g aliasGroup
		for _, m := range grp {
			if len(g.entries) > 0 && g.entries[len(g.entries)-1].ID == m.Entry.ID {
				continue // one entry matching through two affected elements
			}
			g.entries = append(g.entries, m.Entry)
			g.affected = append(g.affected, m.Affected)
			switch {
			case m.Verdict.Fixed == "":
			case g.fixed == "":
				g.fixed = m.Verdict.Fixed
			default:
				if c, err := vulndb.Compare(ecosystem, m.Verdict.Fixed, g.fixed); err == nil && c < 0 {
					g.fixed = m.Verdict.Fixed
				}
			}
			if g.last == "" {
				g.last = m.Verdict.LastAffected
			}
		}
		out = append(out, g)
	}
	return out
}

func repRank(ecosystem string, e *vulndb.Entry) int {
	switch {
	case ecosystem == vulndb.EcosystemGo && strings.HasPrefix(e.ID, "GO-"):
		return 2
	case strings.HasPrefix(e.ID, "GHSA-"):
		return 1
	}
	return 0
}

// finding is one vulnerable package version before it becomes a
// gantry.Finding.
type finding struct {
	pkg   Package
	group aliasGroup
	reach *reachInfo // nil: not analysed
}

func (f finding) toFinding() gantry.Finding {
	rep := f.group.entries[0]
	r := rate(f.group.entries, f.group.affected)
	level := reachUnknown
	if f.reach != nil {
		level = f.reach.level
	}
	sev := adjust(r.severity, level)

	var msg strings.Builder
	fmt.Fprintf(&msg, "%s: %s@%s", rep.ID, f.pkg.Name, f.pkg.Version)
	if s := shorten(rep.Summary, 200); s != "" {
		fmt.Fprintf(&msg, ": %s", s)
	}
	var aliases []string
	for _, id := range f.group.ids() {
		if id != rep.ID {
			aliases = append(aliases, id)
		}
	}
	fmt.Fprintf(&msg, " (%s", r.basis)
	if len(aliases) > 0 {
		fmt.Fprintf(&msg, "; aliases %s", strings.Join(aliases, ", "))
	}
	msg.WriteString(")")
	if f.reach != nil && level != reachUnknown {
		msg.WriteString("; " + f.reach.message())
	}

	var cwes []string
	for _, e := range f.group.entries {
		for _, c := range e.CWEs() {
			if !slices.Contains(cwes, c) {
				cwes = append(cwes, c)
			}
		}
	}

	ver := func(v string) string {
		if f.pkg.Ecosystem == vulndb.EcosystemGo {
			return "v" + strings.TrimPrefix(v, "v")
		}
		return v
	}
	help := "no fixed version is known: remove or replace " + f.pkg.Name
	switch {
	case f.pkg.Ecosystem == vulndb.EcosystemGo && f.pkg.Name == "stdlib" && f.group.fixed != "":
		help = "build with Go " + strings.TrimPrefix(f.group.fixed, "v") + " or later"
	case f.group.fixed != "":
		help = "upgrade to " + ver(f.group.fixed)
	case f.group.last != "":
		help = "upgrade to a version after " + ver(f.group.last)
	}

	conf := "high"
	if level == reachRequired {
		conf = "medium"
	}
	return gantry.Finding{
		Tool:        "deps",
		RuleID:      rep.ID,
		Severity:    sev,
		Confidence:  conf,
		Location:    gantry.Location{Path: f.pkg.Path, Line: f.pkg.Line},
		Message:     msg.String(),
		CWE:         cwes,
		Fingerprint: scan.Fingerprint("deps", rep.ID, f.pkg.Path, f.pkg.Name+"@"+f.pkg.Version),
		Help:        help,
	}
}
