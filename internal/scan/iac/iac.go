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
	"log/slog"
	"os"
	"path"
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

// Options configure a Scanner: size limit, testdata, excluded paths and
// disabled rules.
type Options = scan.FileConfig

// Scanner is the iac scanner. It is safe for concurrent use.
type Scanner struct {
	base scan.FileOptions
}

var _ scan.Scanner = (*Scanner)(nil)

// New returns a scanner with the given options, after checking them.
func New(opts Options) (*Scanner, error) {
	base, err := scan.NewFileOptions(opts, DefaultMaxFileSize, knownRule)
	if err != nil {
		return nil, fmt.Errorf("iac: %w", err)
	}
	return &Scanner{base: base}, nil
}

// Name returns "iac".
func (s *Scanner) Name() string { return Name }

// fileOptions merges the scanner's options with a step's inputs.
func (s *Scanner) fileOptions(with map[string]string) (scan.FileOptions, error) {
	return scan.FileInputs(s.base, with, knownRule)
}

func knownRule(id string) bool {
	_, ok := ruleByID(id)
	return ok
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
	cfg, err := s.fileOptions(req.With)
	if err != nil {
		return nil, fmt.Errorf("iac: %w", err)
	}
	log := req.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	res := &scan.Result{Tool: Name, Findings: []gantry.Finding{}, Scanned: map[string]int{}}
	kinds := map[string]fileKind{}
	want := func(p, rel string) bool {
		k := classify(p, path.Base(rel))
		kinds[rel] = k
		return k != kindNone
	}
	gaps, walkErr := scan.WalkFiles(ctx, req.Root, cfg, want, func(rel string, data []byte) {
		log.Debug("iac: checking file", "path", rel)
		var fnd []gantry.Finding
		var gap *scan.Gap
		switch kinds[rel] {
		case kindDockerfileVariant:
			if !looksLikeDockerfile(data) {
				return
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
			if !cfg.Disabled[f.RuleID] {
				res.Findings = append(res.Findings, f)
			}
		}
	})
	res.Gaps = append(res.Gaps, gaps...)
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
