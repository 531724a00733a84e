package scan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFileInputs(t *testing.T) {
	known := func(id string) bool { return id == "R1" }
	o, err := FileInputs(FileOptions{MaxSize: 10}, map[string]string{"exclude": "a/**, *.md", "disable": "R1", "include-testdata": "true"}, known)
	if err != nil || !o.IncludeTestdata || !o.Disabled["R1"] || !slices.Equal(o.Exclude, []string{"a/**", "*.md"}) || o.MaxSize != 10 {
		t.Errorf("FileInputs = %+v, %v", o, err)
	}
	for with, want := range map[string]string{
		"disable=R9":             `unknown rule "R9"`,
		"include-testdata=maybe": "is not true or false",
		"exlcude=x":              `unknown input "exlcude"`,
		"exclude=[":              "pattern",
	} {
		k, v, _ := strings.Cut(with, "=")
		if _, err := FileInputs(FileOptions{}, map[string]string{k: v}, known); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FileInputs(%s) = %v, want %q", with, err, want)
		}
	}
}

func TestWalkFiles(t *testing.T) {
	root := t.TempDir()
	for name, size := range map[string]int{"a/keep.txt": 3, "a/big.txt": 50, "testdata/x.txt": 1, "vendor/v.txt": 1, ".gantry/state/s.txt": 1, "docs/skip.md": 1} {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, make([]byte, size), 0o644)
	}
	var seen []string
	gaps, err := WalkFiles(context.Background(), root, FileOptions{MaxSize: 10, Exclude: []string{"*.md"}},
		func(_, rel string) bool { return true }, func(rel string, _ []byte) { seen = append(seen, rel) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"a/keep.txt"}) || len(gaps) != 1 || gaps[0].What != "file: a/big.txt" {
		t.Errorf("seen %v gaps %v", seen, gaps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WalkFiles(ctx, root, FileOptions{MaxSize: 10}, func(string, string) bool { return true }, func(string, []byte) {}); err == nil {
		t.Error("a cancelled walk returned no error")
	}
}
