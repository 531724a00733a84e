package deps

import (
	"fmt"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/vulndb"
)

// severityFromScore maps a CVSS base score to a severity: 9.0 and above
// critical, 7.0 high, 4.0 medium, above 0 low, 0 info.
func severityFromScore(score float64) gantry.Severity {
	switch {
	case score >= 9.0:
		return gantry.SeverityCritical
	case score >= 7.0:
		return gantry.SeverityHigh
	case score >= 4.0:
		return gantry.SeverityMedium
	case score > 0:
		return gantry.SeverityLow
	}
	return gantry.SeverityInfo
}

// rated is a severity and what it rests on, for the message.
type rated struct {
	severity gantry.Severity
	basis    string // "CVSS 9.8", "advisory: high", "no CVSS"
}

// rate derives the severity of a group of aliased entries, each matched
// through one affected element: the highest CVSS v3 base score among
// them (a package's own severity before the entry's); failing that, the
// severity word an advisory database gives (GitHub's, used when only a
// CVSS v4 vector is given, which is not scored here); failing that,
// medium.
func rate(entries []*vulndb.Entry, affected []*vulndb.Affected) rated {
	best := -1.0
	for i, e := range entries {
		sevs := e.Severity
		if affected[i] != nil && len(affected[i].Severity) > 0 {
			sevs = affected[i].Severity
		}
		for _, s := range sevs {
			if s.Type != "CVSS_V3" && !strings.HasPrefix(s.Score, "CVSS:3.") {
				continue
			}
			if score, err := CVSS3BaseScore(s.Score); err == nil && score > best {
				best = score
			}
		}
	}
	if best >= 0 {
		return rated{severityFromScore(best), fmt.Sprintf("CVSS %.1f", best)}
	}
	word := gantry.Severity("")
	for _, e := range entries {
		var s gantry.Severity
		switch e.DatabaseSeverity() {
		case "critical":
			s = gantry.SeverityCritical
		case "high":
			s = gantry.SeverityHigh
		case "moderate", "medium":
			s = gantry.SeverityMedium
		case "low":
			s = gantry.SeverityLow
		}
		if s.Rank() > word.Rank() {
			word = s
		}
	}
	if word != "" {
		return rated{word, "advisory: " + string(word)}
	}
	return rated{gantry.SeverityMedium, "no CVSS"}
}

// adjust moves a severity by reachability: a vulnerable symbol that is
// called raises it one level (at most critical), a vulnerable package that
// is not even imported lowers it one level (at least info).
func adjust(s gantry.Severity, r reach) gantry.Severity {
	order := []gantry.Severity{gantry.SeverityInfo, gantry.SeverityLow, gantry.SeverityMedium, gantry.SeverityHigh, gantry.SeverityCritical}
	i := s.Rank() - 1
	if i < 0 {
		return s
	}
	switch r {
	case reachCalled:
		i = min(i+1, len(order)-1)
	case reachRequired:
		i = max(i-1, 0)
	}
	return order[i]
}
