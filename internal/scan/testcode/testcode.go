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
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Name is the scanner's kind, the tool of its findings.
const Name = "test-code"

// DefaultMaxFileSize is the largest file the scanner reads unless told
// otherwise; larger files are reported as gaps.
const DefaultMaxFileSize = 1 << 20

// Options configure a Scanner.
type Options struct {
	// MaxFileSize is the size above which a file is skipped with a gap;
	// 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// IncludeTestdata scans directories named testdata, which are skipped
	// by default: they hold fixtures that are not run as tests (this
	// package's own among them).
	IncludeTestdata bool
	// Exclude are slash-separated path.Match patterns of files and
	// directories not to scan. A pattern without a slash matches a base
	// name anywhere; one with a slash matches the path from the root.
	Exclude []string
	// Disable lists IDs of rules not to report.
	Disable []string
}

// The inputs (`with:`) a step may give the scanner.
const (
	withExclude         = "exclude"          // comma-separated patterns, added to Options.Exclude
	withDisable         = "disable"          // comma-separated rule IDs, added to Options.Disable
	withIncludeTestdata = "include-testdata" // "true" or "false"
)

// Scanner is the test-code scanner. It is safe for concurrent use.
type Scanner struct {
	opts Options
}

var _ scan.Scanner = (*Scanner)(nil)

// New returns a scanner with the given options, after checking them.
func New(opts Options) (*Scanner, error) {
	if opts.MaxFileSize < 0 {
		return nil, fmt.Errorf("test-code: negative max file size %d", opts.MaxFileSize)
	}
	if opts.MaxFileSize == 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if err := checkPatterns(opts.Exclude); err != nil {
		return nil, fmt.Errorf("test-code: %w", err)
	}
	if err := checkRuleIDs(opts.Disable); err != nil {
		return nil, fmt.Errorf("test-code: %w", err)
	}
	opts.Exclude = slices.Clone(opts.Exclude)
	opts.Disable = slices.Clone(opts.Disable)
	return &Scanner{opts: opts}, nil
}

// Name returns "test-code".
func (s *Scanner) Name() string { return Name }

type config struct {
	maxSize         int64
	includeTestdata bool
	exclude         []string
	disabled        map[string]bool
}

func (s *Scanner) config(with map[string]string) (*config, error) {
	c := &config{
		maxSize:         s.opts.MaxFileSize,
		includeTestdata: s.opts.IncludeTestdata,
		exclude:         slices.Clone(s.opts.Exclude),
		disabled:        map[string]bool{},
	}
	disable := slices.Clone(s.opts.Disable)
	for k, v := range with {
		switch k {
		case withExclude:
			c.exclude = append(c.exclude, splitList(v)...)
		case withDisable:
			disable = append(disable, splitList(v)...)
		case withIncludeTestdata:
			switch strings.TrimSpace(v) {
			case "true":
				c.includeTestdata = true
			case "false", "":
				c.includeTestdata = false
			default:
				return nil, fmt.Errorf("input %s: %q is not true or false", k, v)
			}
		default:
			return nil, fmt.Errorf("unknown input %q (known: %s, %s, %s)", k, withExclude, withDisable, withIncludeTestdata)
		}
	}
	if err := checkPatterns(c.exclude); err != nil {
		return nil, fmt.Errorf("input %s: %w", withExclude, err)
	}
	if err := checkRuleIDs(disable); err != nil {
		return nil, fmt.Errorf("input %s: %w", withDisable, err)
	}
	for _, id := range disable {
		c.disabled[id] = true
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func checkPatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", p, err)
		}
	}
	return nil
}

func checkRuleIDs(ids []string) error {
	for _, id := range ids {
		if _, ok := ruleByID(id); !ok {
			return fmt.Errorf("unknown rule %q", id)
		}
	}
	return nil
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
	jsTestRE = regexp.MustCompile(`\.(test|spec)\.[cm]?[jt]sx?$`)
	jsExtRE  = regexp.MustCompile(`\.[cm]?[jt]sx?$`)
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
	case jsTestRE.MatchString(name):
		return langJS
	case jsExtRE.MatchString(name) && (strings.HasPrefix(rel, "__tests__/") || strings.Contains(rel, "/__tests__/")):
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
	cfg, err := s.config(req.With)
	if err != nil {
		return nil, fmt.Errorf("test-code: %w", err)
	}
	log := req.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	info, err := os.Stat(req.Root)
	if err != nil {
		return nil, fmt.Errorf("test-code: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("test-code: root %s is not a directory", req.Root)
	}

	res := &scan.Result{Tool: Name, Findings: []gantry.Finding{}, Scanned: map[string]int{}}
	walkErr := filepath.WalkDir(req.Root, func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		rel, relErr := filepath.Rel(req.Root, p)
		if relErr != nil {
			return relErr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if rel == "." {
				return err
			}
			res.Gaps = append(res.Gaps, scan.Gap{What: "path: " + rel, Reason: err.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if rel != "." && skipDir(rel, cfg) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || excluded(rel, cfg.exclude) {
			return nil
		}
		lang := classify(rel)
		if lang == langNone {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			res.Gaps = append(res.Gaps, scan.Gap{What: "file: " + rel, Reason: err.Error()})
			return nil
		}
		if fi.Size() > cfg.maxSize {
			res.Gaps = append(res.Gaps, scan.Gap{What: "file: " + rel,
				Reason: fmt.Sprintf("%d bytes, over the %d-byte limit", fi.Size(), cfg.maxSize)})
			return nil
		}
		data, err := readLimited(p, cfg.maxSize)
		if err != nil {
			res.Gaps = append(res.Gaps, scan.Gap{What: "file: " + rel, Reason: err.Error()})
			return nil
		}
		log.Debug("test-code: checking file", "path", rel)
		res.Scanned[scannedKey[lang]]++
		rep := newReporter(rel, cfg.disabled)
		switch lang {
		case langGo:
			rep.confidence = "high"
			if err := checkGo(rep, data); err != nil {
				res.Gaps = append(res.Gaps, scan.Gap{What: "file: " + rel, Reason: "parse Go: " + err.Error()})
				return nil
			}
		case langJS:
			checkJS(rep, string(data))
		case langPython:
			checkPython(rep, string(data))
		}
		res.Findings = append(res.Findings, rep.out...)
		return nil
	})
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

// skipDir reports whether the directory at rel (slash-separated, relative
// to the root) is left out of the walk.
func skipDir(rel string, cfg *config) bool {
	switch base := path.Base(rel); base {
	case ".git", "node_modules", "vendor":
		return true
	case "testdata":
		if !cfg.includeTestdata {
			return true
		}
	case "state":
		if rel == ".gantry/state" || strings.HasSuffix(rel, "/.gantry/state") {
			return true
		}
	}
	return excluded(rel, cfg.exclude)
}

func excluded(rel string, patterns []string) bool {
	for _, p := range patterns {
		target := rel
		if !strings.Contains(p, "/") {
			target = path.Base(rel)
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// readLimited reads the file at p, failing if it turns out longer than max
// (it may have grown since it was listed).
func readLimited(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("over the %d-byte limit", max)
	}
	return data, nil
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
