// Package vcs reads what a run needs to know about the repository it runs
// in: branch, commit and changed paths.
package vcs

import (
	"bufio"
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Head is the checked-out revision of a git repository.
type Head struct {
	Branch string // "" when detached
	Commit string // "" before the first commit
}

// ReadHead reads HEAD straight from the .git directory above dir, without
// starting git: a run's start-up should not wait for a process. ok is false
// when dir is not inside a git repository.
func ReadHead(dir string) (h Head, root string, ok bool) {
	gitDir, root := findGitDir(dir)
	if gitDir == "" {
		return Head{}, "", false
	}
	b, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return Head{}, root, true
	}
	head := strings.TrimSpace(string(b))
	ref, isRef := strings.CutPrefix(head, "ref: ")
	if !isRef {
		return Head{Commit: head}, root, true
	}
	h.Branch = strings.TrimPrefix(ref, "refs/heads/")
	common := commonDir(gitDir)
	if b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref))); err == nil {
		h.Commit = strings.TrimSpace(string(b))
	} else if b, err := os.ReadFile(filepath.Join(common, filepath.FromSlash(ref))); err == nil {
		h.Commit = strings.TrimSpace(string(b))
	} else {
		h.Commit = packedRef(common, ref)
	}
	return h, root, true
}

// SourceURI names the repository at root for provenance: the URL of its
// "origin" remote without credentials, or a file URL of root when it has
// none. It reads .git/config and starts no process.
func SourceURI(root string) string {
	local := "git+file://" + filepath.ToSlash(root)
	gitDir, _ := findGitDir(root)
	if gitDir == "" {
		return local
	}
	b, err := os.ReadFile(filepath.Join(commonDir(gitDir), "config"))
	if err != nil {
		return local
	}
	if u := remoteURL(string(b), "origin"); u != "" {
		return "git+" + asURL(u)
	}
	return local
}

// asURL spells the forms git accepts for a remote as URLs: a path as a
// file URL, and scp-like host:path as an ssh URL.
func asURL(remote string) string {
	switch {
	case strings.Contains(remote, "://"):
		return remote
	case strings.HasPrefix(remote, "/"):
		return "file://" + filepath.ToSlash(filepath.Clean(remote))
	}
	if host, p, ok := strings.Cut(remote, ":"); ok && !strings.Contains(host, "/") {
		return "ssh://" + host + "/" + strings.TrimPrefix(p, "/")
	}
	return remote
}

// remoteURL finds the url of a remote in a git config file.
func remoteURL(config, remote string) string {
	in := false
	for _, line := range strings.Split(config, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = line == `[remote "`+remote+`"]`
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !in || !ok || strings.TrimSpace(k) != "url" {
			continue
		}
		u := strings.Trim(strings.TrimSpace(v), `"`)
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			pu.User = nil // a token in the remote URL must not reach evidence
			u = pu.String()
		}
		return u
	}
	return ""
}

// findGitDir walks up from dir to the repository's git directory, following
// the "gitdir:" file of worktrees and submodules.
func findGitDir(dir string) (gitDir, root string) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	for {
		p := filepath.Join(dir, ".git")
		if st, err := os.Stat(p); err == nil {
			if st.IsDir() {
				return p, dir
			}
			if b, err := os.ReadFile(p); err == nil {
				if g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
					if !filepath.IsAbs(g) {
						g = filepath.Join(dir, g)
					}
					return g, dir
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ""
		}
		dir = parent
	}
}

func commonDir(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return gitDir
	}
	c := strings.TrimSpace(string(b))
	if !filepath.IsAbs(c) {
		c = filepath.Join(gitDir, c)
	}
	return c
}

func packedRef(gitDir, ref string) string {
	f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sha, name, ok := strings.Cut(sc.Text(), " ")
		if ok && name == ref {
			return sha
		}
	}
	return ""
}

// Changed lists the paths that differ from HEAD in the working tree of the
// repository at root: staged, unstaged and untracked, relative to root. It
// runs git, so call it only when a pipeline asks about paths.
func Changed(ctx context.Context, root string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "git", "status", "--porcelain=v1", "-z", "--untracked-files=all")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	paths := []string{}
	fields := bytes.Split(out, []byte{0})
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		paths = append(paths, string(f[3:]))
		if f[0] == 'R' || f[0] == 'C' {
			i++ // the entry's source path follows
		}
	}
	return paths, nil
}

// ChangeBase returns the commit where the branch checked out in the
// repository at dir left base (git merge-base HEAD base), or "" when there
// is none: no git, no such branch, or HEAD is on base itself.
func ChangeBase(ctx context.Context, dir, base string) string {
	head, _, ok := ReadHead(dir)
	if !ok || head.Commit == "" || head.Branch == base {
		return ""
	}
	cmd := exec.CommandContext(ctx, "git", "merge-base", "HEAD", base)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	mb := strings.TrimSpace(string(out))
	if mb == head.Commit {
		return "" // nothing on the branch yet
	}
	return mb
}
