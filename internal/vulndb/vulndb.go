// Package vulndb keeps Gantry's offline vulnerability database: it
// downloads it (Update), describes it (Describe) and answers which known
// vulnerabilities affect a package version (Open, DB.Match).
//
// # Layout
//
// A database is one directory:
//
//	<dir>/manifest.json              what Update fetched, when, with ETags
//	<dir>/osv/<Ecosystem>/all.zip    OSV's export of one ecosystem, as served
//	<dir>/osv/<Ecosystem>/*.json     loose OSV entries (fixtures, local advisories)
//	<dir>/go/index/db.json           the Go vulnerability database in the
//	<dir>/go/index/modules.json      vuln.go.dev v1 layout, uncompressed, which
//	<dir>/go/ID/<ID>.json            is what govulncheck reads with -db file://
//
// The OSV zips are kept as downloaded rather than unpacked: the npm export
// alone holds a few hundred thousand entries, and one file is cheaper to
// store, to verify and to swap atomically. Loose JSON files beside a zip
// (or instead of it) are read as well, so a test fixture or a hand-written
// advisory needs no zip. Ecosystem directory names are OSV's ecosystem
// names: Go, npm, PyPI, crates.io, Maven.
package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// Names inside a database directory.
const (
	manifestFile = "manifest.json"
	osvDir       = "osv"
	goDir        = "go"
	zipName      = "all.zip"
)

// maxEntryBytes bounds one decompressed OSV entry when reading a database.
const maxEntryBytes = 16 << 20

// Path returns the suggested location of the database under a state
// directory (the server's state directory, or the user's cache directory
// joined with "gantry" for the CLI).
func Path(stateDir string) string { return filepath.Join(stateDir, "vulndb") }

// GoDir returns the directory of the Go vulnerability database inside a
// database directory, for govulncheck's -db file:// flag.
func GoDir(dir string) string { return filepath.Join(dir, goDir) }

// Stats describes a database, or what one update did to it.
type Stats struct {
	Dir string `json:"dir"`
	// Updated is when the database was last written by Update (zero if it
	// was never updated, e.g. a fixture).
	Updated time.Time `json:"updated,omitzero"`
	// Entries counts OSV entries per ecosystem.
	Entries map[string]int `json:"entries"`
	// GoEntries counts entries in the Go vulnerability database.
	GoEntries int `json:"go_entries"`
	// Downloaded, NotModified and Bytes are set by Update: the files
	// fetched, the files the server reported unchanged (or whose content
	// was already held), and the bytes received.
	Downloaded  int   `json:"downloaded,omitempty"`
	NotModified int   `json:"not_modified,omitempty"`
	Bytes       int64 `json:"bytes,omitempty"`
}

// Age is how old the database is at now; 0 if it was never updated.
func (s Stats) Age(now time.Time) time.Duration {
	if s.Updated.IsZero() {
		return 0
	}
	return now.Sub(s.Updated)
}

// manifest is the record Update leaves in manifest.json.
type manifest struct {
	Updated    time.Time            `json:"updated"`
	OSVBaseURL string               `json:"osv_base_url"`
	GoBaseURL  string               `json:"go_base_url,omitempty"`
	Files      map[string]fileState `json:"files"` // by slash path relative to the database
	Entries    map[string]int       `json:"entries"`
	GoEntries  int                  `json:"go_entries"`
}

// fileState is what is known of one downloaded file.
type fileState struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	// Modified is the OSV modified time of a Go database entry, which
	// decides whether it must be fetched again.
	Modified string `json:"modified,omitempty"`
}

func readManifest(dir string) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", manifestFile, err)
	}
	return &m, nil
}

