// Package yamlfile holds what the decoders of Gantry's YAML files share:
// errors that point at a line and column, the checks that run before a
// file is decoded (text, one document, alias expansion), and the words
// of their messages (what a node is, which key the user meant).
package yamlfile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry"
)

// Error is one problem in a file, at the position where it was found.
// Msg says what is wrong and what was expected.
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

// ErrorList is every problem found in a file, sorted by position.
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

// Reporter collects the problems of one file, so that a decoder reports
// every mistake instead of stopping at the first. A decoder embeds it.
type Reporter struct {
	File string // names the file in each error
	Errs ErrorList
}

// ErrorAt records a problem at a line and column (0 when only the line is
// known). A line before the first counts as the first.
func (r *Reporter) ErrorAt(line, col int, format string, args ...any) {
	r.Errs = append(r.Errs, &Error{File: r.File, Line: max(line, 1), Col: col, Msg: fmt.Sprintf(format, args...)})
}

// Errorf records a problem at the position of n. A node without one, as
// made by a merge, counts as the start of the file.
func (r *Reporter) Errorf(n *yaml.Node, format string, args ...any) {
	col := n.Column
	if n.Line < 1 {
		col = 1
	}
	r.ErrorAt(n.Line, col, format, args...)
}

// Err returns the problems recorded, sorted by position, or nil when there
// are none. Its dynamic type is ErrorList.
func (r *Reporter) Err() error {
	if len(r.Errs) == 0 {
		return nil
	}
	r.Errs.Sort()
	return r.Errs
}
