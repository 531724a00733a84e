package sast

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/types"
	"log"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/issue"
	"golang.org/x/sync/errgroup"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/buildssa"
	"golang.org/x/tools/go/packages"

	"gantry.dev/gantry/internal/scan"
)

// load lists and type-checks the packages of the module at dir, tests
// included. Dependencies come from export data (the build cache), so only
// the module's own packages are parsed and type-checked from source.
func (s *Scanner) load(ctx context.Context, dir string, tags []string) ([]*packages.Package, error) {
	cfg := &packages.Config{
		Context:    ctx,
		Mode:       gosec.LoadMode | packages.NeedForTest,
		Dir:        dir,
		Env:        s.opts.Env,
		Tests:      true,
		BuildFlags: gosec.CLIBuildTags(tags),
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, fmt.Errorf("load packages: %w", err)
	}
	return pkgs, nil
}

// job is one package to analyse.
type job struct {
	pkg *packages.Package
	// syntaxOnly skips the SSA-based analyzers: the package, or one it
	// imports, does not type-check.
	syntaxOnly bool
}

// plan picks the packages to analyse so that each file is analysed once,
// and reports those that do not type-check.
//
// With tests, go list returns a package p twice (p, and p as compiled with
// its _test.go files) plus its external tests and a generated test main.
// The test variant holds every file of p, so it replaces p; but when only
// the tests fail to type-check, p itself is analysed in full and the
// variant for its test files only, with the syntax rules.
func plan(mod string, pkgs []*packages.Package, conv *converter) ([]job, []scan.Gap) {
	plain := map[string]*packages.Package{}
	variant := map[string]*packages.Package{}
	for _, p := range pkgs {
		switch {
		case p.ForTest == "":
			plain[p.PkgPath] = p
		case p.PkgPath == p.ForTest:
			variant[p.PkgPath] = p
		}
	}
	var jobs []job
	var gaps []scan.Gap
	for _, p := range pkgs {
		if !conv.inRoot(p.CompiledGoFiles) {
			if len(p.CompiledGoFiles) == 0 && len(p.Errors) > 0 {
				// Not a package: the pattern itself failed (no module).
				gaps = append(gaps, scan.Gap{What: "module: " + mod, Reason: "cannot load its Go packages: " + errorList(p, conv)})
			}
			continue // otherwise the generated test main, in the build cache
		}
		v := variant[p.PkgPath]
		if p.ForTest == "" && v != nil {
			if v.IllTyped && !p.IllTyped {
				jobs = append(jobs, job{pkg: p}) // only its tests are broken
			}
			continue
		}
		if pl := plain[p.PkgPath]; p == v && p.IllTyped && pl != nil && !pl.IllTyped {
			jobs = append(jobs, job{pkg: testFiles(p), syntaxOnly: true})
			gaps = append(gaps, illTypedGap(p, conv, "tests of "))
			continue
		}
		jobs = append(jobs, job{pkg: p, syntaxOnly: p.IllTyped})
		if p.IllTyped {
			gaps = append(gaps, illTypedGap(p, conv, ""))
		}
	}
	return jobs, gaps
}

// testFiles returns a copy of p that holds only its _test.go files.
func testFiles(p *packages.Package) *packages.Package {
	tp := *p
	tp.Syntax = nil
	for _, f := range p.Syntax {
		if strings.HasSuffix(p.Fset.File(f.Pos()).Name(), "_test.go") {
			tp.Syntax = append(tp.Syntax, f)
		}
	}
	return &tp
}

// illTypedGap describes a package that cannot be fully analysed.
func illTypedGap(p *packages.Package, conv *converter, prefix string) scan.Gap {
	what := "package: " + prefix + p.PkgPath
	if len(p.Errors) == 0 {
		return scan.Gap{What: what, Reason: "an imported package has errors: taint analysis skipped, syntax rules ran"}
	}
	return scan.Gap{
		What:   what,
		Reason: "does not type-check: " + errorList(p, conv) + "; taint analysis skipped, syntax rules ran",
	}
}

