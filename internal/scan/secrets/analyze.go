package secrets

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The engine runs a rule's regular expression only near the rule's keyword
// hits. Whether that finds every match the expression would find over the
// whole file depends on the expression, so each one is analysed once, when
// the rules are built, from its syntax tree:
//
//   - impliesKeyword: every match contains one of the rule's keywords. When
//     this cannot be shown (a keyword names the service but the token does
//     not contain it), the rule runs over the whole of any file that
//     contains one of its keywords, as gitleaks does per fragment.
//   - startsWithKeyword: every match begins with a keyword, so the rule is
//     tried anchored at each hit.
//   - reach: how far a match can extend before and after a keyword hit, and
//     whether it can cross a newline on that side; it sizes the window of
//     lines the expression runs over.
//   - prefixSets: the byte sets the first bytes of any match belong to, a
//     cheap necessary test applied before the regexp engine is called.

// maxLits bounds the finite literal sets built while analysing.
const maxLits = 256

// unbounded marks a length with no upper bound.
const unbounded = -1

// lits returns the set of strings, lowercased, that re can match, if that
// set is small and finite.
func lits(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary,
		syntax.OpNoWordBoundary:
		return []string{""}, true
	case syntax.OpLiteral:
		return []string{lowerASCII(string(re.Rune))}, true
	case syntax.OpCharClass:
		set := map[string]bool{}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > maxLits {
				return nil, false
			}
			for r := lo; r <= hi; r++ {
				set[lowerASCII(string(r))] = true
				if len(set) > 64 {
					return nil, false
				}
			}
		}
		out := make([]string, 0, len(set))
		for s := range set {
			out = append(out, s)
		}
		return out, true
	case syntax.OpCapture:
		return lits(re.Sub[0])
	case syntax.OpQuest:
		sub, ok := lits(re.Sub[0])
		if !ok {
			return nil, false
		}
		return union(sub, []string{""}), true
	case syntax.OpRepeat:
		if re.Max < 0 || re.Max > 8 {
			return nil, false
		}
		sub, ok := lits(re.Sub[0])
		if !ok {
			return nil, false
		}
		var out []string
		cur := []string{""}
		for n := 0; n <= re.Max; n++ {
			if n >= re.Min {
				out = union(out, cur)
			}
			if cur, ok = product(cur, sub); !ok {
				return nil, false
			}
		}
		return out, len(out) <= maxLits
	case syntax.OpConcat:
		cur := []string{""}
		for _, s := range re.Sub {
			sub, ok := lits(s)
			if !ok {
				return nil, false
			}
			if cur, ok = product(cur, sub); !ok {
				return nil, false
			}
		}
		return cur, true
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			sub, ok := lits(s)
			if !ok {
				return nil, false
			}
			out = union(out, sub)
			if len(out) > maxLits {
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}

