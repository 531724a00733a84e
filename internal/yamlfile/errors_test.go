package yamlfile

import (
	"errors"
	"fmt"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "a.yml", Line: 3, Col: 7, Msg: "bad"}, "a.yml:3:7: bad"},
		{&Error{File: "a.yml", Line: 3, Msg: "bad"}, "a.yml:3: bad"},
		{&Error{File: "a.yml", Msg: "bad"}, "a.yml: bad"},
		{&Error{Line: 3, Col: 7, Msg: "bad"}, "3:7: bad"},
		{&Error{Msg: "bad"}, "bad"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// TestErrorListSort checks the order by file, line and column, and that
// errors at one position keep the order in which they were found.
func TestErrorListSort(t *testing.T) {
	list := ErrorList{
		{File: "b.yml", Line: 1, Col: 1, Msg: "fifth"},
		{File: "a.yml", Line: 9, Col: 1, Msg: "fourth"},
		{File: "a.yml", Line: 2, Col: 5, Msg: "second"},
		{File: "a.yml", Line: 2, Col: 5, Msg: "third"},
		{File: "a.yml", Line: 2, Col: 1, Msg: "first"},
	}
	list.Sort()
	want := "a.yml:2:1: first\na.yml:2:5: second\na.yml:2:5: third\na.yml:9:1: fourth\nb.yml:1:1: fifth"
	if got := list.Error(); got != want {
		t.Errorf("ErrorList.Error() = %q, want %q", got, want)
	}
}

// TestErrorKind checks that the CLI and the server see these errors as
// invalid input whose text the user may read, and that errors.As finds
// an *Error in a list.
func TestErrorKind(t *testing.T) {
	list := ErrorList{{File: "a.yml", Line: 1, Col: 2, Msg: "bad"}, {File: "a.yml", Line: 3, Msg: "worse"}}
	for _, err := range []error{list, list[0], fmt.Errorf("load: %w", list)} {
		if got := gantry.ErrorKind(err); got != gantry.EInvalid {
			t.Errorf("ErrorKind(%v) = %q, want %q", err, got, gantry.EInvalid)
		}
	}
	if got, want := gantry.ErrorMessage(list), "a.yml:1:2: bad\na.yml:3: worse"; got != want {
		t.Errorf("ErrorMessage = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(list, &e) || e != list[0] {
		t.Errorf("errors.As(*Error) = %v, want the first", e)
	}
}

func TestReporter(t *testing.T) {
	r := Reporter{File: "a.yml"}
	if err := r.Err(); err != nil {
		t.Fatalf("Err() with no errors = %v", err)
	}
	r.Errorf(&yaml.Node{Line: 4, Column: 3}, "late %d", 1)
	r.ErrorAt(0, 0, "before the first line")
	r.Errorf(&yaml.Node{}, "merged, no position")
	err := r.Err()
	want := "a.yml:1: before the first line\na.yml:1:1: merged, no position\na.yml:4:3: late 1"
	if err == nil || err.Error() != want {
		t.Errorf("Err() = %v, want %q", err, want)
	}
	if _, ok := err.(ErrorList); !ok {
		t.Errorf("Err() is %T, want ErrorList", err)
	}
}
