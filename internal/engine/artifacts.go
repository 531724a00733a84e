package engine

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
)

// collectOutputs stores the files matching a step's output patterns,
// relative to dir in the workspace, and returns them as artifacts. A
// pattern that matches nothing is an error: a declared output that was not
// produced fails the step. Nothing outside the workspace is taken.
func collectOutputs(ctx context.Context, blobs gantry.BlobStore, workspace, dir, step string, patterns []string) ([]gantry.Artifact, error) {
	top, err := filepath.EvalSymlinks(workspace)
	if err != nil {
		return nil, fmt.Errorf("resolve workspace: %w", err)
	}
	root, err := filepath.EvalSymlinks(filepath.Join(workspace, dir))
	if err != nil {
		return nil, fmt.Errorf("resolve step directory: %w", err)
	}
	if !within(top, root) {
		return nil, fmt.Errorf("step directory %s is outside the workspace", dir)
	}
	seen := map[string]bool{}
	var out []gantry.Artifact
	for _, pat := range patterns {
		files, err := matchFiles(root, pat)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("declared output %q was not produced", pat)
		}
		for _, rel := range files {
			if seen[rel] {
				continue
			}
			seen[rel] = true
			a, err := storeFile(ctx, blobs, top, root, rel)
			if err != nil {
				return nil, err
			}
			a.Step = step
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// storeFile puts one file under root into the blob store, refusing
// anything that resolves outside the workspace top.
func storeFile(ctx context.Context, blobs gantry.BlobStore, top, root, rel string) (gantry.Artifact, error) {
	full, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return gantry.Artifact{}, fmt.Errorf("output %s: %w", rel, err)
	}
	if !within(top, full) {
		return gantry.Artifact{}, fmt.Errorf("output %s points outside the workspace", rel)
	}
	f, err := os.Open(full)
	if err != nil {
		return gantry.Artifact{}, fmt.Errorf("output %s: %w", rel, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return gantry.Artifact{}, fmt.Errorf("output %s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return gantry.Artifact{}, fmt.Errorf("output %s is not a regular file", rel)
	}
	d, n, err := blobs.Put(ctx, f)
	if err != nil {
		return gantry.Artifact{}, fmt.Errorf("store output %s: %w", rel, err)
	}
	return gantry.Artifact{Path: rel, Digest: d, Size: n}, nil
}

func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// matchFiles returns the regular files under root matching a
// workspace-relative pattern, with forward slashes. `**` matches any number
// of directories; the other metacharacters are those of path.Match.
func matchFiles(root, pattern string) ([]string, error) {
	pattern = path.Clean(filepath.ToSlash(pattern))
	if path.IsAbs(pattern) || pattern == ".." || strings.HasPrefix(pattern, "../") {
		return nil, fmt.Errorf("output %q must be a path inside the workspace", pattern)
	}
	if !strings.ContainsAny(pattern, "*?[") {
		st, err := os.Lstat(filepath.Join(root, filepath.FromSlash(pattern)))
		if err != nil || st.IsDir() {
			return nil, nil
		}
		return []string{pattern}, nil
	}
	if !strings.Contains(pattern, "**") {
		matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
		if err != nil {
			return nil, fmt.Errorf("output pattern %q: %w", pattern, err)
		}
		var out []string
		for _, m := range matches {
			if st, err := os.Lstat(m); err == nil && !st.IsDir() {
				rel, _ := filepath.Rel(root, m)
				out = append(out, filepath.ToSlash(rel))
			}
		}
		return out, nil
	}
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable parts of the tree hold no outputs
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".git" || rel == ".gantry" {
				return filepath.SkipDir
			}
			return nil
		}
		if glob.Match(pattern, rel) {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

// ensureInputs makes sure each input artifact is in the workspace with the
// digest it was recorded with, restoring it from the blob store when it is
// missing or was changed since.
func ensureInputs(ctx context.Context, blobs gantry.BlobStore, workspace string, inputs []gantry.Artifact) error {
	for _, a := range inputs {
		full := filepath.Join(workspace, filepath.FromSlash(a.Path))
		if d, err := digestFile(full); err == nil && d == a.Digest {
			continue
		}
		if err := restore(ctx, blobs, full, a); err != nil {
			return fmt.Errorf("restore input %s from step %s: %w", a.Path, a.Step, err)
		}
	}
	return nil
}

func restore(ctx context.Context, blobs gantry.BlobStore, full string, a gantry.Artifact) error {
	r, err := blobs.Open(ctx, a.Digest)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), ".gantry-restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// The mode is not recorded; executables are the common case for outputs
	// a later step consumes.
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), full)
}

func digestFile(p string) (gantry.Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := newHasher()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return gantry.NewDigest(h.Sum(nil)), nil
}