func product(a, b []string) ([]string, bool) {
	if len(a)*len(b) > maxLits {
		return nil, false
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out, true
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// runs splits a concatenation into maximal runs of sub-expressions with
// finite literal sets (merged into one set per run) and the other
// sub-expressions, in order. Each element has either lits or node set.
type runElem struct {
	lits  []string
	node  *syntax.Regexp
	first int // index of the first sub-expression in the element
	last  int // index of the last sub-expression in the element
}

func runs(subs []*syntax.Regexp) []runElem {
	var out []runElem
	var cur []string
	start := -1
	flush := func(end int) {
		if start >= 0 {
			out = append(out, runElem{lits: cur, first: start, last: end})
		}
		cur, start = nil, -1
	}
	for i, s := range subs {
		l, ok := lits(s)
		if ok {
			if start < 0 {
				cur, start = []string{""}, i
			}
			if p, ok := product(cur, l); ok {
				cur = p
				continue
			}
			// Too many combinations: close the run and start anew here.
			flush(i - 1)
			cur, start = l, i
			continue
		}
		flush(i - 1)
		out = append(out, runElem{node: s, first: i, last: i})
	}
	flush(len(subs) - 1)
	return out
}

func allContain(ss []string, kws []string) bool {
	if len(ss) == 0 {
		return false
	}
	for _, s := range ss {
		if !containsAny(s, kws) {
			return false
		}
	}
	return true
}

func containsAny(s string, kws []string) bool {
	for _, k := range kws {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, kws []string) bool {
	for _, k := range kws {
		if strings.HasPrefix(s, k) {
			return true
		}
	}
	return false
}

// prefixLits returns a finite set of strings, lowercased, one of which
// every match of re begins with (a string may be the whole match).
func prefixLits(re *syntax.Regexp) ([]string, bool) {
	if l, ok := lits(re); ok {
		return l, true
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return prefixLits(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return prefixLits(re.Sub[0])
		}
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			sub, ok := prefixLits(s)
			if !ok {
				return nil, false
			}
			if out = union(out, sub); len(out) > maxLits {
				return nil, false
			}
		}
		return out, true
	case syntax.OpConcat:
		rs := runs(re.Sub)
		if len(rs) == 0 {
			return nil, false
		}
		if rs[0].node != nil {
			return prefixLits(rs[0].node)
		}
		l, _ := extendRun(rs, 0)
		return l, true
	}
	return nil, false
}

// extendRun returns the literal run rs[i] followed by the prefixes of the
// element after it, when they are known: a keyword may straddle the two
// ("xoxp" then "-" in "xox[pe](?:-[0-9]{10,13}){3}"). extended reports
// whether the next element was drawn in.
func extendRun(rs []runElem, i int) (lits []string, extended bool) {
	run := rs[i].lits
	if i+1 < len(rs) && rs[i+1].node != nil {
		if next, ok := prefixLits(rs[i+1].node); ok {
			if p, ok := product(run, next); ok {
				return p, true
			}
		}
	}
	return run, false
}

// keywordSpan returns the indexes of the first and last sub-expressions of
// the element i of a concatenation a keyword can lie in.
func keywordSpan(rs []runElem, i int) (first, last int) {
	e := rs[i]
	if e.node == nil {
		if _, ext := extendRun(rs, i); ext {
			return e.first, rs[i+1].last
		}
	}
	return e.first, e.last
}

// zeroWidth reports whether a literal run matches only the empty string
// (\b, ^ and the like).
func zeroWidth(e runElem) bool {
	if e.node != nil {
		return false
	}
	for _, s := range e.lits {
		if s != "" {
			return false
		}
	}
	return true
}

// impliesKeyword reports whether every match of re contains one of kws
// (lowercase), compared case-insensitively.
func impliesKeyword(re *syntax.Regexp, kws []string) bool {
	if l, ok := lits(re); ok {
		return allContain(l, kws)
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return impliesKeyword(re.Sub[0], kws)
	case syntax.OpRepeat:
		return re.Min >= 1 && impliesKeyword(re.Sub[0], kws)
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !impliesKeyword(s, kws) {
				return false
			}
		}
		return true
	case syntax.OpConcat:
		rs := runs(re.Sub)
		for i := range rs {
			if elemImplies(rs, i, kws) {
				return true
			}
		}
	}
	return false
}

// elemImplies reports whether every match of element i of a
// concatenation (with what follows it) contains a keyword.
func elemImplies(rs []runElem, i int, kws []string) bool {
	if rs[i].node != nil {
		return impliesKeyword(rs[i].node, kws)
	}
	l, _ := extendRun(rs, i)
	return allContain(l, kws)
}

// startsWithKeyword reports whether every match of re begins with one of
// kws (lowercase), compared case-insensitively.
func startsWithKeyword(re *syntax.Regexp, kws []string) bool {
	if l, ok := lits(re); ok {
		for _, s := range l {
			if !hasAnyPrefix(s, kws) {
				return false
			}
		}
		return len(l) > 0
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return startsWithKeyword(re.Sub[0], kws)
	case syntax.OpRepeat:
		return re.Min >= 1 && startsWithKeyword(re.Sub[0], kws)
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !startsWithKeyword(s, kws) {
				return false
			}
		}
		return true
	case syntax.OpConcat:
		rs := runs(re.Sub)
		for i, e := range rs {
			if zeroWidth(e) {
				continue // \b and ^ do not move the start
			}
			if e.node != nil {
				return startsWithKeyword(e.node, kws)
			}
			l, _ := extendRun(rs, i)
			for _, s := range l {
				if !hasAnyPrefix(s, kws) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// extent is how far a match may reach on one side of a keyword hit: in
// bytes and in newlines crossed, each possibly unbounded.
type extent struct {
	max   int // bytes
	lines int // newlines
}

func addBound(a, b int) int {
	if a == unbounded || b == unbounded {
		return unbounded
	}
	return a + b
}

func maxBound(a, b int) int {
	if a == unbounded || b == unbounded {
		return unbounded
	}
	return max(a, b)
}

func (e extent) add(f extent) extent {
	return extent{max: addBound(e.max, f.max), lines: addBound(e.lines, f.lines)}
}

func (e extent) worst(f extent) extent {
	return extent{max: maxBound(e.max, f.max), lines: maxBound(e.lines, f.lines)}
}

// whole is the extent of a whole expression.
func whole(re *syntax.Regexp) extent { return extent{max: maxLen(re), lines: maxNewlines(re)} }

// reach returns how far a match of re can extend before and after the
// start of a keyword occurrence it contains. It assumes impliesKeyword.
// The part of the match before the keyword lies within "before", the part
// from the keyword on within "after".
func reach(re *syntax.Regexp, kws []string) (before, after extent) {
	switch re.Op {
	case syntax.OpCapture:
		return reach(re.Sub[0], kws)
	case syntax.OpAlternate:
		var b, a extent
		for i, s := range re.Sub {
			sb, sa := reach(s, kws)
			if i == 0 {
				b, a = sb, sa
				continue
			}
			b, a = b.worst(sb), a.worst(sa)
		}
		return b, a
	case syntax.OpConcat:
		rs := runs(re.Sub)
		for i := range rs {
			if !elemImplies(rs, i, kws) {
				continue
			}
			first, last := keywordSpan(rs, i)
			pre := concatExtent(re.Sub[:first])
			post := concatExtent(re.Sub[last+1:])
			mid := concatExtent(re.Sub[first : last+1])
			return pre.add(mid), mid.add(post)
		}
	}
	w := whole(re)
	return w, w
}

func concatExtent(subs []*syntax.Regexp) extent {
	out := extent{}
	for _, s := range subs {
		out = out.add(whole(s))
	}
	return out
}

// maxLen returns the longest match of re in bytes, or unbounded.
func maxLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += maxRuneLen(r, re.Flags&syntax.FoldCase != 0)
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		return utf8.RuneLen(clampRune(re.Rune[len(re.Rune)-1]))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		if maxLen(re.Sub[0]) == 0 {
			return 0
		}
		return unbounded
	case syntax.OpRepeat:
		n := maxLen(re.Sub[0])
		if n == unbounded || (re.Max == -1 && n > 0) {
			return unbounded
		}
		if re.Max == -1 {
			return 0
		}
		return n * re.Max
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			n := maxLen(s)
			if n == unbounded {
				return unbounded
			}
			total += n
		}
		return total
	case syntax.OpAlternate:
		best := 0
		for _, s := range re.Sub {
			n := maxLen(s)
			if n == unbounded {
				return unbounded
			}
			best = max(best, n)
		}
		return best
	}
	return 0
}

func clampRune(r rune) rune {
	if r > unicode.MaxRune {
		return unicode.MaxRune
	}
	return r
}

// maxRuneLen is the longest UTF-8 encoding of r, or of any rune r folds to
// under case folding (k folds to the three-byte Kelvin sign).
func maxRuneLen(r rune, fold bool) int {
	n := utf8.RuneLen(r)
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			n = max(n, utf8.RuneLen(f))
		}
	}
	return max(n, 1)
}

