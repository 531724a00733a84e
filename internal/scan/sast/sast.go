package sast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/rules"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Name is the scanner's kind.
const Name = "sast"

// Options configure the scanner. The zero Options is the strict
// configuration: every rule runs, #nosec is not honoured and generated files
// are scanned. DefaultOptions is what a pipeline gets when it says nothing.
type Options struct {
	// HonourNosec lets #nosec and //gosec:disable comments suppress
	// findings. Suppressed findings are counted in Result.Scanned["nosec"].
	HonourNosec bool
	// ExcludeGenerated skips files marked "Code generated ... DO NOT EDIT.".
	ExcludeGenerated bool
	// Exclude lists rule IDs (G104) not to run.
	Exclude []string
	// Tags are build tags added to the default ones (GOOS, GOARCH, the
	// toolchain's) when packages are loaded. A step can add more with
	// `with: {tags: "a,b"}`.
	Tags []string
	// Concurrency bounds the packages analysed at once, and gosec's
	// analyzers run at once within a package; 0 means GOMAXPROCS.
	Concurrency int
	// Env is the environment of the go command that lists packages; nil
	// means the process's.
	Env []string
}

// DefaultOptions returns the options a pipeline step gets by default:
// #nosec honoured, generated files skipped, and G104 (unchecked errors)
// left to the linters, since it is a code-quality check whose findings
// would drown the security ones.
func DefaultOptions() Options {
	return Options{
		HonourNosec:      true,
		ExcludeGenerated: true,
		Exclude:          []string{"G104"},
	}
}

// Scanner is the Go static analyser: gosec's rules and taint analyzers
// over the packages of the Go modules under the scanned root.
type Scanner struct {
	opts         Options
	concurrency  int
	ruleBuilders map[string]gosec.RuleBuilder
	ruleOff      map[string]bool
	analyzerDefs map[string]analyzers.AnalyzerDefinition
	analyzerOff  map[string]bool
	ruleIDs      []string
}

var _ scan.Scanner = (*Scanner)(nil)

// New returns a scanner with the given options. It fails on an excluded
// rule ID that gosec does not know, so a typo cannot switch a rule back on
// silently.
func New(opts Options) (*Scanner, error) {
	known := knownRules()
	for _, id := range opts.Exclude {
		if !slices.Contains(known, id) {
			return nil, gantry.Errorf(gantry.EInvalid, "sast: unknown rule %q in exclude list", id)
		}
	}
	s := &Scanner{opts: opts, concurrency: opts.Concurrency}
	if s.concurrency <= 0 {
		s.concurrency = runtime.GOMAXPROCS(0)
	}
	var ruleFilters []rules.RuleFilter
	var analyzerFilters []analyzers.AnalyzerFilter
	if len(opts.Exclude) > 0 {
		ruleFilters = append(ruleFilters, rules.NewRuleFilter(true, opts.Exclude...))
		analyzerFilters = append(analyzerFilters, analyzers.NewAnalyzerFilter(true, opts.Exclude...))
	}
	s.ruleBuilders, s.ruleOff = rules.Generate(false, ruleFilters...).RulesInfo()
	s.analyzerDefs, s.analyzerOff = analyzers.Generate(false, analyzerFilters...).AnalyzersInfo()
	for id, build := range s.ruleBuilders {
		s.ruleBuilders[id] = guardRule(build)
	}
	for id, def := range s.analyzerDefs {
		def.Create = guardAnalyzer(def.Create)
		s.analyzerDefs[id] = def
	}
	for id := range s.ruleBuilders {
		s.ruleIDs = append(s.ruleIDs, id)
	}
	for id := range s.analyzerDefs {
		s.ruleIDs = append(s.ruleIDs, id)
	}
	slices.Sort(s.ruleIDs)
	return s, nil
}

