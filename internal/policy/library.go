package policy

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// library is the built-in policy library: packages gantry.lib.<name>, each
// with a deny set a gate can take over, and their Rego unit tests.
//
//go:embed library/*.rego
var library embed.FS

// librarySources returns the library's policies, with their tests when
// tests is set, named LibraryPrefix+file.
func librarySources(tests bool) []Source {
	entries, err := fs.ReadDir(library, "library")
	if err != nil {
		panic("policy: embedded library: " + err.Error()) // embedded at build time: cannot happen
	}
	var srcs []Source
	for _, e := range entries {
		if !tests && strings.HasSuffix(e.Name(), "_test.rego") {
			continue
		}
		b, err := library.ReadFile(path.Join("library", e.Name()))
		if err != nil {
			panic("policy: embedded library: " + err.Error())
		}
		srcs = append(srcs, Source{Name: LibraryPrefix + e.Name(), Data: b})
	}
	return srcs
}

// Library returns the built-in library's policy files, tests left out.
func Library() []Source { return librarySources(false) }
