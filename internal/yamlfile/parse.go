package yamlfile

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// CheckText reports bytes the YAML parser would reject without saying
// where: invalid UTF-8 and control characters, at most 10 of them. what
// names the kind of file, as in "a pipeline file". It reports whether the
// text is clean.
func (r *Reporter) CheckText(data []byte, what string) bool {
	line, col, found := 1, 1, 0
	for i := 0; i < len(data) && found < 10; {
		c, size := utf8.DecodeRune(data[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			r.ErrorAt(line, col, "byte 0x%02x is not valid UTF-8: %s must be UTF-8 text", data[i], what)
			found++
		case c == '\n':
			line, col = line+1, 0
		case c == '\t' || c == '\r' || c == 0x85 || c == 0xFEFF:
		case c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0xFFFE || c == 0xFFFF:
			r.ErrorAt(line, col, "control character %U is not allowed in YAML: remove it", c)
			found++
		}
		i += size
		col++
	}
	return found == 0
}

// Document parses data, which should hold one YAML document, and returns
// the root node of that document: nil when the file holds nothing but
// comments or an empty value. err is the parser's, to be placed with
// SplitError. second is where a second document starts, when there is
// one.
func Document(data []byte) (root, second *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := decodeNode(dec, &doc); {
	case err == io.EOF:
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	var extra yaml.Node
	switch err := decodeNode(dec, &extra); {
	case err == io.EOF:
	case err != nil:
		return nil, nil, err
	default:
		return nil, &extra, nil
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil
	}
	root = doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil, nil
	}
	return root, nil, nil
}

// ParseAll parses every document of data and returns the first error. A
// decoder that looks for the line of a syntax error parses prefixes of
// the file with it.
func ParseAll(data []byte) error {
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

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// SplitError returns the line a syntax error of the parser names, 0 when
// it names none, and its message without "yaml: " and the line.
func SplitError(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return line, msg
}

// CheckSize refuses alias cycles and documents whose aliases repeat more
// than limit nodes (the "billion laughs"), which no real file needs. It
// reports whether the document is fine.
func (r *Reporter) CheckSize(root *yaml.Node, limit int) bool {
	size := map[*yaml.Node]int{}
	open := map[*yaml.Node]bool{}
	failed := false
	var walk func(n *yaml.Node) int
	walk = func(n *yaml.Node) int {
		if s, ok := size[n]; ok {
			return s
		}
		if failed || n == nil {
			return limit + 1
		}
		open[n] = true
		s := 1
		if n.Kind == yaml.AliasNode {
			if open[n.Alias] {
				r.Errorf(n, "alias *%s is used inside the value it names, which would make it endless", n.Value)
				failed = true
				return limit + 1
			}
			s += walk(n.Alias)
		}
		for _, c := range n.Content {
			if s += walk(c); s > limit {
				break
			}
		}
		open[n] = false
		s = min(s, limit+1)
		size[n] = s
		return s
	}
	if walk(root) > limit && !failed {
		r.ErrorAt(1, 1, "the file has more than %d YAML values once its aliases are expanded: use fewer aliases", limit)
		return false
	}
	return !failed
}
