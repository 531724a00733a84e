package vulndb

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Entry is one OSV record (https://ossf.github.io/osv-schema/), reduced to
// the fields Gantry reads.
type Entry struct {
	ID               string          `json:"id"`
	Modified         time.Time       `json:"modified"`
	Published        time.Time       `json:"published,omitzero"`
	Withdrawn        *time.Time      `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Severity is one severity score of an entry: Type is CVSS_V2, CVSS_V3,
// CVSS_V4 or Ubuntu, Score the vector or the word.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected names one package an entry affects and the versions it affects.
type Affected struct {
	Package           AffectedPackage `json:"package"`
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// AffectedPackage identifies a package in an ecosystem.
type AffectedPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is a set of affected versions described by events. Type is SEMVER,
// ECOSYSTEM or GIT.
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one boundary of a range: exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// CWEs returns the CWE identifiers ("CWE-79") the entry's
// database_specific sections name, top level first, without duplicates.
func (e *Entry) CWEs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(raw json.RawMessage) {
		if len(raw) == 0 {
			return
		}
		var ds struct {
			CWEIDs []string `json:"cwe_ids"`
			CWEs   []string `json:"cwes"`
		}
		if json.Unmarshal(raw, &ds) != nil {
			return
		}
		for _, id := range append(ds.CWEIDs, ds.CWEs...) {
			id = strings.ToUpper(strings.TrimSpace(id))
			if !strings.HasPrefix(id, "CWE-") || seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, id)
		}
	}
	add(e.DatabaseSpecific)
	for _, a := range e.Affected {
		add(a.DatabaseSpecific)
	}
	return out
}

// DatabaseSeverity returns the severity word a database put in
// database_specific.severity (GitHub advisories: LOW, MODERATE, HIGH,
// CRITICAL), lower case, or "".
func (e *Entry) DatabaseSeverity() string {
	if len(e.DatabaseSpecific) == 0 {
		return ""
	}
	var ds struct {
		Severity string `json:"severity"`
	}
	if json.Unmarshal(e.DatabaseSpecific, &ds) != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(ds.Severity))
}

// ParseEntry decodes one OSV JSON document and checks the little Gantry
// relies on: an ID, and a package name in every affected entry.
func ParseEntry(b []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode osv entry: %w", err)
	}
	if e.ID == "" {
		return nil, fmt.Errorf("osv entry has no id")
	}
	for i, a := range e.Affected {
		if a.Package.Name == "" && len(a.Ranges) == 0 {
			return nil, fmt.Errorf("osv entry %s: affected[%d] names no package", e.ID, i)
		}
	}
	return &e, nil
}

// entryHead is the part of an entry needed to decide whether to decode the
// rest: reading a whole ecosystem decodes every entry this far only.
type entryHead struct {
	ID       string `json:"id"`
	Affected []struct {
		Package AffectedPackage `json:"package"`
	} `json:"affected"`
}

// baseEcosystem drops a release suffix ("Debian:12" → "Debian").
func baseEcosystem(eco string) string {
	b, _, _ := strings.Cut(eco, ":")
	return b
}
