package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gantry.dev/gantry/internal/glob"
)

// FileOptions say which files of a tree a file-reading scanner (iac,
// test-code) reads.
type FileOptions struct {
	// MaxSize is the size above which a file is skipped with a gap.
	MaxSize int64
	// IncludeTestdata walks directories named testdata, which are skipped
	// by default: by Go convention they hold fixtures, not what is built,
	// deployed or run.
	IncludeTestdata bool
	// Exclude are path globs (internal/glob) of files and directories not
	// to read. A pattern without a slash matches a base name anywhere.
	Exclude []string
	// Disabled are the IDs of rules not to report.
	Disabled map[string]bool
}

// The inputs (`with:`) of file-reading scanners.
const (
	InputExclude         = "exclude"          // comma-separated globs, added to FileOptions.Exclude
	InputDisable         = "disable"          // comma-separated rule IDs
	InputIncludeTestdata = "include-testdata" // "true" or "false"
)

// FileInputs merges a step's inputs into base, checking them; knownRule
// says whether a rule ID exists. Unknown inputs are errors, so that a
// mistyped one is not silently ignored.
func FileInputs(base FileOptions, with map[string]string, knownRule func(id string) bool) (FileOptions, error) {
	o := FileOptions{MaxSize: base.MaxSize, IncludeTestdata: base.IncludeTestdata,
		Exclude: append([]string(nil), base.Exclude...), Disabled: map[string]bool{}}
	for id := range base.Disabled {
		o.Disabled[id] = true
	}
	for k, v := range with {
		switch k {
		case InputExclude:
			o.Exclude = append(o.Exclude, SplitList(v)...)
		case InputDisable:
			for _, id := range SplitList(v) {
				if !knownRule(id) {
					return o, fmt.Errorf("input %s: unknown rule %q", k, id)
				}
				o.Disabled[id] = true
			}
		case InputIncludeTestdata:
			switch strings.TrimSpace(v) {
			case "true":
				o.IncludeTestdata = true
			case "false", "":
				o.IncludeTestdata = false
			default:
				return o, fmt.Errorf("input %s: %q is not true or false", k, v)
			}
		default:
			return o, fmt.Errorf("unknown input %q (known: %s, %s, %s)", k, InputExclude, InputDisable, InputIncludeTestdata)
		}
	}
	if err := CheckGlobs(o.Exclude); err != nil {
		return o, fmt.Errorf("input %s: %w", InputExclude, err)
	}
	return o, nil
}

// SplitList splits a comma-separated input, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// CheckGlobs reports the first malformed pattern.
func CheckGlobs(patterns []string) error {
	for _, p := range patterns {
		for _, seg := range strings.Split(p, "/") {
			if _, err := path.Match(seg, ""); err != nil {
				return fmt.Errorf("pattern %q: %w", p, err)
			}
		}
	}
	return nil
}

// Excluded reports whether rel (slash-separated, relative to the root)
// matches one of the patterns.
func Excluded(rel string, patterns []string) bool {
	for _, p := range patterns {
		target := rel
		if !strings.Contains(p, "/") {
			target = path.Base(rel)
		}
		if glob.Match(p, target) {
			return true
		}
	}
	return false
}

// WalkFiles reads the regular files under root that want picks (given the
// file's path and its slash-separated path relative to root) and passes
// each, whole, to visit. It skips .git, node_modules, vendor, Gantry's
// local state, testdata unless asked, and what opts excludes. A file or
// directory it cannot read, and a file over the size limit, becomes a gap.
// A cancelled ctx stops the walk with ctx's error.
func WalkFiles(ctx context.Context, root string, opts FileOptions, want func(p, rel string) bool, visit func(rel string, data []byte)) ([]Gap, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("root %s is not a directory", root)
	}
	var gaps []Gap
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		rel, relErr := filepath.Rel(root, p)
		if relErr != nil {
			return relErr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if rel == "." {
				return err
			}
			gaps = append(gaps, Gap{What: "path: " + rel, Reason: err.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if rel != "." && skipDir(rel, opts) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || Excluded(rel, opts.Exclude) || !want(p, rel) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			gaps = append(gaps, Gap{What: "file: " + rel, Reason: err.Error()})
			return nil
		}
		if fi.Size() > opts.MaxSize {
			gaps = append(gaps, Gap{What: "file: " + rel, Reason: fmt.Sprintf("%d bytes, over the %d-byte limit", fi.Size(), opts.MaxSize)})
			return nil
		}
		data, err := readLimited(p, opts.MaxSize)
		if err != nil {
			gaps = append(gaps, Gap{What: "file: " + rel, Reason: err.Error()})
			return nil
		}
		visit(rel, data)
		return nil
	})
	return gaps, err
}

func skipDir(rel string, opts FileOptions) bool {
	switch base := path.Base(rel); base {
	case ".git", "node_modules", "vendor":
		return true
	case "testdata":
		if !opts.IncludeTestdata {
			return true
		}
	case "state":
		if rel == ".gantry/state" || strings.HasSuffix(rel, "/.gantry/state") {
			return true
		}
	}
	return Excluded(rel, opts.Exclude)
}

// readLimited reads at most limit bytes of the file at p; a file that grew
// past the limit since it was listed is an error.
func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New("the file grew past the size limit while it was read")
	}
	return data, nil
}

// FileConfig configures a file-reading scanner (iac, test-code).
type FileConfig struct {
	// MaxFileSize is the size above which a file is skipped with a gap;
	// 0 means the scanner's default.
	MaxFileSize int64
	// IncludeTestdata walks directories named testdata, skipped by
	// default: they hold fixtures (the scanners' own among them).
	IncludeTestdata bool
	// Exclude are path globs of files and directories not to read; a
	// pattern without a slash matches a base name anywhere.
	Exclude []string
	// Disable lists IDs of rules not to report.
	Disable []string
}

// NewFileOptions checks c and turns it into the FileOptions a scan starts
// from; defaultMax stands for a zero MaxFileSize.
func NewFileOptions(c FileConfig, defaultMax int64, knownRule func(id string) bool) (FileOptions, error) {
	if c.MaxFileSize < 0 {
		return FileOptions{}, fmt.Errorf("negative max file size %d", c.MaxFileSize)
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = defaultMax
	}
	if err := CheckGlobs(c.Exclude); err != nil {
		return FileOptions{}, fmt.Errorf("exclude %w", err)
	}
	o := FileOptions{MaxSize: c.MaxFileSize, IncludeTestdata: c.IncludeTestdata,
		Exclude: append([]string(nil), c.Exclude...), Disabled: map[string]bool{}}
	for _, id := range c.Disable {
		if !knownRule(id) {
			return FileOptions{}, fmt.Errorf("unknown rule %q", id)
		}
		o.Disabled[id] = true
	}
	return o, nil
}