// Describe counts the entries of the database in dir, per ecosystem, and
// says when it was updated. A directory without OSV or Go data is not a
// database: Describe returns an error of kind not-found.
func Describe(dir string) (Stats, error) {
	st := Stats{Dir: dir, Entries: map[string]int{}}
	if m, err := readManifest(dir); err == nil {
		st.Updated = m.Updated
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	ecos, err := ecosystemsIn(dir)
	if err != nil {
		return st, err
	}
	for _, eco := range ecos {
		n, err := countOSV(filepath.Join(dir, osvDir, eco))
		if err != nil {
			return st, fmt.Errorf("describe %s: %w", eco, err)
		}
		st.Entries[eco] = n
	}
	ids, err := os.ReadDir(filepath.Join(dir, goDir, "ID"))
	switch {
	case err == nil:
		for _, d := range ids {
			if strings.HasSuffix(d.Name(), ".json") {
				st.GoEntries++
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return st, fmt.Errorf("describe go database: %w", err)
	}
	if len(ecos) == 0 && st.GoEntries == 0 {
		return st, gantry.Errorf(gantry.ENotFound, "no vulnerability database at %s (run gantry vulndb update)", dir)
	}
	return st, nil
}

// ecosystemsIn lists the ecosystem directories under dir/osv.
func ecosystemsIn(dir string) ([]string, error) {
	des, err := os.ReadDir(filepath.Join(dir, osvDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list ecosystems: %w", err)
	}
	var out []string
	for _, d := range des {
		if d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// countOSV counts the JSON entries of one ecosystem directory without
// decoding them.
func countOSV(ecoDir string) (int, error) {
	des, err := os.ReadDir(ecoDir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range des {
		switch {
		case d.Name() == zipName:
			zr, err := zip.OpenReader(filepath.Join(ecoDir, zipName))
			if err != nil {
				return 0, fmt.Errorf("open %s: %w", zipName, err)
			}
			for _, f := range zr.File {
				if strings.HasSuffix(f.Name, ".json") {
					n++
				}
			}
			zr.Close()
		case strings.HasSuffix(d.Name(), ".json") && d.Type().IsRegular():
			n++
		}
	}
	return n, nil
}

// DB is an opened database, ready to match packages.
type DB struct {
	dir     string
	updated time.Time
	ecos    []string
}

// Open opens the database in dir. It fails with an error of kind not-found
// when dir holds no database.
func Open(dir string) (*DB, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, gantry.Errorf(gantry.ENotFound, "no vulnerability database at %s (run gantry vulndb update)", dir)
		}
		return nil, fmt.Errorf("open vulnerability database: %w", err)
	}
	if !fi.IsDir() {
		return nil, gantry.Errorf(gantry.EInvalid, "vulnerability database %s is not a directory", dir)
	}
	db := &DB{dir: dir}
	if m, err := readManifest(dir); err == nil {
		db.updated = m.Updated
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if db.ecos, err = ecosystemsIn(dir); err != nil {
		return nil, err
	}
	if len(db.ecos) == 0 && !db.HasGo() {
		return nil, gantry.Errorf(gantry.ENotFound, "no vulnerability database at %s (run gantry vulndb update)", dir)
	}
	return db, nil
}

// Dir is the database's directory.
func (db *DB) Dir() string { return db.dir }

// Updated is when Update last wrote the database (zero if unknown).
func (db *DB) Updated() time.Time { return db.updated }

// Ecosystems lists the ecosystems the database has OSV data for.
func (db *DB) Ecosystems() []string { return slices.Clone(db.ecos) }

// HasEcosystem reports whether the database has OSV data for ecosystem.
func (db *DB) HasEcosystem(ecosystem string) bool {
	return slices.Contains(db.ecos, baseEcosystem(ecosystem))
}

// HasGo reports whether the database holds a Go vulnerability database
// govulncheck can read.
func (db *DB) HasGo() bool {
	_, err := os.Stat(filepath.Join(db.dir, goDir, "index", "modules.json"))
	return err == nil
}

// GoDir is the directory of the Go vulnerability database.
func (db *DB) GoDir() string { return GoDir(db.dir) }

// Query asks for the vulnerabilities of one package version.
type Query struct {
	Ecosystem string // OSV ecosystem name
	Name      string
	Version   string // in the ecosystem's spelling; Go's leading v is allowed
}

// Match is one entry affecting one queried package.
type Match struct {
	Query   int // index into the queries
	Entry   *Entry
	Verdict Verdict
	// Affected is the entry's affected element that matched.
	Affected *Affected
}

// Problem is a query Match could not answer.
type Problem struct {
	Query  int // index into the queries, or -1 for a whole ecosystem
	Reason string
}

// MatchResult is what Match found.
type MatchResult struct {
	Matches []Match
	// Missing lists the queried ecosystems the database has no data for.
	Missing []string
	// Problems lists queries whose versions could not be compared.
	Problems []Problem
}

// Match finds the entries affecting each query. Withdrawn entries are
// skipped. It reads each ecosystem once, decoding in full only the entries
// that name a queried package.
func (db *DB) Match(ctx context.Context, qs []Query) (*MatchResult, error) {
	res := &MatchResult{}
	byEco := map[string][]int{}
	for i, q := range qs {
		eco := baseEcosystem(q.Ecosystem)
		byEco[eco] = append(byEco[eco], i)
	}
	ecos := make([]string, 0, len(byEco))
	for eco := range byEco {
		ecos = append(ecos, eco)
	}
	slices.Sort(ecos)
	for _, eco := range ecos {
		idx := byEco[eco]
		if !db.HasEcosystem(eco) {
			res.Missing = append(res.Missing, eco)
			continue
		}
		want := map[string][]int{}
		for _, i := range idx {
			n := NormalizeName(eco, qs[i].Name)
			want[n] = append(want[n], i)
		}
		entries, err := loadEcosystem(ctx, filepath.Join(db.dir, osvDir, eco), eco, want)
		if err != nil {
			return nil, fmt.Errorf("read %s vulnerabilities: %w", eco, err)
		}
		problem := map[int]bool{}
		for _, e := range entries {
			if e.Withdrawn != nil {
				continue
			}
			for ai := range e.Affected {
				a := &e.Affected[ai]
				if baseEcosystem(a.Package.Ecosystem) != eco {
					continue
				}
				for _, qi := range want[NormalizeName(eco, a.Package.Name)] {
					v, err := Affects(a, eco, qs[qi].Version)
					if err != nil {
						if errors.Is(err, ErrVersion) && !problem[qi] {
							problem[qi] = true
							res.Problems = append(res.Problems, Problem{Query: qi, Reason: fmt.Sprintf("compare %s@%s with %s: %v", qs[qi].Name, qs[qi].Version, e.ID, err)})
						}
						continue
					}
					if v.Affected {
						res.Matches = append(res.Matches, Match{Query: qi, Entry: e, Verdict: v, Affected: a})
					}
				}
			}
		}
	}
	slices.SortStableFunc(res.Matches, func(a, b Match) int {
		if c := a.Query - b.Query; c != 0 {
			return c
		}
		return strings.Compare(a.Entry.ID, b.Entry.ID)
	})
	return res, nil
}

// loadEcosystem reads the entries of one ecosystem directory that name one
// of the wanted (normalised) package names.
func loadEcosystem(ctx context.Context, ecoDir, eco string, want map[string][]int) ([]*Entry, error) {
	des, err := os.ReadDir(ecoDir)
	if err != nil {
		return nil, err
	}
	var out []*Entry
	seen := map[string]bool{}
	keep := func(name string, b []byte) error {
		var h entryHead
		if err := json.Unmarshal(b, &h); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		wanted := false
		for _, a := range h.Affected {
			if baseEcosystem(a.Package.Ecosystem) == eco && want[NormalizeName(eco, a.Package.Name)] != nil {
				wanted = true
				break
			}
		}
		if !wanted || seen[h.ID] {
			return nil
		}
		e, err := ParseEntry(b)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		seen[e.ID] = true
		out = append(out, e)
		return nil
	}
	for _, d := range des {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := d.Name()
		switch {
		case name == zipName:
			zr, err := zip.OpenReader(filepath.Join(ecoDir, name))
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", name, err)
			}
			err = eachZipJSON(ctx, &zr.Reader, maxEntryBytes, keep)
			zr.Close()
			if err != nil {
				return nil, err
			}
		case strings.HasSuffix(name, ".json") && d.Type().IsRegular():
			b, err := readLimited(filepath.Join(ecoDir, name), maxEntryBytes)
			if err != nil {
				return nil, err
			}
			if err := keep(name, b); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// eachZipJSON calls fn with the content of every .json file of a zip, each
// read up to limit bytes (a larger one is an error: no zip bomb is read
// whole).
func eachZipJSON(ctx context.Context, zr *zip.Reader, limit int64, fn func(name string, b []byte) error) error {
	var buf bytes.Buffer
	for i, f := range zr.File {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !strings.HasSuffix(f.Name, ".json") || f.FileInfo().IsDir() {
			continue
		}
		if f.UncompressedSize64 > uint64(limit) {
			return fmt.Errorf("%s: %d bytes, more than the limit of %d", f.Name, f.UncompressedSize64, limit)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		buf.Reset()
		n, err := io.Copy(&buf, io.LimitReader(rc, limit+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if n > limit {
			return fmt.Errorf("%s: more than the limit of %d bytes", f.Name, limit)
		}
		if err := fn(f.Name, buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: more than the limit of %d bytes", path, limit)
	}
	return b, nil
}
