package scan

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
	"gantry.dev/gantry/internal/spec"
	yaml "go.yaml.in/yaml/v3"
)

// WaiversFile is where a repository keeps its waivers, relative to its
// root.
const WaiversFile = ".gantry/waivers.yml"

// maxWaiversSize bounds a waivers file: thousands of waivers fit in it,
// and nothing read from a repository is read without a limit.
const maxWaiversSize = 1 << 20

// Waivers is the set of waivers a repository declares in WaiversFile:
//
//	waivers:
//	  - fingerprint: 3f2a…          # one finding; or
//	    rule: G204                  # every finding of a rule,
//	    path: "cmd/**"              # optionally only under a path glob
//	    reason: "…"
//	    owner: alice@example.com
//	    expires: 2026-12-31         # end of that day, UTC; or an RFC 3339 time
//
// A nil *Waivers holds no waivers.
type Waivers struct {
	// File is the file the waivers were read from, for messages.
	File string
	list []waiverEntry
}

type waiverEntry struct {
	waiver    gantry.Waiver
	line, col int // where the waiver starts in File
}

// UsedWaiver is a waiver and the number of findings it matched.
type UsedWaiver struct {
	Waiver gantry.Waiver
	Count  int
}

// WaiverReport says what the waivers did to one set of findings. Each list
// keeps the order of the waivers file.
type WaiverReport struct {
	// InForce are the active waivers that waived findings, with how many.
	InForce []UsedWaiver
	// Expired are all the expired waivers, whether or not they would
	// have matched a finding.
	Expired []gantry.Waiver
	// ExpiredMatched are the expired waivers that would have matched
	// findings, with how many: the findings that block again because a
	// waiver ran out.
	ExpiredMatched []UsedWaiver
	// Unused are the active waivers that matched no finding: fixed
	// findings, or waivers that never matched (a mistyped fingerprint).
	// A waiver shadowed by another for every finding it matches is unused
	// too.
	Unused []gantry.Waiver
}

// WaiverError is one problem in a waivers file, at the position where it
// was found: the same positioned error as the pipeline file's, printed
// "file:line:col: msg".
type WaiverError = spec.Error

// WaiverErrors is every problem found in a waivers file, in file order.
type WaiverErrors = spec.ErrorList

// LoadWaivers reads the waivers file at path. A missing file is an empty
// set of waivers. A file with problems gives a WaiverErrors holding every
// problem found, each with its line and column.
func LoadWaivers(path string) (*Waivers, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Waivers{File: path}, nil
	}
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read waivers: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxWaiversSize+1))
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read waivers: %w", err)
	}
	if len(data) > maxWaiversSize {
		return nil, WaiverErrors{{File: path, Msg: fmt.Sprintf("the file is larger than %d bytes", maxWaiversSize)}}
	}
	return ParseWaivers(path, data)
}

// ParseWaivers parses the contents of a waivers file; file names it in
// errors.
func ParseWaivers(file string, data []byte) (*Waivers, error) {
	p := &waiverParser{file: file}
	w := &Waivers{File: file, list: p.parse(data)}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *WaiverError) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		return nil, p.errs
	}
	return w, nil
}

// List returns the waivers, in file order.
func (w *Waivers) List() []gantry.Waiver {
	if w == nil {
		return nil
	}
	out := make([]gantry.Waiver, len(w.list))
	for i, e := range w.list {
		out[i] = e.waiver
	}
	return out
}

// Apply returns a copy of findings in which every finding that an active
// waiver matches carries that waiver, and every other finding carries none:
// Apply owns Finding.Waiver, so a stale waiver cannot survive it. A
// fingerprint waiver matches the finding with that fingerprint; a rule
// waiver every finding of the rule whose path its glob matches (any path
// when it has none). When several active waivers match a finding, a
// fingerprint waiver wins over a rule waiver, and then the first in the
// file. The report says which waivers were used, expired or unused.
func (w *Waivers) Apply(findings []gantry.Finding, now time.Time) (applied []gantry.Finding, report WaiverReport) {
	applied = slices.Clone(findings)
	var list []waiverEntry
	if w != nil {
		list = w.list
	}
	used := make([]int, len(list))
	expiredHits := make([]int, len(list))
	for i := range applied {
		f := &applied[i]
		f.Waiver = nil
		best := -1
		for j, e := range list {
			if !e.matches(f) {
				continue
			}
			if !e.waiver.Active(now) {
				expiredHits[j]++
				continue
			}
			if best < 0 || (e.waiver.Fingerprint != "" && list[best].waiver.Fingerprint == "") {
				best = j
			}
		}
		if best >= 0 {
			wv := list[best].waiver
			f.Waiver = &wv
			used[best]++
		}
	}
	for j, e := range list {
		switch {
		case !e.waiver.Active(now):
			report.Expired = append(report.Expired, e.waiver)
			if expiredHits[j] > 0 {
				report.ExpiredMatched = append(report.ExpiredMatched, UsedWaiver{Waiver: e.waiver, Count: expiredHits[j]})
			}
		case used[j] > 0:
			report.InForce = append(report.InForce, UsedWaiver{Waiver: e.waiver, Count: used[j]})
		default:
			report.Unused = append(report.Unused, e.waiver)
		}
	}
	return applied, report
}

