package testcode

import (
	"sort"
	"strings"
)

// This file holds the text machinery the JavaScript and Python checks
// share: a source with its comments blanked and its strings marked, the
// calls in it, and the splitting of argument lists and expressions.

// script is a JavaScript or Python file prepared for pattern matching.
type script struct {
	code  string // the source with comments blanked; same length, newlines kept
	inStr []bool // whether each byte is inside a string, template or regular-expression literal
	lines []int  // offsets where lines start
	// pair maps each bracket outside literals to the one that matches
	// it (an opener to its closer and back), or -1; commas lists, for an
	// opener, the commas directly inside it. Computed once, they keep the
	// reading of calls linear.
	pair   []int32
	commas map[int][]int
}

func newScript(code []byte, inStr []bool) *script {
	s := &script{code: string(code), inStr: inStr, lines: []int{0}, pair: make([]int32, len(code)), commas: map[int][]int{}}
	var stack []int
	for i, c := range code {
		s.pair[i] = -1
		if c == '\n' {
			s.lines = append(s.lines, i+1)
		}
		if inStr[i] {
			continue
		}
		switch c {
		case '(', '[', '{':
			stack = append(stack, i)
		case ')', ']', '}':
			if n := len(stack); n > 0 {
				o := stack[n-1]
				stack = stack[:n-1]
				s.pair[o], s.pair[i] = int32(i), int32(o)
			}
		case ',':
			if n := len(stack); n > 0 {
				s.commas[stack[n-1]] = append(s.commas[stack[n-1]], i)
			}
		}
	}
	return s
}

// pos returns the 1-based line and column of an offset.
func (s *script) pos(off int) (line, col int) {
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off }) - 1
	return i + 1, off - s.lines[i] + 1
}

// blank replaces b[from:to] with spaces, keeping newlines.
func blank(b []byte, from, to int) {
	for i := from; i < to && i < len(b); i++ {
		if b[i] != '\n' {
			b[i] = ' '
		}
	}
}

// call is one call expression found in a script.
type call struct {
	callee   string   // the dotted name called, spaces removed: fs.promises.writeFile
	afterDot bool     // the name follows a '.', as in f(x).get(…)
	recv     string   // for afterDot, the receiver expression's text
	isNew    bool     // preceded by new
	method   string   // the last name of the callee
	object   string   // for a method call, the receiver's text: a in a.b.c(…), f(x) in f(x).get(…)
	args     []string // argument texts, trimmed
	start    int      // offset of the callee
	end      int      // offset after the closing parenthesis
}

var callRE = lazyRE(`[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*\s*\(`)

// maxEvalSteps bounds the work of evaluating one argument: variables that
// refer to each other many times over must not make it exponential.
const maxEvalSteps = 4096

