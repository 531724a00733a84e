package change

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"gantry.dev/gantry"
)

// Error is one problem in a change file, at the position where it was
// found. Msg says what is wrong and what was expected.
type Error struct {
	File      string
	Line, Col int // 1-based; Col is 0 when only the line is known
	Msg       string
}

// Error returns "file:line:col: msg", the form editors and terminals link.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, "%d:", e.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	return b.String()
}

// As lets gantry.ErrorKind and gantry.ErrorMessage treat the error as
// invalid input whose text may be shown to the user as it is.
func (e *Error) As(target any) bool { return asGantry(e, target) }

// ErrorList is every problem found in a change file, sorted by position.
type ErrorList []*Error

// Error returns the errors one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, so that errors.As finds an *Error in the list.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// As lets gantry.ErrorKind and gantry.ErrorMessage treat the list as
// invalid input whose text may be shown to the user as it is.
func (l ErrorList) As(target any) bool { return asGantry(l, target) }

func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

func asGantry(err error, target any) bool {
	t, ok := target.(**gantry.Error)
	if !ok {
		return false
	}
	*t = &gantry.Error{Kind: gantry.EInvalid, Message: err.Error()}
	return true
}

// suggest returns the candidate closest to s when it is close enough to
// be a typo of it, or "".
func suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c
		}
		limit := 1
		if n := min(len(s), len(c)); n > 7 {
			limit = 3
		} else if n > 3 {
			limit = 2
		}
		d := distance(strings.ToLower(s), strings.ToLower(c))
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(t)]
}

// orList writes "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
