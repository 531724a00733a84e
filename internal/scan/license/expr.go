package license

import (
	"strings"
)

// expr is a parsed SPDX licence expression: a leaf licence ID, or an AND
// or OR of sub-expressions. "WITH exception" is kept on the leaf's text
// and ignored when matching.
type expr struct {
	op   string // "", "AND" or "OR"
	id   string // leaf: the licence ID
	args []*expr
}

// parseExpr reads an SPDX expression loosely: operators are
// case-insensitive, parentheses group, and whatever is not an operator or
// a parenthesis is a licence ID. It never fails; a malformed expression
// yields its best reading.
func parseExpr(s string) *expr {
	p := &exprParser{toks: tokenize(s)}
	e := p.or()
	if e == nil {
		return &expr{id: NoAssertion}
	}
	return e
}

func tokenize(s string) []string {
	s = strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s)
	return strings.Fields(s)
}

type exprParser struct {
	toks []string
	pos  int
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) or() *expr {
	return p.binary("OR", p.and)
}

func (p *exprParser) and() *expr {
	return p.binary("AND", p.atom)
}

func (p *exprParser) binary(op string, next func() *expr) *expr {
	first := next()
	args := []*expr{}
	if first != nil {
		args = append(args, first)
	}
	for strings.EqualFold(p.peek(), op) {
		p.pos++
		if e := next(); e != nil {
			args = append(args, e)
		}
	}
	switch len(args) {
	case 0:
		return nil
	case 1:
		return args[0]
	}
	return &expr{op: op, args: args}
}

func (p *exprParser) atom() *expr {
	switch t := p.peek(); {
	case t == "":
		return nil
	case t == "(":
		p.pos++
		e := p.or()
		if p.peek() == ")" {
			p.pos++
		}
		return e
	case t == ")" || strings.EqualFold(t, "AND") || strings.EqualFold(t, "OR"):
		p.pos++ // stray token: skip it
		return p.atom()
	default:
		p.pos++
		if strings.EqualFold(p.peek(), "WITH") {
			p.pos += 2 // the exception does not change the licence
		}
		return &expr{id: t}
	}
}

// any reports whether the expression can be satisfied by licences that
// match: an OR needs one side, an AND both.
func (e *expr) any(match func(id string) bool) bool {
	switch e.op {
	case "OR":
		for _, a := range e.args {
			if a.any(match) {
				return true
			}
		}
		return false
	case "AND":
		for _, a := range e.args {
			if !a.any(match) {
				return false
			}
		}
		return true
	}
	return match(e.id)
}

// forced reports whether every way of satisfying the expression involves
// a licence that matches: an OR when all its sides are forced, an AND
// when one is.
func (e *expr) forced(match func(id string) bool) bool {
	switch e.op {
	case "OR":
		for _, a := range e.args {
			if !a.forced(match) {
				return false
			}
		}
		return true
	case "AND":
		for _, a := range e.args {
			if a.forced(match) {
				return true
			}
		}
		return false
	}
	return match(e.id)
}

// baseID folds an SPDX ID to the form the allow and deny lists compare:
// upper case, without the -only, -or-later and + suffixes.
func baseID(id string) string {
	id = strings.ToUpper(strings.TrimSpace(id))
	for _, suf := range []string{"-OR-LATER", "-ONLY", "+"} {
		id = strings.TrimSuffix(id, suf)
	}
	return id
}

// idSet is a set of base IDs, from a comma-separated list.
type idSet map[string]bool

func parseIDList(s string) idSet {
	set := idSet{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		set[baseID(f)] = true
	}
	return set
}

func (s idSet) has(id string) bool { return s[baseID(id)] }
