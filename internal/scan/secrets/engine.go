package secrets

import (
	"bytes"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/config"
)

// inlineAllow marks a line whose secrets are accepted: gitleaks' marker,
// honoured so that repositories that already use it keep working, and
// Gantry's.
var inlineAllow = [][]byte{[]byte("gitleaks:allow"), []byte("gantry:allow")}

// hit is one place a rule reported a secret in a text: offsets of the
// match and of the secret within it.
type hit struct {
	rule                   int
	start, end             int // the match
	secretStart, secretEnd int
}

// detector finds secrets in texts with a rule set. It holds buffers
// reused from one text to the next, so each worker has its own.
type detector struct {
	rs    *ruleSet
	allow *projectAllowlist
	// ignoreInline disables the gitleaks:allow / gantry:allow markers.
	ignoreInline bool

	kwHits [][]int32 // per rule: offsets of its keyword hits
	active []int     // rules with keyword hits in this text
	spans  [][2]int  // scratch: match spans of one rule
	wins   [][2]int  // scratch: windows of one rule
	out    []hit
}

func newDetector(rs *ruleSet, allow *projectAllowlist, ignoreInline bool) *detector {
	return &detector{
		rs:           rs,
		allow:        allow,
		ignoreInline: ignoreInline,
		kwHits:       make([][]int32, len(rs.rules)),
	}
}

// text is what one detection looks at: a file's content, or the lines a
// commit added to a file.
type text struct {
	path   string
	commit string
	data   []byte
}

// detect returns the secrets in t, in the order of the rules and then of
// their offsets. The returned slice is reused by the next call.
func (d *detector) detect(t *text) []hit {
	rs := d.rs
	d.out = d.out[:0]
	for _, r := range d.active {
		d.kwHits[r] = d.kwHits[r][:0]
	}
	d.active = d.active[:0]
	data := t.data
	rs.matcher.scan(data, func(kw, start int) {
		for _, r := range rs.kwRules[kw] {
			if len(d.kwHits[r]) == 0 {
				d.active = append(d.active, r)
			}
			d.kwHits[r] = append(d.kwHits[r], int32(start))
		}
	})
	d.active = append(d.active, rs.always...)
	slices.Sort(d.active)
	for _, ri := range d.active {
		r := rs.rules[ri]
		if r.path != nil && !r.path.MatchString(t.path) {
			continue
		}
		if pathOrCommitAllowed(r.allowlists, t.path, t.commit) {
			continue
		}
		d.spans = d.spans[:0]
		switch r.mode {
		case modeAnchored:
			d.findAnchored(r, data, d.kwHits[ri])
		case modeWindow:
			d.findWindowed(r, data, d.kwHits[ri])
		case modeGated, modeAlways:
			for _, m := range r.re.FindAllIndex(data, -1) {
				d.spans = append(d.spans, [2]int{m[0], m[1]})
			}
		}
		for _, sp := range d.spans {
			if h, ok := d.check(r, ri, t, sp[0], sp[1]); ok {
				d.out = append(d.out, h)
			}
		}
	}
	return d.out
}

// pathHits returns the hits of the rules that match paths alone: the
// whole text is the secret.
func (d *detector) pathHits(t *text) []hit {
	var out []hit
	for _, ri := range d.rs.pathRules {
		r := d.rs.rules[ri]
		if r.path.MatchString(t.path) && !pathOrCommitAllowed(r.allowlists, t.path, t.commit) {
			out = append(out, hit{rule: ri, end: len(t.data), secretEnd: len(t.data)})
		}
	}
	return out
}

// findAnchored tries r anchored at each keyword hit, skipping hits inside
// the previous match as a search over the whole text would.
func (d *detector) findAnchored(r *rule, data []byte, hits []int32) {
	slices.Sort(hits)
	next := 0 // where the previous match ended
	prev := int32(-1)
	for _, h := range hits {
		if h == prev {
			continue
		}
		prev = h
		p := int(h)
		if p < next || !prefixOK(r.prefix, data[p:]) {
			continue
		}
		end := len(data)
		if r.maxLen != unbounded && p+r.maxLen+1 < end {
			// No match is longer than maxLen: a byte beyond it keeps
			// \b and $ honest at the end.
			end = p + r.maxLen + 1
		}
		if r.after.lines == 0 {
			if i := bytes.IndexByte(data[p:end], '\n'); i >= 0 {
				end = p + i + 1
			}
		}
		var m []int
		if p == 0 {
			m = r.anchored.FindIndex(data[:end])
		} else {
			m = r.anchoredCtx.FindIndex(data[p-1 : end])
			if m != nil {
				m[1]-- // drop the context byte
			}
		}
		if m == nil {
			continue
		}
		e := p + m[1]
		d.spans = append(d.spans, [2]int{p, e})
		next = max(e, p+1)
	}
}