// calls returns the calls in the script, in source order.
func (s *script) calls() []call {
	var out []call
	for _, m := range callRE().FindAllStringIndex(s.code, -1) {
		if s.inStr[m[0]] {
			continue
		}
		c := call{start: m[0]}
		c.callee = strings.Join(strings.Fields(strings.TrimSuffix(s.code[m[0]:m[1]], "(")), "")
		j := m[0] - 1
		for j >= 0 && (s.code[j] == ' ' || s.code[j] == '\t' || s.code[j] == '\n' || s.code[j] == '\r') {
			j--
		}
		if j >= 0 && s.code[j] == '.' && !s.inStr[j] {
			c.afterDot = true
			c.recv = s.receiver(j)
		}
		if j >= 2 && s.code[j-2:j+1] == "new" && (j < 3 || !isIdentByte(s.code[j-3])) {
			c.isNew = true
		}
		c.method = c.callee
		if i := strings.LastIndexByte(c.callee, '.'); i >= 0 {
			c.method = c.callee[i+1:]
			c.object = c.callee[:i]
		}
		if c.afterDot {
			c.object = strings.TrimSuffix(c.recv+"."+c.object, ".")
		}
		c.args, c.end = s.args(m[1] - 1)
		out = append(out, c)
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// args splits the argument list that opens at the parenthesis at open.
// An unclosed list has no arguments.
func (s *script) args(open int) ([]string, int) {
	end := int(s.pair[open])
	if end < 0 {
		return nil, open + 1
	}
	var out []string
	start := open + 1
	for _, comma := range s.commas[open] {
		out = append(out, strings.TrimSpace(s.code[start:comma]))
		start = comma + 1
	}
	if a := strings.TrimSpace(s.code[start:end]); a != "" || len(out) > 0 {
		out = append(out, a)
	}
	return out, end + 1
}

// receiver returns the text of the expression before the '.' at dot:
// a dotted name, with calls and index expressions, possibly in
// parentheses.
func (s *script) receiver(dot int) string {
	i := dot - 1
	for steps := 0; steps < 64 && i >= 0; steps++ {
		for i >= 0 && (s.code[i] == ' ' || s.code[i] == '\t' || s.code[i] == '\n' || s.code[i] == '\r') {
			i--
		}
		if i < 0 {
			break
		}
		if c := s.code[i]; (c == ')' || c == ']') && !s.inStr[i] {
			o := int(s.pair[i])
			if o < 0 {
				break
			}
			i = o - 1
		}
		for i >= 0 && isIdentByte(s.code[i]) {
			i--
		}
		j := i
		for j >= 0 && (s.code[j] == ' ' || s.code[j] == '\t') {
			j--
		}
		if j >= 0 && s.code[j] == '.' && !s.inStr[j] {
			i = j - 1
			continue
		}
		break
	}
	return strings.TrimSpace(s.code[max(i+1, 0):dot])
}

// splitTop splits an expression at the separator sep where it is outside
// brackets and string literals.
func splitTop(e string, sep byte) []string {
	var out []string
	depth := 0
	start := 0
	var quote byte
	for i := 0; i < len(e); i++ {
		c := e[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"', '`':
			quote = c
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, strings.TrimSpace(e[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(e[start:]))
}

// unwrapParens removes parentheses around the whole of e.
func unwrapParens(e string) string {
	for len(e) >= 2 && e[0] == '(' && closing(e, 0) == len(e)-1 {
		e = strings.TrimSpace(e[1 : len(e)-1])
	}
	return e
}

// closing returns the index of the bracket that closes the one at open,
// or -1.
func closing(e string, open int) int {
	depth := 0
	var quote byte
	for i := open; i < len(e); i++ {
		c := e[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"', '`':
			quote = c
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitCall splits an expression that is a call, "callee(args)", into
// the text of the callee (a dotted name, or a receiver expression and a
// method: Path.home().joinpath) and its arguments.
func splitCall(e string) (callee string, args []string, ok bool) {
	if !strings.HasSuffix(e, ")") {
		return "", nil, false
	}
	var quote byte
	for i := 0; i < len(e); i++ {
		c := e[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"', '`':
			quote = c
		case '[', '{':
			end := closing(e, i)
			if end < 0 {
				return "", nil, false
			}
			i = end
		case '(':
			end := closing(e, i)
			if end < 0 {
				return "", nil, false
			}
			if end == len(e)-1 {
				callee = strings.Join(strings.Fields(e[:i]), "")
				if inner := strings.TrimSpace(e[i+1 : end]); inner != "" {
					args = splitTop(inner, ',')
				}
				return callee, args, callee != ""
			}
			i = end
		}
	}
	return "", nil, false
}

// splitMethod splits a callee into receiver and method name at its last
// dot; ok is false if there is none.
func splitMethod(callee string) (recv, method string, ok bool) {
	i := strings.LastIndexByte(callee, '.')
	if i <= 0 || !isIdent(callee[i+1:]) {
		return "", "", false
	}
	return callee[:i], callee[i+1:], true
}

// unescapeQuoted decodes the body of a quoted string for the escapes
// that matter to paths and URLs.
func unescapeQuoted(body string, raw bool) string {
	if raw || !strings.Contains(body, "\\") {
		return body
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
			switch body[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(body[i])
			}
			continue
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

// quotedString reads a whole-expression string literal in ' or " quotes.
func quotedString(e string) (string, bool) {
	if len(e) < 2 {
		return "", false
	}
	q := e[0]
	if (q != '\'' && q != '"') || e[len(e)-1] != q {
		return "", false
	}
	body := e[1 : len(e)-1]
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' {
			i++
		} else if body[i] == q {
			return "", false
		}
	}
	return unescapeQuoted(body, false), true
}

// assignment is a variable's name and the text of a value assigned to it.
type assignments map[string][]string

// value returns the single expression assigned to name, if there is one.
func (a assignments) value(name string) (string, bool) {
	vs := a[name]
	if len(vs) == 0 {
		return "", false
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return "", false
		}
	}
	return vs[0], true
}

// maxExprLen bounds how far the value of an assignment is read.
const maxExprLen = 1 << 10

// exprEnd returns the end of the expression that starts at i: the first
// ;, newline or (with stopAtComma) comma outside brackets and strings, or
// the end of the enclosing bracket.
func (s *script) exprEnd(i int, stopAtComma bool) int {
	limit := min(len(s.code), i+maxExprLen)
	for i < limit {
		if s.inStr[i] {
			i++
			continue
		}
		switch c := s.code[i]; c {
		case '(', '[', '{':
			if s.pair[i] < 0 {
				return i
			}
			i = int(s.pair[i]) + 1
			continue
		case ')', ']', '}', ';', '\n':
			return i
		case ',':
			if stopAtComma {
				return i
			}
		}
		i++
	}
	return min(i, len(s.code))
}
