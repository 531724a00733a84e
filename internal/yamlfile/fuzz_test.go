package yamlfile

import "testing"

// FuzzDocument checks that no input makes the checks panic, that what they
// report has a position and a message, and that they agree on whether the
// file is fine.
func FuzzDocument(f *testing.F) {
	f.Add([]byte("a: &a [1, 2]\nb: [*a, *a]\n"))
	f.Add([]byte("a: 1\n---\nb: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Reporter{File: "fuzz.yml"}
		if !r.CheckText(data, "a fuzzed file") {
			if len(r.Errs) == 0 {
				t.Fatal("CheckText failed without an error")
			}
		} else if root, second, err := Document(data); err == nil && second == nil && root != nil {
			if !r.CheckSize(root, 1000) && len(r.Errs) == 0 {
				t.Fatal("CheckSize failed without an error")
			}
		} else if err != nil {
			if _, msg := SplitError(err); msg == "" {
				t.Fatalf("a parser error without a message: %v", err)
			}
		}
		for _, e := range r.Errs {
			if e.Line < 1 || e.Col < 0 || e.Msg == "" || e.File != "fuzz.yml" {
				t.Fatalf("an error without a position or a message: %#v", e)
			}
		}
	})
}
