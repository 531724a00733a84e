// Package glob matches slash-separated paths against the patterns Gantry's
// files use (pipeline outputs and when.paths, waivers): a segment "**"
// matches any number of segments, none included, and every other segment
// follows path.Match, so * and ? never match a slash.
package glob

import (
	"path"
	"strings"
)

// Match reports whether the whole of name matches pattern. "cmd/**"
// matches everything under cmd, "**/*_test.go" every test file. A leading
// "./" of name is ignored. A malformed segment matches nothing.
func Match(pattern, name string) bool {
	ps := strings.Split(pattern, "/")
	ns := strings.Split(strings.TrimPrefix(name, "./"), "/")
	// memo[i][j] remembers matching ps[i:] against ns[j:], so that many **
	// segments cost len(ps)*len(ns) and not an exponential search.
	type key struct{ i, j int }
	memo := map[key]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if v, ok := memo[key{i, j}]; ok {
			return v
		}
		var ok bool
		switch {
		case i == len(ps):
			ok = j == len(ns)
		case ps[i] == "**":
			ok = match(i+1, j) || (j < len(ns) && match(i, j+1))
		case j == len(ns):
			ok = false
		default:
			m, err := path.Match(ps[i], ns[j])
			ok = err == nil && m && match(i+1, j+1)
		}
		memo[key{i, j}] = ok
		return ok
	}
	return match(0, 0)
}
