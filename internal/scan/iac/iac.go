// Package iac is the infrastructure-as-code scanner: it reads Dockerfiles,
// Kubernetes manifests and shell scripts in a source tree and reports the
// patterns in them that weaken the system they build or deploy (running as
// root, unpinned images, secrets baked into images, downloaded code run
// unchecked, host access granted to pods).
//
// Every rule is in the table of rules.go and documented in RULES.md, which
// a test regenerates from that table.
package iac

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Name is the scanner's kind, the tool of its findings.
const Name = "iac"

// DefaultMaxFileSize is the largest file the scanner reads unless told
// otherwise; larger files are reported as gaps.
const DefaultMaxFileSize = 1 << 20

// Options configure a Scanner.
type Options struct {
	// MaxFileSize is the size above which a file is skipped with a gap;
	// 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// IncludeTestdata scans directories named testdata, which are skipped
	// by default: by Go convention they hold fixtures, not what is built
	// or deployed (this package's own fixtures among them).
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

// Scanner is the iac scanner. It is safe for concurrent use.
type Scanner struct {
	opts Options
}

var _ scan.Scanner = (*Scanner)(nil)

// New returns a scanner with the given options, after checking them.
func New(opts Options) (*Scanner, error) {
	if opts.MaxFileSize < 0 {
		return nil, fmt.Errorf("iac: negative max file size %d", opts.MaxFileSize)
	}
	if opts.MaxFileSize == 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if err := checkPatterns(opts.Exclude); err != nil {
		return nil, fmt.Errorf("iac: %w", err)
	}
	if err := checkRuleIDs(opts.Disable); err != nil {
		return nil, fmt.Errorf("iac: %w", err)
	}
	opts.Exclude = slices.Clone(opts.Exclude)
	opts.Disable = slices.Clone(opts.Disable)
	return &Scanner{opts: opts}, nil
}

// Name returns "iac".
func (s *Scanner) Name() string { return Name }

// config is what one scan runs with: the scanner's options merged with the
// request's inputs.
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

// fileKind is what the scanner takes a file to be.
type fileKind int

const (
	kindNone fileKind = iota
	kindDockerfile
	kindDockerfileVariant // Dockerfile.<suffix>: a Dockerfile only if it reads like one
	kindYAML
	kindShell
)

// Scan walks req.Root and checks every Dockerfile, YAML file and shell
// script in it. Files it cannot read or parse become gaps; a cancelled ctx
// stops the walk and returns ctx's error.
func (s *Scanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	if req == nil || req.Root == "" {
		return nil, errors.New("iac: no root to scan")
	}
	cfg, err := s.config(req.With)
	if err != nil {
		return nil, fmt.Errorf("iac: %w", err)
	}
	log := req.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	info, err := os.Stat(req.Root)
	if err != nil {
		return nil, fmt.Errorf("iac: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("iac: root %s is not a directory", req.Root)
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
		kind := classify(p, d.Name())
		if kind == kindNone {
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
		log.Debug("iac: checking file", "path", rel)
		var fnd []gantry.Finding
		var gap *scan.Gap
		switch kind {
		case kindDockerfileVariant:
			if !looksLikeDockerfile(data) {
				return nil
			}
			fallthrough
		case kindDockerfile:
			res.Scanned["dockerfiles"]++
			fnd, gap = checkDockerfile(rel, data)
		case kindYAML:
			var n int
			fnd, n, gap = checkManifests(rel, data)
			if n > 0 {
				res.Scanned["kubernetes workloads"] += n
			}
		case kindShell:
			res.Scanned["shell scripts"]++
			fnd = checkShellScript(rel, data)
		}
		if gap != nil {
			res.Gaps = append(res.Gaps, *gap)
		}
		for _, f := range fnd {
			if !cfg.disabled[f.RuleID] {
				res.Findings = append(res.Findings, f)
			}
		}
		return nil
	})
	if walkErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("iac: scan %s: %w", req.Root, ctxErr)
		}
		return nil, fmt.Errorf("iac: walk %s: %w", req.Root, walkErr)
	}
	sortFindings(res.Findings)
	slices.SortFunc(res.Gaps, func(a, b scan.Gap) int { return strings.Compare(a.What, b.What) })
	if req.Progress != nil {
		fmt.Fprintf(req.Progress, "iac: %d dockerfiles, %d kubernetes manifests, %d shell scripts; %d findings, %d gaps\n",
			res.Scanned["dockerfiles"], res.Scanned["kubernetes workloads"], res.Scanned["shell scripts"], len(res.Findings), len(res.Gaps))
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

// classify says what kind of file p (named name) is. Files without an
// extension are sniffed for a shell shebang.
func classify(p, name string) fileKind {
	if k := dockerfileKind(name); k != kindNone {
		return k
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return kindYAML
	case ".sh", ".bash":
		return kindShell
	case "":
		if hasShellShebang(p) {
			return kindShell
		}
	}
	return kindNone
}

// dockerfileKind classifies the names Dockerfiles go by: Dockerfile,
// Containerfile, app.Dockerfile, and Dockerfile.<suffix>, which needs a
// look inside (Dockerfile.go is not one).
func dockerfileKind(name string) fileKind {
	lower := strings.ToLower(name)
	for _, base := range []string{"dockerfile", "containerfile"} {
		if lower == base || strings.HasSuffix(lower, "."+base) {
			return kindDockerfile
		}
		if rest, ok := strings.CutPrefix(lower, base+"."); ok {
			switch path.Ext("." + rest) {
			case ".md", ".txt", ".rst", ".json", ".yaml", ".yml", ".sh", ".dockerignore", ".go", ".py", ".js", ".ts":
				return kindNone
			}
			return kindDockerfileVariant
		}
	}
	return kindNone
}

// looksLikeDockerfile reports whether the first line that is not blank or
// a comment starts with a Dockerfile instruction.
func looksLikeDockerfile(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kw, _, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
		return knownInstructions[strings.ToUpper(kw)]
	}
	return false
}

// hasShellShebang reports whether the file at p starts with a #! line that
// runs a POSIX-like shell. It reads only the first line.
func hasShellShebang(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 128)
	n, _ := io.ReadFull(f, buf)
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	return isShellShebang(string(line))
}

func isShellShebang(line string) bool {
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return false
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return false
	}
	prog := path.Base(fields[0])
	if prog == "env" {
		prog = ""
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") && !strings.Contains(f, "=") {
				prog = path.Base(f)
				break
			}
		}
	}
	switch prog {
	case "sh", "bash", "dash", "ash", "ksh", "mksh", "zsh":
		return true
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

// newFinding builds a finding of rule at path:line. key identifies the
// finding within the file for its fingerprint; it must not contain a
// secret value.
func newFinding(rule, file string, line, col int, msg, key, confidence string) gantry.Finding {
	r, ok := ruleByID(rule)
	if !ok {
		panic("iac: no rule " + rule)
	}
	return gantry.Finding{
		Tool:        Name,
		RuleID:      r.ID,
		Severity:    r.Severity,
		Confidence:  confidence,
		Location:    gantry.Location{Path: file, Line: line, Column: col},
		Message:     msg,
		CWE:         slices.Clone(r.CWE),
		Fingerprint: scan.Fingerprint(Name, r.ID, file, key),
		Help:        r.Fix,
	}
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
		if c := strings.Compare(a.RuleID, b.RuleID); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
}
