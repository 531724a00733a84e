package spec

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// checkText reports bytes the YAML parser would reject without saying
// where: invalid UTF-8 and control characters.
func (d *decoder) checkText() bool {
	line, col, found := 1, 1, 0
	for i := 0; i < len(d.data) && found < 10; {
		r, size := utf8.DecodeRune(d.data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			d.errorAt(line, col, "byte 0x%02x is not valid UTF-8: a pipeline file must be UTF-8 text", d.data[i])
			found++
		case r == '\n':
			line, col = line+1, 0
		case r == '\t' || r == '\r' || r == 0x85 || r == 0xFEFF:
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0xFFFE || r == 0xFFFF:
			d.errorAt(line, col, "control character %U is not allowed in YAML: remove it", r)
			found++
		}
		i += size
		col++
	}
	return found == 0
}

// document parses the YAML and returns the root node of its only document.
func (d *decoder) document() *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(d.data))
	var doc yaml.Node
	err := decodeNode(dec, &doc)
	if err == io.EOF {
		d.errorAt(1, 1, "the file is empty: a pipeline needs version: 1 and stages")
		return nil
	}
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	switch err := decodeNode(dec, &extra); {
	case err == io.EOF:
	case err != nil:
		d.syntaxError(err)
		return nil
	default:
		d.errorf(&extra, "a second YAML document starts here: a pipeline file holds one document, so remove this ---")
		return nil
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].ShortTag() == "!!null") {
		d.errorAt(1, 1, "the file is empty: a pipeline needs version: 1 and stages")
		return nil
	}
	return doc.Content[0]
}

// decodeNode reads the next document, turning a panic of the YAML parser
// on hostile input into an error.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// syntaxError reports a YAML syntax error. The parser names the line of the
// construct it was reading, which is often before the mistake, so the
// error is moved to the first line at which the file stops parsing the
// same way.
func (d *decoder) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
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
	d.errorAt(line, col, "invalid YAML: %s", msg)
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
		err := parseAll(d.data[:end])
		if err == nil {
			return false
		}
		m := strings.TrimPrefix(err.Error(), "yaml: ")
		if s := yamlLineRE.FindStringSubmatch(m); s != nil {
			m = s[2]
		}
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

// parseAll parses every document of data and returns the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := decodeNode(dec, &n); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// checkSize refuses alias cycles and documents whose aliases repeat more
// nodes than any real pipeline has (the "billion laughs").
func (d *decoder) checkSize(root *yaml.Node) bool {
	size := map[*yaml.Node]int{}
	open := map[*yaml.Node]bool{}
	failed := false
	var walk func(n *yaml.Node) int
	walk = func(n *yaml.Node) int {
		if s, ok := size[n]; ok {
			return s
		}
		if failed {
			return MaxNodes + 1
		}
		open[n] = true
		s := 1
		if n.Kind == yaml.AliasNode {
			if open[n.Alias] {
				d.errorf(n, "alias *%s is used inside the value it names, which would make it endless", n.Value)
				failed = true
				return MaxNodes + 1
			}
			s += walk(n.Alias)
		}
		for _, c := range n.Content {
			if s += walk(c); s > MaxNodes {
				break
			}
		}
		open[n] = false
		s = min(s, MaxNodes+1)
		size[n] = s
		return s
	}
	if walk(root) > MaxNodes && !failed {
		d.errorAt(1, 1, "the file has more than %d YAML values once its aliases are expanded: use fewer aliases", MaxNodes)
		return false
	}
	return !failed
}
