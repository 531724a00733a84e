// Package testcode is the test-code scanner: it reads a project's tests
// (Go, JavaScript and TypeScript, Python) for API calls that tests have no
// business making and that hostile code hidden in a test would make:
// connections to outside hosts, shells, writes outside temporary
// directories, reads of credential files and of secret environment
// variables. Tests run in CI next to secrets, which makes them a place
// where a supply-chain attack hides.
//
// Go tests are read through go/parser with import names and local
// variables resolved; JavaScript, TypeScript and Python with a lighter,
// pattern-based reading over text whose comments are blanked out. Every
// rule is in the table of rules.go and documented in RULES.md.
package testcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Name is the scanner's kind, the tool of its findings.
const Name = "test-code"

// DefaultMaxFileSize is the largest file the scanner reads unless told
// otherwise; larger files are reported as gaps.
const DefaultMaxFileSize = 1 << 20

// Options configure a Scanner: size limit, testdata, excluded paths and
// disabled rules.
type Options = scan.FileConfig

// Scanner is the test-code scanner. It is safe for concurrent use.
type Scanner struct {
	base scan.FileOptions
}

var _ scan.Scanner = (*Scanner)(nil)

// New returns a scanner with the given options, after checking them.
func New(opts Options) (*Scanner, error) {
	base, err := scan.NewFileOptions(opts, DefaultMaxFileSize, knownRule)
	if err != nil {
		return nil, fmt.Errorf("test-code: %w", err)
	}
	return &Scanner{base: base}, nil
}

// Name returns "test-code".
func (s *Scanner) Name() string { return Name }

// fileOptions merges the scanner's options with a step's inputs.
func (s *Scanner) fileOptions(with map[string]string) (scan.FileOptions, error) {
	return scan.FileInputs(s.base, with, knownRule)
}

func knownRule(id string) bool {
	_, ok := ruleByID(id)
	return ok
}

// language is the language of a test file.
type language int

const (
	langNone language = iota
	langGo
	langJS
	langPython
)

var (
	jsTestRE = lazyRE(`\.(test|spec)\.[cm]?[jt]sx?$`)
	jsExtRE  = lazyRE(`\.[cm]?[jt]sx?$`)
)

// classify says which language's test file rel (slash-separated) is, if
// it is one.
func classify(rel string) language {
	name := path.Base(rel)
	switch {
	case strings.HasSuffix(name, "_test.go"):
		return langGo
	case strings.HasSuffix(name, ".d.ts"):
		return langNone
	case jsTestRE().MatchString(name):
		return langJS
	case jsExtRE().MatchString(name) && (strings.HasPrefix(rel, "__tests__/") || strings.Contains(rel, "/__tests__/")):
		return langJS
	case strings.HasSuffix(name, ".py") && (strings.HasPrefix(name, "test_") || strings.HasSuffix(name, "_test.py") || name == "conftest.py"):
		return langPython
	}
	return langNone
}

var scannedKey = map[language]string{
	langGo:     "go test files",
	langJS:     "javascript test files",
	langPython: "python test files",
}

// Scan walks req.Root and checks every test file in it. Files it cannot
// read or parse become gaps; a cancelled ctx stops the walk and returns
// ctx's error.
func (s *Scanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	if req == nil || req.Root == "" {
		return nil, errors.New("test-code: no root to scan")
	}
	cfg, err := s.fileOptions(req.With)
	if err != nil {
		return nil, fmt.Errorf("test-code: %w", err)
	}
	log := req.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	res := &scan.Result{Tool: Name, Findings: []gantry.Finding{}, Scanned: map[string]int{}}
	want := func(_, rel string) bool { return classify(rel) != langNone }
	gaps, walkErr := scan.WalkFiles(ctx, req.Root, cfg, want, func(rel string, data []byte) {
		lang := classify(rel)
		log.Debug("test-code: checking file", "path", rel)
		res.Scanned[scannedKey[lang]]++
		rep := newReporter(rel, cfg.Disabled)
		switch lang {
		case langGo:
			rep.confidence = "high"
			if err := checkGo(rep, data); err != nil {
				res.Gaps = append(res.Gaps, scan.Gap{What: "file: " + rel, Reason: "parse Go: " + err.Error()})
				return
			}
		case langJS:
			checkJS(rep, string(data))
		case langPython:
			checkPython(rep, string(data))
		}
		res.Findings = append(res.Findings, rep.out...)
	})
	res.Gaps = append(res.Gaps, gaps...)
	if walkErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("test-code: scan %s: %w", req.Root, ctxErr)
		}
		return nil, fmt.Errorf("test-code: walk %s: %w", req.Root, walkErr)
	}
	sortFindings(res.Findings)
	slices.SortFunc(res.Gaps, func(a, b scan.Gap) int { return strings.Compare(a.What, b.What) })
	if req.Progress != nil {
		fmt.Fprintf(req.Progress, "test-code: %d Go, %d JavaScript, %d Python test files; %d findings, %d gaps\n",
			res.Scanned[scannedKey[langGo]], res.Scanned[scannedKey[langJS]], res.Scanned[scannedKey[langPython]],
			len(res.Findings), len(res.Gaps))
	}
	return res, nil
}

// reporter collects the findings of one file.
type reporter struct {
	path       string
	confidence string
	disabled   map[string]bool
	out        []gantry.Finding
	seen       map[string]int // occurrences of a rule and key so far
	at         map[string]bool
}

func newReporter(path string, disabled map[string]bool) *reporter {
	return &reporter{path: path, confidence: "medium", disabled: disabled, seen: map[string]int{}, at: map[string]bool{}}
}

// add reports a finding of rule at line:col. key identifies it within the
// file (the call's text); repeats of the same key get a counter, so that
// each has its own fingerprint.
func (r *reporter) add(rule string, line, col int, msg, key string) {
	if r.disabled[rule] {
		return
	}
	key = strings.Join(strings.Fields(key), " ")
	where := fmt.Sprintf("%s\x00%d\x00%d\x00%s", rule, line, col, key)
	if r.at[where] {
		return
	}
	r.at[where] = true
	rk := rule + "\x00" + key
	r.seen[rk]++
	if n := r.seen[rk]; n > 1 {
		key = fmt.Sprintf("%s #%d", key, n)
	}
	rl, ok := ruleByID(rule)
	if !ok {
		panic("test-code: no rule " + rule)
	}
	r.out = append(r.out, gantry.Finding{
		Tool:        Name,
		RuleID:      rl.ID,
		Severity:    rl.Severity,
		Confidence:  r.confidence,
		Location:    gantry.Location{Path: r.path, Line: line, Column: col},
		Message:     msg,
		CWE:         slices.Clone(rl.CWE),
		Fingerprint: scan.Fingerprint(Name, rl.ID, r.path, key),
		Help:        rl.Fix,
	})
}

func sortFindings(fs []gantry.Finding) {
	slices.SortFunc(fs, func(a, b gantry.Finding) int {
		if c := strings.Compare(a.Location.Path, b.Location.Path); c != 0 {
			return c
		}
		if a.Location.Line != b.Location.Line {
			return a.Location.Line - b.Location.Line
		}
		if a.Location.Column != b.Location.Column {
			return a.Location.Column - b.Location.Column
		}
		return strings.Compare(a.RuleID, b.RuleID)
	})
}

// lazyRE compiles a pattern the first time it is used: a scanner that a
// run does not use should not cost every gantry command at start-up.
func lazyRE(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
