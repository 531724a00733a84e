package spec

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry/internal/yamlfile"
)

// document parses the YAML and returns the root node of its only document.
func (d *decoder) document() *yaml.Node {
	root, second, err := yamlfile.Document(d.data)
	switch {
	case err != nil:
		d.syntaxError(err)
	case second != nil:
		d.Errorf(second, "a second YAML document starts here: a pipeline file holds one document, so remove this ---")
	case root == nil:
		d.ErrorAt(1, 1, "the file is empty: a pipeline needs version: 1 and stages")
	}
	return root
}

// syntaxError reports a YAML syntax error. The parser names the line of the
// construct it was reading, which is often before the mistake, so the
// error is moved to the first line at which the file stops parsing the
// same way.
func (d *decoder) syntaxError(err error) {
	line, msg := yamlfile.SplitError(err)
	line = d.problemLine(msg, max(line, 1))
	col := 0
	text := ""
	if line <= len(d.lines) {
		text = strings.TrimSuffix(d.lines[line-1], "\r")
	}
	hint := ""
	switch {
	case strings.Contains(msg, "cannot start any token") || strings.Contains(msg, "tab character"):
		if i := strings.IndexFunc(text, func(r rune) bool { return r != ' ' }); i >= 0 && text[i] == '\t' {
			col, hint = utf8.RuneCountInString(text[:i])+1, "YAML is indented with spaces, not tabs"
		} else if i := strings.IndexAny(text, "@`"); i >= 0 {
			col, hint = utf8.RuneCountInString(text[:i])+1, fmt.Sprintf("a value starting with %c must be quoted", text[i])
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		// The second ": " on the line is where the parser gave up.
		if i := strings.Index(text, ": "); i >= 0 {
			if j := strings.Index(text[i+2:], ": "); j >= 0 {
				col = utf8.RuneCountInString(text[:i+2+j]) + 1
			}
		}
		hint = `a value that contains ": " must be quoted`
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "expected '-' indicator"):
		hint = "check the indentation of this line and the lines above it"
	case strings.Contains(msg, "unknown anchor"):
		hint = "an alias (*name) can only refer to an anchor (&name) defined before it"
	}
	if hint != "" {
		msg += ": " + hint
	}
	d.ErrorAt(line, col, "invalid YAML: %s", msg)
}

// problemLine returns the first line, from line on, such that the file cut
// after it fails with the same message, or line when there is none. It
// assumes that a prefix that fails keeps failing, which holds because the
// parser stops at the first error. The mistake is usually a few lines
// after the one the parser names, so the search gallops forward from there
// before it bisects, and parses little more than the file up to the
// mistake a few times. A budget of bytes to parse bounds the cost of a
// large hostile file; when it runs out, the parser's line stands.
func (d *decoder) problemLine(msg string, line int) int {
	budget := 4 * MaxFileSize
	sameError := func(k int) bool {
		if budget < 0 {
			return true // ends the search; its answer is not used
		}
		end := 0
		for i := 0; i < k && end < len(d.data); i++ {
			j := bytes.IndexByte(d.data[end:], '\n')
			if j < 0 {
				end = len(d.data)
				break
			}
			end += j + 1
		}
		budget -= end
		err := yamlfile.ParseAll(d.data[:end])
		if err == nil {
			return false
		}
		_, m := yamlfile.SplitError(err)
		return m == msg
	}
	n := len(d.lines)
	if line > n || !sameError(n) {
		return min(line, max(n, 1))
	}
	lo, hi := line, line // the answer is in [lo, hi]
	for step := 1; !sameError(hi); step *= 2 {
		lo, hi = hi+1, min(line+step, n)
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if sameError(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if budget < 0 {
		return min(line, n)
	}
	return lo
}
