package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every error has a
// position, and that what parses also plans.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/valid/*.gantry.yml")
	invalid, _ := filepath.Glob("testdata/invalid/*.gantry.yml")
	for _, name := range append(files, invalid...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yml", data, Options{Actions: []string{"sast", "secrets"}})
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned a pipeline and an error")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse returned %T, not a non-empty ErrorList: %v", err, err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Col < 0 || e.Msg == "" {
					t.Fatalf("error without a position or message: %#v", e)
				}
			}
			return
		}
		if _, err := p.Plan(); err != nil {
			t.Fatalf("Plan of a parsed pipeline: %v", err)
		}
	})
}