// knownRules returns the IDs of every rule and analyzer gosec ships.
func knownRules() []string {
	var ids []string
	for id := range rules.Generate(false).Rules {
		ids = append(ids, id)
	}
	for id := range analyzers.Generate(false).Analyzers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Rules returns the IDs of the rules the scanner runs, sorted.
func (s *Scanner) Rules() []string { return slices.Clone(s.ruleIDs) }

// Name returns "sast".
func (s *Scanner) Name() string { return Name }

// Scan analyses the Go modules under req.Root. Packages that do not load or
// type-check, and files in languages it cannot analyse, are reported as
// gaps; it returns an error only when the scan could not be done at all
// (a missing root, cancellation).
func (s *Scanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	if req == nil || req.Root == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "sast: no root to scan")
	}
	root, err := filepath.Abs(req.Root)
	if err != nil {
		return nil, fmt.Errorf("sast: resolve root %s: %w", req.Root, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("sast: %w", err)
	} else if !fi.IsDir() {
		return nil, gantry.Errorf(gantry.EInvalid, "sast: root %s is not a directory", req.Root)
	}
	logger := req.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	progress := req.Progress
	if progress == nil {
		progress = io.Discard
	}
	tags := slices.Clone(s.opts.Tags)
	for t := range strings.SplitSeq(req.With["tags"], ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}

	t, err := walk(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("sast: %w", err)
	}
	res := &scan.Result{
		Tool:    Name,
		Scanned: map[string]int{"packages": 0, "files": 0, "lines": 0, "nosec": 0, "dismissed": 0},
	}
	if len(t.modules) == 0 {
		res.Gaps = append(res.Gaps, scan.Gap{
			What:   "language: Go",
			Reason: "no go.mod and no Go files under the root: nothing was analysed",
		})
	}
	conv := newConverter(root)
	var found []keyed
	for _, mod := range t.modules {
		if mod == "." && !inModule(root) {
			res.Gaps = append(res.Gaps, scan.Gap{
				What:   "module: .",
				Reason: fmt.Sprintf("%d Go files but no go.mod at or above the root: they cannot be loaded as a module", t.rootGoFiles),
			})
			continue
		}
		fmt.Fprintf(progress, "sast: loading Go packages in %s\n", mod)
		start := time.Now()
		pkgs, err := s.load(ctx, filepath.Join(root, filepath.FromSlash(mod)), tags)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("sast: %w", ctx.Err())
			}
			res.Gaps = append(res.Gaps, scan.Gap{
				What:   "module: " + mod,
				Reason: "cannot load its Go packages: " + conv.relErr(err.Error()),
			})
			continue
		}
		res.Scanned["modules"]++
		jobs, gaps := plan(mod, pkgs, conv)
		res.Gaps = append(res.Gaps, gaps...)
		fmt.Fprintf(progress, "sast: loaded in %s; analysing %d packages with %d rules\n", since(start), len(jobs), len(s.ruleIDs))
		start = time.Now()
		out, err := s.run(ctx, jobs, logger)
		if err != nil {
			return nil, fmt.Errorf("sast: %w", err)
		}
		fmt.Fprintf(progress, "sast: analysed in %s\n", since(start))
		for _, r := range out {
			res.Scanned["packages"]++
			res.Scanned["files"] += r.files
			res.Scanned["lines"] += r.lines
			res.Scanned["dismissed"] += r.dismissed
			for _, g := range r.gaps {
				g.Reason = conv.relErr(g.Reason)
				res.Gaps = append(res.Gaps, g)
			}
			for _, iss := range r.issues {
				if len(iss.Suppressions) > 0 {
					res.Scanned["nosec"]++
					continue
				}
				if f, ok := conv.finding(iss); ok {
					found = append(found, f)
				}
			}
		}
	}
	res.Findings = conv.finish(found)
	res.Gaps = append(res.Gaps, t.gaps()...)
	fmt.Fprintf(progress, "sast: %d findings, %d gaps\n", len(res.Findings), len(res.Gaps))
	return res, nil
}

// errCanceled is returned by run when ctx ends before every package is
// analysed.
var errCanceled = errors.New("scan canceled")

// inModule reports whether dir or a directory above it holds a go.mod, as
// the go command looks for one.
func inModule(dir string) bool {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}

// since returns the time since start, rounded for a progress line.
func since(start time.Time) time.Duration { return time.Since(start).Round(time.Millisecond) }