// maxNewlines returns how many newlines a match of re can contain, or
// unbounded.
func maxNewlines(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if r == '\n' {
				n++
			}
		}
		return n
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return 1
			}
		}
		return 0
	case syntax.OpAnyChar:
		return 1
	case syntax.OpCapture, syntax.OpQuest:
		return maxNewlines(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		if maxNewlines(re.Sub[0]) == 0 {
			return 0
		}
		return unbounded
	case syntax.OpRepeat:
		n := maxNewlines(re.Sub[0])
		if n == 0 {
			return 0
		}
		if n == unbounded || re.Max == -1 {
			return unbounded
		}
		return n * re.Max
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			total = addBound(total, maxNewlines(s))
		}
		return total
	case syntax.OpAlternate:
		best := 0
		for _, s := range re.Sub {
			best = maxBound(best, maxNewlines(s))
		}
		return best
	}
	return 0
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) addHigh()        { s[2], s[3] = ^uint64(0), ^uint64(0) }
func (s *byteSet) union(t byteSet) {
	s[0], s[1], s[2], s[3] = s[0]|t[0], s[1]|t[1], s[2]|t[2], s[3]|t[3]
}
func (s *byteSet) addRange(lo, hi int) {
	for b := lo; b <= hi && b < 256; b++ {
		s.add(byte(b))
	}
}

// maxPrefix bounds the number of positions prefixSets describes.
const maxPrefix = 32