// matches reports whether the waiver names the finding, whether or not it
// is active.
func (e waiverEntry) matches(f *gantry.Finding) bool {
	if e.waiver.Fingerprint != "" {
		return f.Fingerprint == e.waiver.Fingerprint
	}
	if e.waiver.RuleID == "" || f.RuleID != e.waiver.RuleID {
		return false
	}
	return e.waiver.Path == "" || glob.Match(e.waiver.Path, f.Location.Path)
}

// checkGlob says what is wrong with a path glob, or "".
func checkGlob(pattern string) string {
	switch {
	case strings.HasPrefix(pattern, "/"):
		return "is relative to the repository root: drop the leading /"
	case strings.Contains(pattern, "\\"):
		return "uses a backslash: paths use forward slashes (and escapes are not supported)"
	}
	for seg := range strings.SplitSeq(pattern, "/") {
		switch seg {
		case "":
			return "has an empty segment (//, or a trailing /): write dir/** for everything under dir"
		case ".", "..":
			return "has a . or .. segment: write the path from the repository root"
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Sprintf("segment %q is not a valid glob", seg)
		}
	}
	return ""
}

// ParseExpiry reads a waiver's expiry: a date, which means the end of that
// day in UTC, or an RFC 3339 time.
func ParseExpiry(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (2026-12-31) nor an RFC 3339 time (2026-12-31T18:00:00Z)", s)
}

// FormatExpiry writes an expiry as ParseExpiry reads it: the date alone
// for the end of a day in UTC.
func FormatExpiry(t time.Time) string {
	u := t.UTC()
	if u.Hour() == 23 && u.Minute() == 59 && u.Second() == 59 && u.Nanosecond() == 999999999 {
		return u.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

// waiverKeys are the keys of one waiver, in the order messages list them.
var waiverKeys = []string{"fingerprint", "rule", "path", "reason", "owner", "expires"}

// waiverParser reads a waivers file from its YAML nodes, so that every
// problem is reported with its position, and all of them at once.
type waiverParser struct {
	file string
	errs WaiverErrors
}

func (p *waiverParser) errorAt(line, col int, format string, args ...any) {
	p.errs = append(p.errs, &WaiverError{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (p *waiverParser) errorf(n *yaml.Node, format string, args ...any) {
	p.errorAt(n.Line, n.Column, format, args...)
}

// yamlLine finds the line number in the YAML parser's messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *waiverParser) parse(data []byte) []waiverEntry {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := decodeYAML(dec, &doc); {
	case err == io.EOF:
		return nil // an empty file waives nothing
	case err != nil:
		p.syntaxError(data, err)
		return nil
	}
	var extra yaml.Node
	switch err := decodeYAML(dec, &extra); {
	case err == io.EOF:
	case err != nil:
		p.syntaxError(data, err)
		return nil
	default:
		p.errorf(&extra, "a second YAML document starts here: a waivers file holds one document")
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "a waivers file is a mapping with the key waivers, not a %s", kindName(root))
		return nil
	}
	var list *yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		if prev, ok := seen[k.Value]; ok {
			p.errorf(k, "%s is given twice (first at line %d)", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		if k.Value != "waivers" {
			p.unknownKey(k, []string{"waivers"}, "at the top level")
			continue
		}
		list = v
	}
	if list == nil || isNull(list) {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "waivers is a list (- fingerprint: …), not a %s", kindName(list))
		return nil
	}
	var out []waiverEntry
	fingerprints := map[string]int{}
	for _, item := range list.Content {
		e, ok := p.waiver(resolve(item))
		if !ok {
			continue
		}
		if fp := e.waiver.Fingerprint; fp != "" {
			if line, dup := fingerprints[fp]; dup {
				p.errorAt(e.line, e.col, "fingerprint %s is already waived at line %d", fp, line)
				continue
			}
			fingerprints[fp] = e.line
		}
		out = append(out, e)
	}
	return out
}

// waiver reads one item of the list.
func (p *waiverParser) waiver(n *yaml.Node) (waiverEntry, bool) {
	e := waiverEntry{line: n.Line, col: n.Column}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "a waiver is a mapping (fingerprint or rule, reason, owner, expires), not a %s", kindName(n))
		return e, false
	}
	before := len(p.errs)
	vals := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if !slices.Contains(waiverKeys, k.Value) {
			p.unknownKey(k, waiverKeys, "in a waiver")
			continue
		}
		if prev, ok := keys[k.Value]; ok {
			p.errorf(k, "%s is given twice (first at line %d)", k.Value, prev.Line)
			continue
		}
		keys[k.Value] = k
		if v.Kind != yaml.ScalarNode {
			p.errorf(v, "%s is a string, not a %s", k.Value, kindName(v))
			continue
		}
		if isNull(v) || strings.TrimSpace(v.Value) == "" {
			p.errorf(v, "%s is empty", k.Value)
			continue
		}
		vals[k.Value] = v
	}
	str := func(key string) string {
		if v := vals[key]; v != nil {
			return strings.TrimSpace(v.Value)
		}
		return ""
	}
	e.waiver = gantry.Waiver{
		Fingerprint: str("fingerprint"),
		RuleID:      str("rule"),
		Path:        str("path"),
		Reason:      str("reason"),
		Owner:       str("owner"),
	}

	// What the waiver matches: exactly one of fingerprint or rule.
	_, hasFP := keys["fingerprint"]
	_, hasRule := keys["rule"]
	switch {
	case hasFP && hasRule:
		p.errorf(keys["rule"], "a waiver names a fingerprint or a rule, not both: a fingerprint waives one finding, a rule all of its findings (under path)")
	case !hasFP && !hasRule:
		p.errorf(n, "a waiver needs fingerprint (one finding) or rule (with an optional path glob)")
	}
	if pk := keys["path"]; pk != nil && !hasRule {
		p.errorf(pk, "path narrows a rule waiver: add rule, or drop path")
	}
	if v := vals["fingerprint"]; v != nil && strings.ContainsFunc(e.waiver.Fingerprint, isSpace) {
		p.errorf(v, "fingerprint %q has spaces: copy it whole from the finding", e.waiver.Fingerprint)
	}
	if v := vals["path"]; v != nil {
		if msg := checkGlob(e.waiver.Path); msg != "" {
			p.errorf(v, "path %q %s", e.waiver.Path, msg)
		}
	}

	for _, key := range []string{"reason", "owner", "expires"} {
		if _, ok := keys[key]; !ok {
			p.errorf(n, "the waiver has no %s: %s", key, requiredWhy[key])
		}
	}
	if v := vals["expires"]; v != nil {
		t, err := ParseExpiry(strings.TrimSpace(v.Value))
		if err != nil {
			p.errorf(v, "expires %v", err)
		}
		e.waiver.Expires = t
	}
	return e, len(p.errs) == before
}

