package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"gantry.dev/gantry"
)

// Pos is a position in a pipeline file: a 1-based line and column.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

// String returns "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is one problem in a pipeline file, at the position where it was
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

// ErrorList is every problem found in a pipeline file, sorted by position.
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

// Sort orders the list by file, line and column, keeping the order in
// which errors at the same position were found.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
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
