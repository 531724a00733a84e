package gantry

import (
	"strings"
	"time"
)

// Severity ranks a finding. The order is info < low < medium < high <
// critical.
type Severity string

// The severities.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Rank orders severities: 1 for info up to 5 for critical, 0 for unknown.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityLow:
		return 2
	case SeverityMedium:
		return 3
	case SeverityHigh:
		return 4
	case SeverityCritical:
		return 5
	}
	return 0
}

// AtLeast reports whether s is as severe as t or more.
func (s Severity) AtLeast(t Severity) bool { return s.Rank() >= t.Rank() && s.Rank() > 0 }

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	if sev.Rank() == 0 {
		return "", Errorf(EInvalid, "unknown severity %q (want info, low, medium, high or critical)", s)
	}
	return sev, nil
}

// SARIFLevel maps a severity to a SARIF result level: critical and high are
// errors, medium a warning, low and info notes.
func (s Severity) SARIFLevel() string {
	switch s {
	case SeverityCritical, SeverityHigh:
		return "error"
	case SeverityMedium:
		return "warning"
	}
	return "note"
}

// Location is where a finding is: a path relative to the scanned root,
// with forward slashes, and 1-based lines and columns (0: unknown).
type Location struct {
	Path      string `json:"path"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
	Commit    string `json:"commit,omitempty"` // for findings in git history
}

// Finding is one problem a security scanner found, in the form every
// scanner shares. It never holds a secret value: scanners of secrets put a
// redacted prefix and a hash in Message and Fingerprint.
type Finding struct {
	Tool       string   `json:"tool"`    // the scanner: sast, secrets, deps, …
	RuleID     string   `json:"rule_id"` // the rule within the tool
	Severity   Severity `json:"severity"`
	Confidence string   `json:"confidence,omitempty"` // high, medium or low
	Location   Location `json:"location"`
	Message    string   `json:"message"`
	CWE        []string `json:"cwe,omitempty"` // "CWE-89"
	// Fingerprint identifies the finding across runs and line moves; a
	// waiver names it.
	Fingerprint string `json:"fingerprint"`
	New         bool   `json:"new"` // not in the last successful run on the base branch
	// Waiver is the waiver in force for the finding, if any.
	Waiver *Waiver `json:"waiver,omitempty"`
	// Help says how to fix it, for SARIF and the reports.
	Help string `json:"help,omitempty"`
}

// Waiver accepts a finding, for a reason, until it expires.
type Waiver struct {
	Fingerprint string    `json:"fingerprint,omitempty" yaml:"fingerprint,omitempty"`
	RuleID      string    `json:"rule,omitempty" yaml:"rule,omitempty"`
	Path        string    `json:"path,omitempty" yaml:"path,omitempty"` // a glob, with RuleID
	Reason      string    `json:"reason" yaml:"reason"`
	Owner       string    `json:"owner" yaml:"owner"`
	Expires     time.Time `json:"expires" yaml:"expires"`
}

// Active reports whether the waiver applies at time t.
func (w *Waiver) Active(t time.Time) bool { return w != nil && t.Before(w.Expires) }
