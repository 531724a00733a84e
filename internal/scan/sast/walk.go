package sast

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gantry.dev/gantry/internal/scan"
)

// languages maps file extensions to the languages Gantry cannot analyse
// yet. Each one found under the root is reported as a gap.
var languages = map[string]string{
	".py":     "Python",
	".pyw":    "Python",
	".js":     "JavaScript",
	".mjs":    "JavaScript",
	".cjs":    "JavaScript",
	".jsx":    "JavaScript",
	".ts":     "TypeScript",
	".mts":    "TypeScript",
	".cts":    "TypeScript",
	".tsx":    "TypeScript",
	".java":   "Java",
	".kt":     "Kotlin",
	".kts":    "Kotlin",
	".scala":  "Scala",
	".groovy": "Groovy",
	".rb":     "Ruby",
	".php":    "PHP",
	".rs":     "Rust",
	".c":      "C",
	".h":      "C",
	".cc":     "C++",
	".cpp":    "C++",
	".cxx":    "C++",
	".hh":     "C++",
	".hpp":    "C++",
	".hxx":    "C++",
	".cs":     "C#",
	".fs":     "F#",
	".vb":     "Visual Basic",
	".swift":  "Swift",
	".m":      "Objective-C",
	".mm":     "Objective-C",
	".dart":   "Dart",
	".ex":     "Elixir",
	".exs":    "Elixir",
	".erl":    "Erlang",
	".lua":    "Lua",
	".pl":     "Perl",
	".pm":     "Perl",
	".sh":     "Shell",
	".bash":   "Shell",
	".zsh":    "Shell",
	".ps1":    "PowerShell",
}

// skipDir reports whether the walk leaves a directory out: version control,
// dependencies that are not the project's own code, and what the go command
// itself ignores (testdata, names starting with . or _).
func skipDir(name string) bool {
	switch name {
	case "node_modules", "vendor", "testdata", "__pycache__", "site-packages", "venv":
		return true
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// tree is what one walk of the root found.
type tree struct {
	// modules are the directories, relative to the root with forward
	// slashes, that hold Go files to load: each nested go.mod that owns Go
	// files, and "." when the root (or a module above it) owns some.
	modules []string
	// rootGoFiles counts the Go files in module ".".
	rootGoFiles int
	// others counts files per language Gantry cannot analyse.
	others map[string]int
}

// walk reads the directory tree under root once: the Go modules to load and
// the files in other languages.
func walk(ctx context.Context, root string) (*tree, error) {
	t := &tree{others: make(map[string]int)}
	modDirs := map[string]bool{}
	goDirs := map[string]int{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		dir := path.Dir(filepath.ToSlash(rel))
		name := d.Name()
		switch {
		case name == "go.mod":
			modDirs[dir] = true
		case strings.HasSuffix(name, ".go"):
			goDirs[dir]++
		default:
			if lang, ok := languages[strings.ToLower(filepath.Ext(name))]; ok {
				t.others[lang]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	owners := map[string]bool{}
	for dir, n := range goDirs {
		o := owner(dir, modDirs)
		owners[o] = true
		if o == "." {
			t.rootGoFiles += n
		}
	}
	t.modules = slices.Sorted(maps.Keys(owners))
	return t, nil
}

// owner returns the module directory that owns dir: the nearest directory
// at or above it, within the root, holding a go.mod; "." when there is none
// (the root's own module, or one above the root).
func owner(dir string, modDirs map[string]bool) string {
	for {
		if modDirs[dir] || dir == "." {
			return dir
		}
		dir = path.Dir(dir)
	}
}

// gaps returns a gap per language found that Gantry cannot analyse, in
// name order.
func (t *tree) gaps() []scan.Gap {
	var gaps []scan.Gap
	for _, lang := range slices.Sorted(maps.Keys(t.others)) {
		n := t.others[lang]
		files := "files"
		if n == 1 {
			files = "file"
		}
		gaps = append(gaps, scan.Gap{
			What:   fmt.Sprintf("language: %s (%d %s)", lang, n, files),
			Reason: fmt.Sprintf("Gantry cannot analyse %s yet", lang),
		})
	}
	return gaps
}
