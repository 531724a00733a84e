package spec

import (
	"fmt"

	"gantry.dev/gantry/internal/yamlfile"
)

// Pos is a position in a pipeline file: a 1-based line and column.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

// String returns "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is one problem in a pipeline file, at the position where it was
// found: "file:line:col: msg". It is gantry.EInvalid.
type Error = yamlfile.Error

// ErrorList is every problem found in a pipeline file, sorted by file,
// line and column. It is gantry.EInvalid.
type ErrorList = yamlfile.ErrorList