// errorList returns the first few errors of a package, paths relative to
// the root.
func errorList(p *packages.Package, conv *converter) string {
	const show = 3
	// go list and the type checker can report the same error; go list
	// heads its own with "# package".
	var msgs []string
	for _, e := range p.Errors {
		for line := range strings.Lines(conv.relErr(e.Error())) {
			line = strings.TrimSpace(strings.TrimPrefix(line, "-: "))
			if line != "" && !strings.HasPrefix(line, "# ") && !slices.Contains(msgs, line) {
				msgs = append(msgs, line)
			}
		}
	}
	if len(msgs) > show {
		msgs = append(msgs[:show], fmt.Sprintf("and %d more", len(msgs)-show))
	}
	return strings.Join(msgs, "; ")
}

// pkgResult is what the analysis of one package produced.
type pkgResult struct {
	issues    []*issue.Issue
	files     int
	lines     int
	dismissed int
	gaps      []scan.Gap
}

// run analyses the jobs, up to s.concurrency at once, and returns their
// results in job order. It stops early, with an error, when ctx ends.
func (s *Scanner) run(ctx context.Context, jobs []job, logger *slog.Logger) ([]pkgResult, error) {
	out := make([]pkgResult, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i, j := range jobs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			out[i] = s.analyse(j, logger)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("%w: %w", errCanceled, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", errCanceled, err)
	}
	return out, nil
}

// analyse runs gosec's syntax rules and, unless j.syntaxOnly, its SSA-based
// analyzers on one package. A fresh gosec.Analyzer per package keeps the
// rules' per-package state apart, so packages can be analysed in parallel.
func (s *Scanner) analyse(j job, logger *slog.Logger) (res pkgResult) {
	pkg := j.pkg
	what := "package: " + pkg.PkgPath
	defer func() {
		if r := recover(); r != nil {
			logger.Error("sast: analysis panicked", "package", pkg.ID, "panic", r, "stack", string(debug.Stack()))
			res.gaps = append(res.gaps, scan.Gap{What: what, Reason: fmt.Sprintf("analysis failed: %v", r)})
		}
	}()
	lw := &logWriter{logger: logger, pkg: pkg.ID}
	conf := gosec.NewConfig()
	if !s.opts.HonourNosec {
		conf.SetGlobal(gosec.Nosec, "true")
	}
	a := gosec.NewAnalyzer(conf, true, s.opts.ExcludeGenerated, true, s.concurrency, log.New(lw, "", 0))
	a.LoadRules(s.ruleBuilders, s.ruleOff)
	a.LoadAnalyzers(s.analyzerDefs, s.analyzerOff)
	a.CheckRules(pkg)
	if !j.syntaxOnly && len(s.analyzerDefs) > 0 {
		ssaResult, err := buildSSA(pkg)
		if err != nil {
			res.gaps = append(res.gaps, scan.Gap{What: what, Reason: "taint analysis skipped: " + err.Error()})
		} else {
			a.CheckAnalyzersWithSSA(pkg, ssaResult)
		}
	}
	issues, metrics, _ := a.Report()
	files := make(map[string]*ast.File, len(pkg.Syntax))
	for _, f := range pkg.Syntax {
		files[pkg.Fset.File(f.Pos()).Name()] = f
	}
	for _, iss := range issues {
		if len(iss.Suppressions) == 0 && dismiss(pkg, files, iss) {
			logger.Debug("sast: finding dismissed by its context", "rule", iss.RuleID, "file", iss.File, "line", iss.Line)
			res.dismissed++
			continue
		}
		res.issues = append(res.issues, iss)
	}
	res.files, res.lines = metrics.NumFiles, metrics.NumLines
	for _, p := range lw.problems() {
		res.gaps = append(res.gaps, scan.Gap{What: what, Reason: "gosec: " + p})
	}
	return res
}

// buildSSA builds the SSA form of one package by running buildssa and
// what it requires through go/analysis, the way a driver would. Imported
// packages are represented by their types only.
func buildSSA(pkg *packages.Package) (ssaResult *buildssa.SSA, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("build SSA: %v", r)
		}
	}()
	results := map[*analysis.Analyzer]any{}
	var runOne func(a *analysis.Analyzer) error
	runOne = func(a *analysis.Analyzer) error {
		if _, done := results[a]; done {
			return nil
		}
		for _, req := range a.Requires {
			if err := runOne(req); err != nil {
				return err
			}
		}
		pass := &analysis.Pass{
			Analyzer:          a,
			Fset:              pkg.Fset,
			Files:             pkg.Syntax,
			OtherFiles:        pkg.OtherFiles,
			IgnoredFiles:      pkg.IgnoredFiles,
			Pkg:               pkg.Types,
			TypesInfo:         pkg.TypesInfo,
			TypesSizes:        pkg.TypesSizes,
			TypeErrors:        pkg.TypeErrors,
			Module:            passModule(pkg.Module),
			ResultOf:          results,
			Report:            func(analysis.Diagnostic) {},
			ReadFile:          os.ReadFile,
			ImportObjectFact:  func(types.Object, analysis.Fact) bool { return false },
			ExportObjectFact:  func(types.Object, analysis.Fact) {},
			ImportPackageFact: func(*types.Package, analysis.Fact) bool { return false },
			ExportPackageFact: func(analysis.Fact) {},
			AllObjectFacts:    func() []analysis.ObjectFact { return nil },
			AllPackageFacts:   func() []analysis.PackageFact { return nil },
		}
		r, err := a.Run(pass)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		results[a] = r
		return nil
	}
	if err := runOne(buildssa.Analyzer); err != nil {
		return nil, fmt.Errorf("build SSA: %w", err)
	}
	ssaResult, ok := results[buildssa.Analyzer].(*buildssa.SSA)
	if !ok || ssaResult == nil {
		return nil, fmt.Errorf("build SSA: no result")
	}
	return ssaResult, nil
}

