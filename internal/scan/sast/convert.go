package sast

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/securego/gosec/v2/issue"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// converter turns gosec issues into findings relative to the scanned root.
// It is used from one goroutine.
type converter struct {
	roots []string // the root, and the root with symlinks resolved
	lines map[string][]string
}

func newConverter(root string) *converter {
	c := &converter{roots: []string{root}, lines: map[string][]string{}}
	if resolved, err := filepath.EvalSymlinks(root); err == nil && resolved != root {
		c.roots = append(c.roots, resolved)
	}
	return c
}

// rel returns file relative to the root with forward slashes, and whether
// it is under the root at all.
func (c *converter) rel(file string) (string, bool) {
	for _, root := range c.roots {
		r, err := filepath.Rel(root, file)
		if err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r) {
			return filepath.ToSlash(r), true
		}
	}
	return "", false
}

// inRoot reports whether any of files is under the root.
func (c *converter) inRoot(files []string) bool {
	for _, f := range files {
		if _, ok := c.rel(f); ok {
			return true
		}
	}
	return false
}

// relErr shortens the absolute paths in an error message to paths relative
// to the root.
func (c *converter) relErr(msg string) string {
	for _, root := range c.roots {
		msg = strings.ReplaceAll(msg, root+string(filepath.Separator), "")
	}
	return msg
}

// source returns the lines of a file, read once.
func (c *converter) source(file string) []string {
	if l, ok := c.lines[file]; ok {
		return l
	}
	b, err := os.ReadFile(file)
	var l []string
	if err == nil {
		l = strings.Split(string(b), "\n")
	}
	c.lines[file] = l
	return l
}

// keyed is a finding and the key its fingerprint is made from: the
// flagged code, whitespace folded.
type keyed struct {
	gantry.Finding
	key string
}

// finding converts one gosec issue; false if it lies outside the root.
func (c *converter) finding(iss *issue.Issue) (keyed, bool) {
	path, ok := c.rel(iss.File)
	if !ok {
		return keyed{}, false
	}
	start, end := lineRange(iss.Line)
	col, _ := strconv.Atoi(iss.Col)
	f := gantry.Finding{
		Tool:       Name,
		RuleID:     iss.RuleID,
		Severity:   severity(iss.RuleID, iss.Severity, iss.Confidence),
		Confidence: confidence(iss.Confidence),
		Location:   gantry.Location{Path: path, Line: start, Column: col},
		Message:    iss.What,
		Help:       ruleInfo[iss.RuleID].help,
	}
	if end > start {
		f.Location.EndLine = end
	}
	if iss.Cwe != nil && iss.Cwe.ID != "" {
		f.CWE = []string{"CWE-" + iss.Cwe.ID}
	} else if cwe := ruleInfo[iss.RuleID].cwe; cwe != "" {
		f.CWE = []string{cwe}
	}
	return keyed{f, c.snippet(iss.File, start, end)}, true
}

// snippet returns the source lines start..end of file joined by spaces,
// whitespace folded.
func (c *converter) snippet(file string, start, end int) string {
	lines := c.source(file)
	if start < 1 || start > len(lines) {
		return ""
	}
	end = min(max(end, start), len(lines))
	return strings.Join(strings.Fields(strings.Join(lines[start-1:end], " ")), " ")
}

// lineRange parses gosec's line, "12" or "12-15".
func lineRange(s string) (start, end int) {
	a, b, found := strings.Cut(s, "-")
	start, _ = strconv.Atoi(a)
	end = start
	if found {
		if e, err := strconv.Atoi(b); err == nil {
			end = e
		}
	}
	return start, end
}

// finish sorts the findings, drops exact duplicates (gosec can report the
// same rule at the same place twice, once per package variant or analyzer
// pass) and sets their fingerprints. Identical code flagged by the same
// rule twice in one file gets an occurrence number in its key, so the two
// findings have different fingerprints and a waiver names just one.
func (c *converter) finish(fs []keyed) []gantry.Finding {
	slices.SortFunc(fs, func(a, b keyed) int {
		return cmp.Or(
			cmp.Compare(a.Location.Path, b.Location.Path),
			cmp.Compare(a.Location.Line, b.Location.Line),
			cmp.Compare(a.Location.Column, b.Location.Column),
			cmp.Compare(a.RuleID, b.RuleID),
		)
	})
	fs = slices.CompactFunc(fs, func(a, b keyed) bool {
		return a.RuleID == b.RuleID && a.Location == b.Location
	})
	out := make([]gantry.Finding, len(fs))
	seen := map[[3]string]int{}
	for i, f := range fs {
		id := [3]string{f.RuleID, f.Location.Path, f.key}
		seen[id]++
		key := f.key
		if n := seen[id]; n > 1 {
			key = fmt.Sprintf("%s #%d", key, n)
		}
		f.Fingerprint = scan.Fingerprint(Name, f.RuleID, f.Location.Path, key)
		out[i] = f.Finding
	}
	return out
}