// prefixSets returns, for the first bytes of any match of re, the set each
// byte belongs to. complete reports that re always matches exactly
// len(sets) bytes, so that what follows re may be appended.
func prefixSets(re *syntax.Regexp) (sets []byteSet, complete bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary,
		syntax.OpNoWordBoundary:
		return nil, true
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			var s byteSet
			if r >= utf8.RuneSelf {
				return sets, false
			}
			s.add(byte(r))
			if re.Flags&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					if f >= utf8.RuneSelf {
						// A multi-byte fold (the Kelvin sign for k)
						// shifts what follows: stop after this byte.
						s.addHigh()
						return append(sets, s), false
					}
					s.add(byte(f))
				}
			}
			sets = append(sets, s)
		}
		return sets, true
	case syntax.OpCharClass:
		var s byteSet
		multi := false
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo < utf8.RuneSelf {
				s.addRange(int(lo), int(min(hi, utf8.RuneSelf-1)))
			}
			if hi >= utf8.RuneSelf {
				multi = true
			}
		}
		if multi {
			s.addHigh()
			return []byteSet{s}, false
		}
		return []byteSet{s}, true
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		var s byteSet
		s.addRange(0, 255)
		return []byteSet{s}, false
	case syntax.OpCapture:
		return prefixSets(re.Sub[0])
	case syntax.OpPlus:
		sub, _ := prefixSets(re.Sub[0])
		return sub, false
	case syntax.OpRepeat:
		sub, ok := prefixSets(re.Sub[0])
		if !ok {
			if re.Min == 0 {
				return nil, false
			}
			return sub, false
		}
		for n := 0; n < re.Min && len(sets) < maxPrefix; n++ {
			sets = append(sets, sub...)
		}
		return capSets(sets, re.Min == re.Max)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			sub, ok := prefixSets(s)
			sets = append(sets, sub...)
			if !ok || len(sets) >= maxPrefix {
				return capSets(sets, false)
			}
		}
		return sets, true
	case syntax.OpAlternate:
		complete = true
		for i, s := range re.Sub {
			sub, ok := prefixSets(s)
			if i == 0 {
				sets = append([]byteSet(nil), sub...)
				complete = ok
				continue
			}
			if !ok || len(sub) != len(sets) {
				complete = false
			}
			if len(sub) < len(sets) {
				sets = sets[:len(sub)]
			}
			for j := range sets {
				sets[j].union(sub[j])
			}
		}
		return sets, complete
	}
	return nil, false
}

func capSets(sets []byteSet, complete bool) ([]byteSet, bool) {
	if len(sets) > maxPrefix {
		return sets[:maxPrefix], false
	}
	return sets, complete
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// minLen returns the shortest match of re in bytes.
func minLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune) // runes are at least a byte each
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minLen(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * minLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += minLen(s)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, s := range re.Sub {
			if m := minLen(s); n < 0 || m < n {
				n = m
			}
		}
		return max(n, 0)
	}
	return 0
}

// follow describes a byte that must come soon after a keyword hit for the
// hit to be part of a match: one of set, within dist characters after the
// hit's first byte (an assignment operator after a variable name, say).
type follow struct {
	set  byteSet
	dist int
}

// followOf derives a follow check for a rule whose matches contain a
// keyword, or returns false when there is none to be had.
func followOf(re *syntax.Regexp, kws []string) (follow, bool) {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		return follow{}, false
	}
	rs := runs(re.Sub)
	for i := range rs {
		if !elemImplies(rs, i, kws) {
			continue
		}
		from, last := keywordSpan(rs, i)
		k := i + 1
		if last > rs[i].last {
			k++ // the keyword may reach into the next element
		}
		for ; k < len(rs); k++ {
			e := rs[k]
			sub := re.Sub[e.first : e.last+1]
			if concatMin(sub) == 0 {
				continue
			}
			// The first sub-expression of the element that must match
			// a byte gives the set.
			for j, s := range sub {
				if minLen(s) == 0 {
					continue
				}
				sets, _ := prefixSets(s)
				if len(sets) == 0 {
					return follow{}, false
				}
				d := 0
				for _, s := range re.Sub[from : e.first+j] {
					d = addBound(d, maxRunes(s))
				}
				if d == unbounded {
					return follow{}, false
				}
				return follow{set: sets[0], dist: d}, true
			}
		}
		return follow{}, false
	}
	return follow{}, false
}

func concatMin(subs []*syntax.Regexp) int {
	n := 0
	for _, s := range subs {
		n += minLen(s)
	}
	return n
}