// passModule converts the module of a loaded package for analysis.Pass.
func passModule(m *packages.Module) *analysis.Module {
	if m == nil {
		return nil
	}
	return &analysis.Module{Path: m.Path, Version: m.Version, GoVersion: m.GoVersion}
}

// logWriter receives gosec's log. gosec logs, rather than returns, the
// failure of a rule or an analyzer; those lines are kept so the failure is
// reported as a gap instead of passing silently. Everything goes to the
// logger at debug level.
type logWriter struct {
	logger *slog.Logger
	pkg    string

	mu     sync.Mutex
	failed []string
}

func (w *logWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	if strings.HasPrefix(line, "Rule error") || strings.HasPrefix(line, "Error ") || strings.HasPrefix(line, "Panic") {
		w.mu.Lock()
		w.failed = append(w.failed, line)
		w.mu.Unlock()
	}
	w.logger.Debug("gosec", "package", w.pkg, "msg", line)
	return len(p), nil
}

// problems returns the failures logged.
func (w *logWriter) problems() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.failed)
}

// guardRule makes a rule's panic an error, which gosec logs and the log
// writer turns into a gap, instead of ending the package's analysis.
func guardRule(build gosec.RuleBuilder) gosec.RuleBuilder {
	return func(id string, c gosec.Config) (gosec.Rule, []ast.Node) {
		r, nodes := build(id, c)
		return safeRule{r}, nodes
	}
}

// safeRule recovers from a panic in the rule it wraps.
type safeRule struct{ gosec.Rule }

func (r safeRule) Match(n ast.Node, c *gosec.Context) (iss *issue.Issue, err error) {
	defer func() {
		if p := recover(); p != nil {
			iss, err = nil, fmt.Errorf("rule %s panicked: %v", r.ID(), p)
		}
	}()
	return r.Rule.Match(n, c)
}

// guardAnalyzer makes an analyzer's panic an error: gosec runs analyzers
// on goroutines of its own, where a panic would end the process.
func guardAnalyzer(create analyzers.AnalyzerBuilder) analyzers.AnalyzerBuilder {
	return func(id, description string) *analysis.Analyzer {
		a := create(id, description)
		run := a.Run
		a.Run = func(pass *analysis.Pass) (res any, err error) {
			defer func() {
				if p := recover(); p != nil {
					res, err = nil, fmt.Errorf("panicked: %v", p)
				}
			}()
			return run(pass)
		}
		return a
	}
}
