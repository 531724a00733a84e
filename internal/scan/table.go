package scan

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gantry.dev/gantry"
)

// TableOptions shapes the table that WriteTable writes.
type TableOptions struct {
	// Width is the terminal's width in columns. Messages and waiver
	// reasons are shortened so that lines fit it, down to a floor below
	// which they are kept readable and the line is let run over. Zero
	// means no limit (output to a file or a pipe).
	Width int
}

// minMessageWidth is the narrowest a message is cut to, however narrow
// the terminal.
const minMessageWidth = 20

// WriteTable writes results as the readable report of `gantry scan`: the
// findings that stand, worst first, as severity, tool, rule, location
// (path:line) and message; the waived findings apart, each with its
// waiver; the gaps (what was not covered, and why); and a summary with
// the count of each severity. It writes nothing that is not in the
// results, and escapes control characters in what it writes, so that a
// message taken from scanned code cannot move the cursor, colour the
// terminal or reverse text.
func WriteTable(w io.Writer, results []*Result, opts TableOptions) error {
	var active, waived []toolFinding
	var gaps []toolGap
	scanned := map[string]map[string]int{}
	for _, r := range results {
		if r == nil {
			continue
		}
		for _, f := range r.Findings {
			tf := toolFinding{tool: cmp.Or(f.Tool, r.Tool), f: f}
			if f.Waiver != nil {
				waived = append(waived, tf)
			} else {
				active = append(active, tf)
			}
		}
		for _, g := range r.Gaps {
			gaps = append(gaps, toolGap{tool: r.Tool, gap: g})
		}
		for k, n := range r.Scanned {
			if scanned[r.Tool] == nil {
				scanned[r.Tool] = map[string]int{}
			}
			scanned[r.Tool][k] += n
		}
	}
	slices.SortStableFunc(active, compareForTable)
	slices.SortStableFunc(waived, compareForTable)
	slices.SortFunc(gaps, func(a, b toolGap) int {
		return cmp.Or(cmp.Compare(a.tool, b.tool), cmp.Compare(a.gap.What, b.gap.What), cmp.Compare(a.gap.Reason, b.gap.Reason))
	})
	gaps = slices.Compact(gaps)

	// A NEW column only says something when a baseline set some findings
	// apart as old.
	showNew := false
	for _, tf := range slices.Concat(active, waived) {
		if !tf.f.New {
			showNew = true
			break
		}
	}
	t := newTable(showNew, opts.Width, slices.Concat(active, waived))

	var b strings.Builder
	if len(active) == 0 {
		b.WriteString("No findings.\n")
	} else {
		t.header(&b)
		for _, tf := range active {
			t.row(&b, tf)
		}
	}
	if len(waived) > 0 {
		fmt.Fprintf(&b, "\nWaived (%d):\n", len(waived))
		t.header(&b)
		for _, tf := range waived {
			t.row(&b, tf)
			wv := tf.f.Waiver
			note := fmt.Sprintf("waived by %s until %s: %s", clean(wv.Owner), FormatExpiry(wv.Expires), clean(wv.Reason))
			b.WriteString(t.indent + cut(note, t.messageWidth(len(t.indent))) + "\n")
		}
	}
	if len(gaps) > 0 {
		fmt.Fprintf(&b, "\nNot covered (%d):\n", len(gaps))
		for _, g := range gaps {
			line := "  " + clean(g.tool) + ": " + clean(gapText(g.gap))
			if opts.Width > 0 {
				line = cut(line, max(opts.Width, minMessageWidth))
			}
			b.WriteString(line + "\n")
		}
	}
	b.WriteByte('\n')
	if len(scanned) > 0 {
		var tools []string
		for _, tool := range sortedKeys(scanned) {
			var parts []string
			for _, what := range sortedKeys(scanned[tool]) {
				parts = append(parts, fmt.Sprintf("%d %s", scanned[tool][what], clean(what)))
			}
			tools = append(tools, clean(tool)+": "+strings.Join(parts, ", "))
		}
		b.WriteString("Scanned: " + strings.Join(tools, "; ") + "\n")
	}
	b.WriteString(summary(active, waived, len(gaps)) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

type toolFinding struct {
	tool string
	f    gantry.Finding
}

type toolGap struct {
	tool string
	gap  Gap
}

// compareForTable orders findings worst first, then by tool and place.
func compareForTable(a, b toolFinding) int {
	return cmp.Or(
		-cmp.Compare(displayRank(a.f.Severity), displayRank(b.f.Severity)),
		cmp.Compare(a.tool, b.tool),
		cmp.Compare(a.f.Location.Path, b.f.Location.Path),
		cmp.Compare(a.f.Location.Line, b.f.Location.Line),
		cmp.Compare(a.f.RuleID, b.f.RuleID),
		cmp.Compare(a.f.Message, b.f.Message),
		cmp.Compare(a.f.Fingerprint, b.f.Fingerprint),
	)
}

// displayRank ranks an unknown severity above critical, as the gate
// treats it.
func displayRank(s gantry.Severity) int {
	if s.Rank() == 0 {
		return 6
	}
	return s.Rank()
}

// summary writes the closing line: the findings that stand by severity,
// how many are new, and the waived findings and gaps.
func summary(active, waived []toolFinding, gaps int) string {
	counts := map[gantry.Severity]int{}
	unknown, fresh := 0, 0
	for _, tf := range active {
		if tf.f.Severity.Rank() == 0 {
			unknown++
		} else {
			counts[tf.f.Severity]++
		}
		if tf.f.New {
			fresh++
		}
	}
	var parts []string
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d unknown", unknown))
	}
	for _, s := range severitiesDesc {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	s := fmt.Sprintf("%s (%s)", plural(len(active), "finding"), strings.Join(parts, ", "))
	if fresh != len(active) {
		s += fmt.Sprintf(", %d new", fresh)
	}
	s += fmt.Sprintf("; %d waived; %s not covered", len(waived), plural(gaps, "gap"))
	return s
}

// table lays out finding rows in aligned columns.
type table struct {
	showNew bool
	width   int      // terminal width; 0 no limit
	widths  []int    // of every column before MESSAGE
	indent  string   // as wide as the severity column and its gap
	heads   []string // the column headings before MESSAGE
}

const colGap = "  "

func newTable(showNew bool, width int, rows []toolFinding) *table {
	t := &table{showNew: showNew, width: width, heads: []string{"SEVERITY", "TOOL", "RULE", "LOCATION"}}
	if showNew {
		t.heads = append(t.heads, "NEW")
	}
	t.widths = make([]int, len(t.heads))
	for i, h := range t.heads {
		t.widths[i] = utf8.RuneCountInString(h)
	}
	for _, tf := range rows {
		for i, c := range t.cells(tf) {
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
		}
	}
	t.indent = strings.Repeat(" ", t.widths[0]+len(colGap))
	return t
}

// cells are a finding's cells before its message.
func (t *table) cells(tf toolFinding) []string {
	f := tf.f
	sev := string(f.Severity)
	if f.Severity.Rank() == 0 {
		sev = "unknown"
	}
	c := []string{sev, clean(tf.tool), clean(f.RuleID), location(f.Location)}
	if t.showNew {
		mark := ""
		if f.New {
			mark = "new"
		}
		c = append(c, mark)
	}
	return c
}

// messageWidth is the room left for text that starts at column used.
func (t *table) messageWidth(used int) int {
	if t.width <= 0 {
		return 0
	}
	return max(t.width-used, minMessageWidth)
}

func (t *table) header(b *strings.Builder) {
	t.line(b, t.heads, "MESSAGE")
}

func (t *table) row(b *strings.Builder, tf toolFinding) {
	t.line(b, t.cells(tf), clean(cmp.Or(tf.f.Message, tf.f.RuleID)))
}

func (t *table) line(b *strings.Builder, cells []string, message string) {
	used := 0
	for i, c := range cells {
		b.WriteString(c)
		pad := t.widths[i] - utf8.RuneCountInString(c)
		b.WriteString(strings.Repeat(" ", pad))
		b.WriteString(colGap)
		used += t.widths[i] + len(colGap)
	}
	b.WriteString(cut(message, t.messageWidth(used)))
	b.WriteByte('\n')
}

// location writes path:line, "-" for a finding without a path, and the
// commit of a finding in history.
func location(l gantry.Location) string {
	s := clean(l.Path)
	if s == "" {
		s = "-"
	}
	if l.Line > 0 {
		s += ":" + strconv.Itoa(l.Line)
	}
	if l.Commit != "" {
		c := clean(l.Commit)
		if len(c) > 7 {
			c = c[:7] // as git abbreviates it
		}
		s += "@" + c
	}
	return s
}

// cut shortens s to n runes, ending it with an ellipsis; n <= 0 keeps it.
func cut(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// clean makes text safe to print on a terminal in one line: line breaks
// and tabs become spaces, other control characters and the bidirectional
// formatting characters (which can make text read differently from what it
// is) are written as escapes.
func clean(s string) string {
	if !strings.ContainsFunc(s, needsEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
				continue
			}
			b.WriteRune(r)
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case needsEscape(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}
