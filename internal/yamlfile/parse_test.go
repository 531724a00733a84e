package yamlfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"clean", "a: b\n\tc: \"\u00e9\r\n\ufeff\"", nil},
		{"control", "a: b\nc: \x01\x7f\n", []string{
			"f.yml:2:4: control character U+0001 is not allowed in YAML: remove it",
			"f.yml:2:5: control character U+007F is not allowed in YAML: remove it",
		}},
		{"utf-8", "a: \xff\n", []string{"f.yml:1:4: byte 0xff is not valid UTF-8: a test file must be UTF-8 text"}},
		{"at most 10", strings.Repeat("\x00", 20), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Reporter{File: "f.yml"}
			ok := r.CheckText([]byte(tc.data), "a test file")
			var got []string
			for _, e := range r.Errs {
				got = append(got, e.Error())
			}
			if tc.name == "at most 10" {
				if ok || len(got) != 10 {
					t.Errorf("CheckText of 20 NULs: ok %v, %d errors, want 10", ok, len(got))
				}
				return
			}
			if ok != (tc.want == nil) {
				t.Errorf("CheckText = %v", ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDocument(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		root       string // the root's first key, "" for none
		second     int    // the line of a second document
		err        bool
	}{
		{"empty", "", "", 0, false},
		{"comments", "# nothing\n", "", 0, false},
		{"null", "~\n", "", 0, false},
		{"one", "a: 1\n", "a", 0, false},
		{"two", "a: 1\n---\nb: 2\n", "", 2, false},
		{"empty then second", "---\n---\nb: 2\n", "", 2, false},
		{"syntax", "a: [\n", "", 0, true},
		{"syntax in second", "a: 1\n---\nb: [\n", "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, second, err := Document([]byte(tc.data))
			if (err != nil) != tc.err {
				t.Errorf("err = %v", err)
			}
			switch {
			case tc.root == "" && root != nil:
				t.Errorf("root %+v, want none", root)
			case tc.root != "" && (root == nil || len(root.Content) == 0 || root.Content[0].Value != tc.root):
				t.Errorf("root %+v, want the mapping of %s", root, tc.root)
			}
			if (second != nil) != (tc.second > 0) || (second != nil && second.Line != tc.second) {
				t.Errorf("second %+v, want one at line %d", second, tc.second)
			}
		})
	}
}

func TestSplitError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		line int
		msg  string
	}{
		{errors.New("yaml: line 3: did not find expected key"), 3, "did not find expected key"},
		{errors.New("yaml: the YAML parser failed: boom"), 0, "the YAML parser failed: boom"},
		{errors.New("line 2: x"), 2, "x"},
	} {
		line, msg := SplitError(tc.err)
		if line != tc.line || msg != tc.msg {
			t.Errorf("SplitError(%v) = %d, %q, want %d, %q", tc.err, line, msg, tc.line, tc.msg)
		}
	}
	err := ParseAll([]byte("a: 1\n---\nb:\n  c: 1\n d: 2\n"))
	if line, msg := SplitError(err); line < 1 || msg != "did not find expected key" {
		t.Errorf("SplitError(ParseAll of a bad second document) = %d, %q", line, msg)
	}
	if err := ParseAll([]byte("a: 1\n---\nb: 2\n")); err != nil {
		t.Errorf("ParseAll of two good documents: %v", err)
	}
}

func TestCheckSize(t *testing.T) {
	bomb := "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	for _, tc := range []struct {
		name, data string
		limit      int
		want       []string
	}{
		{"fine", "a: &a [1, 2]\nb: [*a, *a]\n", 100, nil},
		{"bomb", bomb, 1000, []string{"f.yml:1:1: the file has more than 1000 YAML values once its aliases are expanded: use fewer aliases"}},
		{"bomb under a higher limit", bomb, 2000, nil},
		{"cycle", "a: &a [*a]\n", 100, []string{"f.yml:1:8: alias *a is used inside the value it names, which would make it endless"}},
		{"cycle through a mapping", "a: &a {b: [1, *a]}\n", 100, []string{"f.yml:1:15: alias *a is used inside the value it names, which would make it endless"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _, err := Document([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			r := Reporter{File: "f.yml"}
			ok := r.CheckSize(root, tc.limit)
			var got []string
			for _, e := range r.Errs {
				got = append(got, e.Error())
			}
			if ok != (tc.want == nil) {
				t.Errorf("CheckSize = %v", ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