// requiredWhy says why a waiver needs each required key.
var requiredWhy = map[string]string{
	"reason":  "say why the finding is accepted",
	"owner":   "say who answers for it (an e-mail address)",
	"expires": "every waiver ends (a date like 2026-12-31, or an RFC 3339 time)",
}

// unknownKey reports a key that is not allowed, with the closest allowed
// key when it looks like a typo.
func (p *waiverParser) unknownKey(k *yaml.Node, allowed []string, where string) {
	msg := fmt.Sprintf("unknown key %q %s", k.Value, where)
	if s := closest(k.Value, allowed); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	} else {
		msg += " (want " + strings.Join(allowed, ", ") + ")"
	}
	p.errorf(k, "%s", msg)
}

// syntaxError reports an error of the YAML parser. The parser names the
// line of the construct it was reading, which is often before the mistake,
// so the error is moved to the first line at which the file stops parsing
// with the same message.
func (p *waiverParser) syntaxError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		line = problemLine(data, msg, line)
	}
	switch {
	case strings.Contains(msg, "found character that cannot start any token") || strings.Contains(msg, "tab character"):
		msg += ": YAML is indented with spaces, and a value starting with @ or ` must be quoted"
	case strings.Contains(msg, "mapping values are not allowed"):
		msg += `: a value that contains ": " must be quoted`
	case strings.Contains(msg, "did not find expected"):
		msg += ": check the indentation of this line and the lines above it"
	}
	p.errorAt(line, 0, "invalid YAML: %s", msg)
}

// problemLine returns the first line, from line on, such that the file cut
// after it fails with the same message; line when there is none. A prefix
// that fails keeps failing as lines are added (the parser stops at the
// first error), so the line is found by bisection, in a few parses.
func problemLine(data []byte, msg string, line int) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(k int) bool {
		err := parseAll(bytes.Join(lines[:k], nil))
		if err == nil {
			return false
		}
		m := yamlLine.FindStringSubmatch(err.Error())
		return m != nil && m[2] == msg
	}
	lo, hi := max(line, 1), len(lines)
	if lo > hi || !fails(hi) {
		return line
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// parseAll parses every YAML document in data and returns the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := decodeYAML(dec, &n); {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// decodeYAML reads the next document, turning a panic of the YAML parser
// on hostile input into an error.
func decodeYAML(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// kindName names a node's kind in messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "scalar (" + strconv.Quote(n.Value) + ")"
	}
	return "YAML node"
}

// closest returns the candidate that s is most likely a typo of, or "".
func closest(s string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c
		}
		d := editDistance(strings.ToLower(s), c)
		limit := 1 + min(len(s), len(c))/4
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, counting a
// swap of two neighbouring letters as one edit.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	rows := make([][]int, len(s)+1)
	for i := range rows {
		rows[i] = make([]int, len(t)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			rows[i][j] = min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				rows[i][j] = min(rows[i][j], rows[i-2][j-2]+1)
			}
		}
	}
	return rows[len(s)][len(t)]
}
