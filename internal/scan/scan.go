// Package scan is the frame every built-in security scanner fits in: the
// Scanner contract, what a scan is asked and what it returns, and the
// fingerprints that let a finding be recognised across runs.
package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"

	"gantry.dev/gantry"
)

// Request is what a scanner is asked to look at.
type Request struct {
	// Root is the directory to scan; finding paths are relative to it.
	Root string
	// With are the step's inputs (`with:`), scanner-specific options.
	With map[string]string
	// History asks the secrets scanner to read git history as well.
	// Base, when set, limits it to the commits after Base (a change).
	History bool
	Base    string
	// Progress receives human-readable progress lines; may be nil.
	Progress io.Writer
	Logger   *slog.Logger
}

// Gap is something a scanner was asked to cover and could not: a language
// it cannot analyse, a lock file it cannot read. A gap is reported, never
// silently passed over.
type Gap struct {
	What   string `json:"what"`   // "language: Python", "file: poetry.lock"
	Reason string `json:"reason"` // why it was not covered
}

// Result is what a scan found.
type Result struct {
	Tool     string           `json:"tool"`
	Findings []gantry.Finding `json:"findings"`
	Gaps     []Gap            `json:"gaps,omitempty"`
	// Scanned counts what was looked at (files, packages, commits), for
	// the summary line.
	Scanned map[string]int `json:"scanned,omitempty"`
	// Outputs are files the scan wrote into Root that become artifacts
	// (the SBOM), relative to Root.
	Outputs []string `json:"outputs,omitempty"`
}

// Scanner is one built-in security scanner.
type Scanner interface {
	// Name is the scanner's kind: sast, secrets, deps, sbom, license,
	// iac, test-code.
	Name() string
	Scan(ctx context.Context, req *Request) (*Result, error)
}

// Fingerprint returns the fingerprint of a finding from what identifies it
// apart from its line: the tool, the rule, the path and a key the scanner
// chooses (the matched text with whitespace folded, a hash of a secret, a
// package and version). Moving code up or down a file keeps it.
func Fingerprint(tool, rule, path, key string) string {
	h := sha256.New()
	for _, part := range []string{tool, rule, path, strings.Join(strings.Fields(key), " ")} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