// prefixOK reports whether b can begin a match whose first bytes belong to
// sets.
func prefixOK(sets []byteSet, b []byte) bool {
	if len(b) < len(sets) {
		return false
	}
	for i := range sets {
		if !sets[i].has(b[i]) {
			return false
		}
	}
	return true
}

// findWindowed runs r over the lines around its keyword hits, merged where
// they overlap. A hit counts only if the rest of the expression, from the
// keyword on, matches there (most hits of a common keyword do not); the
// lines searched then run from where a match could start to the end of
// the line where that rest ended.
func (d *detector) findWindowed(r *rule, data []byte, hits []int32) {
	slices.Sort(hits)
	d.wins = d.wins[:0]
	prev := int32(-1)
	for _, h := range hits {
		if h == prev {
			continue
		}
		prev = h
		p := int(h)
		if r.follow != nil && !r.follow.ok(data, p) {
			continue
		}
		start, end := window(data, p, r.before, r.after)
		if r.tail != nil {
			te := tailEnd(r, data, p, end)
			if te < 0 {
				continue
			}
			end = lineEnd(data, max(p, te-1))
		}
		if n := len(d.wins); n > 0 && start <= d.wins[n-1][1] {
			d.wins[n-1][1] = max(d.wins[n-1][1], end)
			continue
		}
		d.wins = append(d.wins, [2]int{start, end})
	}
	for _, w := range d.wins {
		for _, m := range r.re.FindAllIndex(data[w[0]:w[1]], -1) {
			d.spans = append(d.spans, [2]int{w[0] + m[0], w[0] + m[1]})
		}
	}
}

// tailEnd returns the furthest end of a match of r's tail at a keyword hit
// at p, within data[:end], or -1 if there is none.
func tailEnd(r *rule, data []byte, p, end int) int {
	te := -1
	for _, off := range r.tailOffsets {
		q := p - off
		if q < 0 {
			continue
		}
		if q == 0 {
			if m := r.tail.FindIndex(data[:end]); m != nil {
				te = max(te, m[1])
			}
		} else if m := r.tailCtx.FindIndex(data[q-1 : end]); m != nil {
			te = max(te, q-1+m[1])
		}
	}
	return te
}

// window returns the lines around offset p that hold any match reaching
// as far as before and after from p.
func window(data []byte, p int, before, after extent) (start, end int) {
	start = lineStart(data, p)
	for n := 0; (before.lines == unbounded || n < before.lines) && start > 0; n++ {
		if before.max != unbounded && start <= p-before.max {
			break
		}
		start = lineStart(data, start-1)
	}
	end = lineEnd(data, p)
	for n := 0; (after.lines == unbounded || n < after.lines) && end < len(data); n++ {
		if after.max != unbounded && end >= p+after.max {
			break
		}
		end = lineEnd(data, end)
	}
	return start, end
}

// lineStart is the offset of the start of the line holding offset p.
func lineStart(data []byte, p int) int {
	return bytes.LastIndexByte(data[:p], '\n') + 1
}

// lineEnd is the offset just past the newline ending the line holding
// offset p, or len(data).
func lineEnd(data []byte, p int) int {
	if i := bytes.IndexByte(data[p:], '\n'); i >= 0 {
		return p + i + 1
	}
	return len(data)
}

