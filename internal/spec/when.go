package spec

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"gantry.dev/gantry"
)

// Match reports whether a step with these conditions runs for trigger t,
// and when it does not, which condition failed and why. A nil When always
// matches. A branch condition never matches an unknown (empty) branch; a
// paths condition matches when the changed paths are unknown (nil), since
// skipping a step for lack of information would let a change bypass it.
func (w *When) Match(t gantry.Trigger) (ok bool, reason string) {
	if w == nil {
		return true, ""
	}
	if len(w.Branch) > 0 {
		branch := strings.TrimPrefix(t.Branch, "refs/heads/")
		switch {
		case branch == "":
			return false, fmt.Sprintf("the branch is not known, and the step runs only on %s", strings.Join(w.Branch, ", "))
		case !matchAny(w.Branch, branch):
			return false, fmt.Sprintf("branch %q is not one of %s", branch, strings.Join(w.Branch, ", "))
		}
	}
	if len(w.Event) > 0 && !matchAny(w.Event, t.Event) {
		return false, fmt.Sprintf("event %q is not one of %s", t.Event, strings.Join(w.Event, ", "))
	}
	if len(w.Paths) > 0 && t.Changed != nil {
		for _, c := range t.Changed {
			if matchAny(w.Paths, c) {
				return true, ""
			}
		}
		if len(t.Changed) == 0 {
			return false, fmt.Sprintf("no path changed, and the step runs only when one of %s changes", strings.Join(w.Paths, ", "))
		}
		return false, fmt.Sprintf("no changed path matches %s", strings.Join(w.Paths, ", "))
	}
	return true, ""
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchGlob(p, name) {
			return true
		}
	}
	return false
}

// matchGlob matches a slash-separated name against a pattern in which a
// segment ** matches any number of segments (none included) and other
// segments follow path.Match: * and ? never match a slash.
func matchGlob(pattern, name string) bool {
	ps := strings.Split(pattern, "/")
	ns := strings.Split(strings.TrimPrefix(name, "./"), "/")
	// done[i][j] memoizes matching ps[i:] against ns[j:], so that many **
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

// hasMeta reports whether p uses glob syntax.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// checkGlob reports a malformed pattern.
func checkGlob(p string) error {
	for _, seg := range strings.Split(p, "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			if errors.Is(err, path.ErrBadPattern) {
				return errors.New(`a [ class is not closed or is empty, or a \ ends the pattern`)
			}
			return err
		}
	}
	return nil
}
