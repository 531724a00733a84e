package scan

import (
	"fmt"
	"io"
	"strings"

	"gantry.dev/gantry"
)

// Rule is one documented check of a scanner, with what a reader needs to
// act on its findings.
type Rule struct {
	ID       string          // GIAC-DF-001
	Title    string          // one line
	Severity gantry.Severity // the severity of every finding of the rule
	CWE      []string        // "CWE-250"
	// Rationale says why the pattern is a risk; Fix says what to do
	// instead. Each is one paragraph of plain text.
	Rationale string
	Fix       string
}

// WriteRulesDoc writes a scanner's rule reference (its RULES.md): header,
// Markdown that ends with a blank line, then a table of the rules and a
// section for each. target, when not nil, names what each rule applies to
// and adds that column.
func WriteRulesDoc(w io.Writer, header string, rules []Rule, target func(Rule) string) error {
	var b strings.Builder
	b.WriteString(header)
	if target != nil {
		b.WriteString("| ID | Applies to | Title | Severity | CWE |\n|---|---|---|---|---|\n")
	} else {
		b.WriteString("| ID | Title | Severity | CWE |\n|---|---|---|---|\n")
	}
	for _, r := range rules {
		applies := ""
		if target != nil {
			applies = " " + target(r) + " |"
		}
		fmt.Fprintf(&b, "| [%s](#%s) |%s %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), applies, r.Title, r.Severity, strings.Join(r.CWE, ", "))
	}
	for _, r := range rules {
		applies := ""
		if target != nil {
			applies = target(r) + ", "
		}
		fmt.Fprintf(&b, "\n## %s\n\n**%s** — %sseverity %s, %s.\n\n%s\n\n**Fix.** %s\n",
			r.ID, r.Title, applies, r.Severity, strings.Join(r.CWE, ", "), r.Rationale, r.Fix)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