// check applies to a match of r at [start, end) what turns it into a
// finding or not: the secret group, entropy, inline markers and
// allowlists, in gitleaks' order.
func (d *detector) check(r *rule, ri int, t *text, start, end int) (hit, bool) {
	data := t.data
	// A match is trimmed of newlines and its groups are taken from the
	// trimmed text on its own, as gitleaks does.
	for start < end && data[start] == '\n' {
		start++
	}
	for end > start && data[end-1] == '\n' {
		end--
	}
	if start == end {
		return hit{}, false
	}
	match := data[start:end]
	le := len(data) // the end of the match's last line, without its newline
	if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
		le = end + i
	}
	line := data[lineStart(data, start):le]
	if !d.ignoreInline {
		for _, m := range inlineAllow {
			if bytes.Contains(line, m) {
				return hit{}, false
			}
		}
	}
	ss, se := 0, len(match)
	if g := r.re.FindSubmatchIndex(match); len(g) >= 4 {
		if r.secretGroup > 0 {
			if 2*r.secretGroup+1 < len(g) && g[2*r.secretGroup] >= 0 {
				ss, se = g[2*r.secretGroup], g[2*r.secretGroup+1]
			}
		} else {
			for i := 2; i+1 < len(g); i += 2 {
				if g[i] >= 0 && g[i+1] > g[i] {
					ss, se = g[i], g[i+1]
					break
				}
			}
		}
	}
	secret := match[ss:se]
	if r.entropy != 0 && entropy(secret) <= r.entropy {
		return hit{}, false
	}
	if findingAllowed(d.rs.global, secret, match, line, t.path, t.commit) ||
		findingAllowed(r.allowlists, secret, match, line, t.path, t.commit) {
		return hit{}, false
	}
	if d.allow.secretAllowed(secret) {
		return hit{}, false
	}
	if r.accept != nil {
		c := candidate{secret: secret, path: t.path}
		if start+ss > 0 {
			c.before = data[start+ss-1]
		}
		if start+se < len(data) {
			c.next = data[start+se]
		}
		if !r.accept(c) {
			return hit{}, false
		}
	}
	return hit{rule: ri, start: start, end: end, secretStart: start + ss, secretEnd: start + se}, true
}

// entropy is the Shannon entropy of s in bits, counted over its runes and
// divided by its length in bytes, as gitleaks counts it.
func entropy(s []byte) float64 {
	if len(s) == 0 {
		return 0
	}
	inv := 1 / float64(len(s))
	var e float64
	if !hasMultibyte(s) {
		var counts [utf8.RuneSelf]int
		for _, b := range s {
			counts[b]++
		}
		for _, c := range counts {
			if c > 0 {
				f := float64(c) * inv
				e -= f * math.Log2(f)
			}
		}
		return e
	}
	counts := map[rune]int{}
	for _, r := range string(s) {
		counts[r]++
	}
	for _, c := range counts {
		f := float64(c) * inv
		e -= f * math.Log2(f)
	}
	return e
}

func hasMultibyte(s []byte) bool {
	for _, b := range s {
		if b >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// pathOrCommitAllowed reports whether allowlists exempt a whole text by
// its path or commit, as gitleaks decides before running a rule: an "or"
// allowlist by either, an "and" allowlist by all its commit and path
// conditions when it has no content conditions.
func pathOrCommitAllowed(allowlists []*config.Allowlist, path, commit string) bool {
	if path == "" && commit == "" {
		return false
	}
	for _, a := range allowlists {
		commitOK, _ := a.CommitAllowed(commit)
		pathOK := a.PathAllowed(path)
		if a.MatchCondition == config.AllowlistMatchAnd {
			if len(a.Regexes) > 0 || len(a.StopWords) > 0 {
				continue // decided per finding
			}
			if (len(a.Commits) == 0 || commitOK) && (len(a.Paths) == 0 || pathOK) &&
				(len(a.Commits) > 0 || len(a.Paths) > 0) {
				return true
			}
			continue
		}
		if commitOK || pathOK {
			return true
		}
	}
	return false
}

// findingAllowed reports whether allowlists exempt one finding: an "or"
// allowlist by its regexes (on the secret, the match or the line) or its
// stopwords (in the secret), an "and" allowlist by all its conditions.
func findingAllowed(allowlists []*config.Allowlist, secret, match, line []byte, path, commit string) bool {
	for _, a := range allowlists {
		var target []byte
		switch a.RegexTarget {
		case "match":
			target = match
		case "line":
			target = line
		default:
			target = secret
		}
		regexOK := len(a.Regexes) > 0 && a.RegexAllowed(string(target))
		stopOK := false
		if len(a.StopWords) > 0 {
			stopOK, _ = a.ContainsStopWord(string(secret))
		}
		if a.MatchCondition == config.AllowlistMatchAnd {
			ok := true
			if len(a.Commits) > 0 {
				c, _ := a.CommitAllowed(commit)
				ok = ok && c
			}
			if len(a.Paths) > 0 {
				ok = ok && a.PathAllowed(path)
			}
			if len(a.Regexes) > 0 {
				ok = ok && regexOK
			}
			if len(a.StopWords) > 0 {
				ok = ok && stopOK
			}
			if ok {
				return true
			}
			continue
		}
		if regexOK || stopOK {
			return true
		}
	}
	return false
}
