package vcs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestReadHeadAndChanged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	if _, _, ok := ReadHead(dir); !ok {
		t.Fatal("ReadHead: not a repository")
	}
	os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n"), 0o644)
	git(t, dir, "add", "a.go")
	git(t, dir, "commit", "-q", "-m", "first")
	git(t, dir, "pack-refs", "--all")
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	h, root, ok := ReadHead(sub)
	if !ok || root != dir || h.Branch != "main" || len(h.Commit) != 40 {
		t.Fatalf("ReadHead = %+v, %q, %v", h, root, ok)
	}
	os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a // changed\n"), 0o644)
	os.WriteFile(filepath.Join(sub, "new.txt"), []byte("x"), 0o644)
	got, err := Changed(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"a.go", "sub/new.txt"}; !slices.Equal(got, want) {
		t.Errorf("Changed = %v, want %v", got, want)
	}
	if _, _, ok := ReadHead(t.TempDir()); ok {
		t.Error("ReadHead found a repository in an empty directory")
	}
}

func TestChangeBase(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "a"), []byte("1"), 0o644)
	git(t, dir, "add", "a")
	git(t, dir, "commit", "-q", "-m", "one")
	ctx := context.Background()
	if got := ChangeBase(ctx, dir, "main"); got != "" {
		t.Errorf("on main: ChangeBase = %q, want none", got)
	}
	main, _, _ := ReadHead(dir)
	git(t, dir, "checkout", "-q", "-b", "feature")
	if got := ChangeBase(ctx, dir, "main"); got != "" {
		t.Errorf("a branch with no commit of its own: ChangeBase = %q, want none", got)
	}
	os.WriteFile(filepath.Join(dir, "a"), []byte("2"), 0o644)
	git(t, dir, "commit", "-q", "-am", "two")
	if got := ChangeBase(ctx, dir, "main"); got != main.Commit {
		t.Errorf("ChangeBase = %q, want %q", got, main.Commit)
	}
	if got := ChangeBase(ctx, dir, "nosuch"); got != "" {
		t.Errorf("unknown base: ChangeBase = %q", got)
	}
}

func TestRemoteURL(t *testing.T) {
	config := `[core]
	bare = false
[remote "upstream"]
	url = https://example.com/up.git
[remote "origin"]
	url = https://user:ghp_token@example.com/shop.git
	fetch = +refs/heads/*:refs/remotes/origin/*
`
	if got := remoteURL(config, "origin"); got != "https://example.com/shop.git" {
		t.Errorf("origin = %q, want the URL without credentials", got)
	}
	for in, want := range map[string]string{
		"https://example.com/a.git":      "https://example.com/a.git",
		"/srv/git/shop/.":                "file:///srv/git/shop",
		"git@example.com:acme/shop.git":  "ssh://git@example.com/acme/shop.git",
		"ssh://git@example.com/shop.git": "ssh://git@example.com/shop.git",
	} {
		if got := asURL(in); got != want {
			t.Errorf("asURL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := remoteURL(config, "nosuch"); got != "" {
		t.Errorf("a missing remote = %q", got)
	}
	dir := t.TempDir()
	if got := SourceURI(dir); got != "git+file://"+filepath.ToSlash(dir) {
		t.Errorf("SourceURI outside git = %q", got)
	}
}
