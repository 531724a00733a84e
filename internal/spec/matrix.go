package spec

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry/internal/yamlfile"
)

// matrix reads a matrix and counts its variants. ok is false when the
// matrix is unusable, so that its keys are not checked against run.
func (d *decoder) matrix(n *yaml.Node) (Matrix, int, bool) {
	entries, ok := d.mapping(n, "matrix", `a mapping of keys to lists of values, such as {go: ["1.25", "1.26"]}`)
	if !ok {
		return nil, 0, false
	}
	if len(entries) == 0 {
		d.Errorf(n, "matrix: no keys: add a key with a list of values, or remove matrix")
		return nil, 0, false
	}
	mx := Matrix{}
	vars := map[string]string{}
	variants := 1
	for _, e := range entries {
		k := e.key.Value
		key := "matrix." + k
		if !matrixKeyRE.MatchString(k) {
			d.Errorf(e.key, "matrix: invalid key %q: use letters, digits, '-' and '_', starting with a letter", k)
			ok = false
			continue
		}
		if other, dup := vars[matrixVar(k)]; dup {
			d.Errorf(e.key, "matrix: keys %q and %q both become the variable %s: rename one", other, k, matrixVar(k))
			ok = false
			continue
		}
		vars[matrixVar(k)] = k
		list := yamlfile.Resolve(e.val)
		if list.Kind != yaml.SequenceNode {
			hint := ""
			if list.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(": write [%s]", list.Value)
			}
			d.Errorf(e.val, "%s: expected a list of values, got %s%s", key, yamlfile.Describe(e.val), hint)
			ok = false
			continue
		}
		if len(list.Content) == 0 {
			d.Errorf(e.val, "%s: the list is empty: give at least one value", key)
			ok = false
			continue
		}
		seen := map[string]bool{}
		var values []string
		for i, item := range list.Content {
			v, good := d.scalar(item, fmt.Sprintf("%s[%d]", key, i))
			switch {
			case !good:
			case v == "":
				d.Errorf(item, "%s: the value is empty", key)
			case !matrixValueRE.MatchString(v):
				d.Errorf(item, "%s: invalid value %q: use letters, digits, '.', '-' and '_' (the value becomes part of the step name)", key, v)
			case seen[v]:
				d.Errorf(item, "%s: %q is listed twice", key, v)
			default:
				seen[v] = true
				values = append(values, v)
				continue
			}
			ok = false
		}
		mx[k] = values
		variants *= max(len(values), 1)
		variants = min(variants, MaxVariants+1)
	}
	if variants > MaxVariants {
		d.Errorf(n, "matrix: more than %d variants; a step may have at most %d: use fewer values", MaxVariants, MaxVariants)
		return mx, 0, false
	}
	return mx, variants, ok
}

// matrixVar is the environment variable that holds a matrix key's value.
func matrixVar(key string) string {
	b := []byte(strings.ToUpper(key))
	for i, c := range b {
		if !isAlnum(c) {
			b[i] = '_'
		}
	}
	return "GANTRY_MATRIX_" + string(b)
}

// expressions checks the ${{ }} expressions of a templated string.
func (d *decoder) expressions(t templated, mx Matrix, hasMatrix, matrixOK bool, step string) {
	s := yamlfile.Resolve(t.node).Value
	for off := 0; ; {
		i := strings.Index(s[off:], "${{")
		if i < 0 {
			return
		}
		i += off
		line, col := d.locate(t.node, i)
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			d.ErrorAt(line, col, "%s: ${{ is not closed: write ${{ matrix.KEY }}", t.key)
			return
		}
		off = i + j + 2
		expr := strings.TrimSpace(s[i+3 : i+j])
		key, isMatrix := strings.CutPrefix(expr, "matrix.")
		switch {
		case !isMatrix:
			hint := ""
			if name, ok := strings.CutPrefix(expr, "secrets."); ok {
				hint = fmt.Sprintf("; a secret listed under secrets is the environment variable $%s", name)
			} else if name, ok := strings.CutPrefix(expr, "env."); ok {
				hint = fmt.Sprintf("; use the environment variable $%s", name)
			}
			d.ErrorAt(line, col, "%s: unknown expression ${{ %s }}: only ${{ matrix.KEY }} is replaced%s", t.key, expr, hint)
		case !hasMatrix:
			d.ErrorAt(line, col, "%s: ${{ matrix.%s }} is used, but %s has no matrix", t.key, key, step)
		case !matrixOK:
			// The matrix has its own errors; its keys may be missing.
		case mx[key] == nil:
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range mx {
					if !yield(k) {
						return
					}
				}
			})
			if m := suggest(key, keys); m != "" {
				d.ErrorAt(line, col, "%s: unknown matrix key %q: did you mean %q? (the matrix has %s)", t.key, key, m, strings.Join(keys, ", "))
			} else {
				d.ErrorAt(line, col, "%s: unknown matrix key %q: the matrix has %s", t.key, key, strings.Join(keys, ", "))
			}
		}
	}
}

// locate returns the position of byte i of a scalar's value in the file.
// It is exact for the usual cases (plain and quoted strings on one line,
// literal blocks) and falls back to the scalar's start. An expression
// written in an anchor is located there.
func (d *decoder) locate(n *yaml.Node, i int) (line, col int) {
	r := yamlfile.Resolve(n)
	v := r.Value
	switch {
	case r.Style&yaml.LiteralStyle != 0:
		line = r.Line + 1 + strings.Count(v[:i], "\n")
	case strings.Contains(v[:i], "\n"):
		return r.Line, r.Column
	default:
		line = r.Line
	}
	if line < 1 || line > len(d.lines) {
		return r.Line, r.Column
	}
	want := v[i:]
	if k := strings.IndexByte(want, '\n'); k >= 0 {
		want = want[:k]
	}
	src := strings.TrimSuffix(d.lines[line-1], "\r")
	start := 0
	if line == r.Line {
		start = byteOffset(src, r.Column-1)
	}
	if k := strings.Index(src[start:], want); k >= 0 {
		return line, utf8.RuneCountInString(src[:start+k]) + 1
	}
	return r.Line, r.Column
}

// byteOffset returns the byte offset of the rune at index runes in s.
func byteOffset(s string, runes int) int {
	for i := range s {
		if runes == 0 {
			return i
		}
		runes--
	}
	return len(s)
}
