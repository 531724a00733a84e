package store

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// A Migration is one numbered step of a store's schema: migrations/0001_init.sql
// is version 1. Versions start at 1 and have no gaps; a file, once
// released, never changes. Each store numbers its own.
type Migration struct {
	Version int
	Name    string // the file's name
	SQL     string
}

// LoadMigrations reads the migrations/*.sql files of fsys, in order,
// refusing a badly named file or a gap in the versions.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names { // fs.Glob returns names sorted
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_what.sql", base)
		}
		if want := len(ms) + 1; v != want {
			return nil, fmt.Errorf("migration %s: version %d, want %d", base, v, want)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations")
	}
	return ms, nil
}
