package spec

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
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
		if glob.Match(p, name) {
			return true
		}
	}
	return false
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