// ok reports whether data, with a keyword hit at p, has a byte of the set
// in reach. Reach is counted in characters: under (?i), k and s also match
// three- and two-byte runes.
func (f *follow) ok(data []byte, p int) bool {
	i := p
	for n := 0; n < f.dist; n++ {
		if i >= len(data) {
			return false
		}
		if data[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRune(data[i:])
			i += size
		}
		if i < len(data) && f.set.has(data[i]) {
			return true
		}
	}
	return false
}

// maxRunes returns the most characters a match of re can have, or
// unbounded.
func maxRunes(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpQuest:
		return maxRunes(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		if maxRunes(re.Sub[0]) == 0 {
			return 0
		}
		return unbounded
	case syntax.OpRepeat:
		n := maxRunes(re.Sub[0])
		if n == 0 {
			return 0
		}
		if n == unbounded || re.Max == -1 {
			return unbounded
		}
		return n * re.Max
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			total = addBound(total, maxRunes(s))
		}
		return total
	case syntax.OpAlternate:
		best := 0
		for _, s := range re.Sub {
			best = maxBound(best, maxRunes(s))
		}
		return best
	}
	return 0
}

// tail is, for a rule whose matches contain a keyword element, the part
// of the expression from that element on, and where keywords fall within
// the element: a match needs the tail to match at a keyword hit less one
// of the offsets.
type tail struct {
	expr    string
	offsets []int
}

// tailOf derives the tail of re, or returns false.
func tailOf(re *syntax.Regexp, kws []string) (tail, bool) {
	nodes, offs, ok := tailNodes(re, kws)
	if !ok {
		return tail{}, false
	}
	t := tail{expr: (&syntax.Regexp{Op: syntax.OpConcat, Sub: nodes}).String()}
	for o := range offs {
		t.offsets = append(t.offsets, o)
	}
	slices.Sort(t.offsets)
	return t, true
}

// tailNodes returns the sequence of expressions that make up the tail of
// re and the keyword offsets in its first element. The keyword element
// may lie within a group: the tail then continues with what follows the
// group.
func tailNodes(re *syntax.Regexp, kws []string) ([]*syntax.Regexp, map[int]bool, bool) {
	switch re.Op {
	case syntax.OpCapture:
		return tailNodes(re.Sub[0], kws)
	case syntax.OpConcat:
	default:
		return nil, nil, false
	}
	rs := runs(re.Sub)
	for i, e := range rs {
		if !elemImplies(rs, i, kws) {
			continue
		}
		rest := re.Sub[e.last+1:]
		if e.node != nil {
			inner, offs, ok := tailNodes(e.node, kws)
			if !ok {
				return nil, nil, false
			}
			return append(append([]*syntax.Regexp(nil), inner...), rest...), offs, true
		}
		offs := map[int]bool{}
		ls, _ := extendRun(rs, i)
		for _, l := range ls {
			for _, k := range kws {
				for from := 0; ; {
					j := strings.Index(l[from:], k)
					if j < 0 {
						break
					}
					offs[from+j] = true
					from += j + 1
				}
			}
		}
		return append([]*syntax.Regexp(nil), re.Sub[e.first:]...), offs, true
	}
	return nil, nil, false
}

// necessaryLits returns strings, lowercased, one of which every match of re
// contains (compared ignoring case), preferring long ones; false if there
// are none to be had.
func necessaryLits(re *syntax.Regexp) ([]string, bool) {
	if l, ok := lits(re); ok {
		return l, !slices.Contains(l, "")
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return necessaryLits(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return necessaryLits(re.Sub[0])
		}
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			sub, ok := necessaryLits(s)
			if !ok {
				return nil, false
			}
			out = union(out, sub)
		}
		return out, true
	case syntax.OpConcat:
		var best []string
		bestLen := 0
		rs := runs(re.Sub)
		for i, e := range rs {
			var cand []string
			if e.node != nil {
				c, ok := necessaryLits(e.node)
				if !ok {
					continue
				}
				cand = c
			} else {
				cand, _ = extendRun(rs, i)
			}
			if n := shortest(cand); n > bestLen {
				best, bestLen = cand, n
			}
		}
		return best, bestLen > 0
	}
	return nil, false
}

func shortest(ss []string) int {
	if len(ss) == 0 {
		return 0
	}
	n := len(ss[0])
	for _, s := range ss[1:] {
		n = min(n, len(s))
	}
	return n
}
