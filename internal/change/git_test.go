package change

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// repo is a git repository in a temporary directory whose commits have
// fixed dates.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r := &repo{t: t, dir: t.TempDir()}
	r.git(time.Time{}, "", "init", "-q", "-b", "main")
	return r
}

// git runs git as the author "Name <email>" at the time at.
func (r *repo) git(at time.Time, author string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	name, email := "Nobody", "nobody@example.com"
	if author != "" {
		n, e, _ := strings.Cut(author, " <")
		name, email = n, strings.TrimSuffix(e, ">")
	}
	date := at.Format(time.RFC3339)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email, "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email, "GIT_COMMITTER_DATE="+date,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything as author at at with message msg and returns
// its SHA.
func (r *repo) commit(at time.Time, author, msg string) string {
	r.t.Helper()
	r.git(at, author, "add", "-A")
	r.git(at, author, "commit", "-q", "--allow-empty", "-m", msg)
	return r.git(at, author, "rev-parse", "HEAD")
}

var (
	day1 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	day2 = time.Date(2026, 3, 3, 9, 30, 0, 0, time.UTC)
	day3 = time.Date(2026, 3, 4, 14, 0, 0, 0, time.FixedZone("", 3600))
	seen = time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
)

func TestFromGitRootCommit(t *testing.T) {
	r := newRepo(t)
	r.write("README.md", "one\ntwo\nthree\n")
	r.write("logo.png", "\x89PNG\x00\x01\x02")
	sha := r.commit(day1, "Alice Liddell <alice@example.com>", "Start the shop\n\nUrgent: the launch is today")
	got, err := FromGit(context.Background(), r.dir, "main", seen)
	if err != nil {
		t.Fatal(err)
	}
	want := &gantry.Change{
		ID:         sha[:12],
		Title:      "Start the shop",
		Author:     "alice@example.com",
		Branch:     "main",
		BaseBranch: "main",
		Commits:    []gantry.Commit{{SHA: sha, Author: "Alice Liddell", AuthorEmail: "alice@example.com", Subject: "Start the shop", Time: day1}},
		Lines:      3,
		Files:      2,
		Paths:      []string{"README.md", "logo.png"},
		Urgent:     "the launch is today",
		Opened:     day1,
		UpdatedAt:  seen,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromGit (-want +got):\n%s", diff)
	}
}

func TestFromGitBranch(t *testing.T) {
	r := newRepo(t)
	r.write("README.md", "shop\n")
	r.write("internal/auth/login.go", "package auth\n\nfunc Login() {}\n")
	r.commit(day1, "Alice Liddell <alice@example.com>", "Start the shop")
	r.git(day1, "", "checkout", "-q", "-b", "feature/pay")
	r.write("internal/pay/pay.go", "package pay\n\n// Pay pays.\nfunc Pay() {}\n")
	first := r.commit(day2, "Alice Liddell <alice@example.com>", "Add payments\n\nReviewed-by: Bob Builder <bob@example.com>\nApproved-by: carol")
	r.git(day3, "", "mv", "internal/auth/login.go", "internal/auth/sign in.go")
	r.write("docs/café.md", "menu\n")
	head := r.commit(day3, "Dave <dave@example.com>", "Rename login\n\nReviewed-by: bob@example.com\nUrgent: the login page is down")
	// main moves on; the change is still measured from where it left.
	r.git(day3, "", "checkout", "-q", "main")
	r.write("CHANGELOG.md", "1.0\n")
	r.commit(day3, "Alice Liddell <alice@example.com>", "Changelog")
	r.git(day3, "", "checkout", "-q", "feature/pay")

	got, err := FromGit(context.Background(), r.dir, "main", seen)
	if err != nil {
		t.Fatal(err)
	}
	want := &gantry.Change{
		ID:         head[:12],
		Title:      "Rename login",
		Author:     "dave@example.com",
		Branch:     "feature/pay",
		BaseBranch: "main",
		Commits: []gantry.Commit{
			{SHA: first, Author: "Alice Liddell", AuthorEmail: "alice@example.com", Subject: "Add payments", Time: day2},
			{SHA: head, Author: "Dave", AuthorEmail: "dave@example.com", Subject: "Rename login", Time: day3},
		},
		Reviews: []gantry.Review{
			{Reviewer: "bob@example.com", State: gantry.ReviewApproved, At: day2, Source: gantry.ReviewFromTrailer},
			{Reviewer: "carol", State: gantry.ReviewApproved, At: day2, Source: gantry.ReviewFromTrailer},
		},
		Lines:     5,
		Files:     3,
		Paths:     []string{"docs/café.md", "internal/auth/sign in.go", "internal/pay/pay.go"},
		Urgent:    "the login page is down",
		Opened:    day2,
		UpdatedAt: seen,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromGit (-want +got):\n%s", diff)
	}
	if got := got.Authors(); !cmp.Equal(got, []string{"dave@example.com", "Alice Liddell", "alice@example.com", "Dave"}) {
		t.Errorf("Authors = %q", got)
	}

	// Without its base branch, the change is the head commit alone.
	got, err = FromGit(context.Background(), r.dir, "trunk", seen)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Commits) != 1 || got.Commits[0].SHA != head || got.Files != 2 || got.Lines != 1 || got.Opened != day3 || got.BaseBranch != "trunk" {
		t.Errorf("without a base: %+v, want the head commit alone: a rename and a new line", got)
	}
	if len(got.Reviews) != 1 || got.Reviews[0].Reviewer != "bob@example.com" {
		t.Errorf("without a base: reviews %+v, want bob's alone", got.Reviews)
	}
}

func TestFromGitOnBase(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit(day1, "Alice Liddell <alice@example.com>", "A")
	r.write("a.txt", "a\nb\n")
	second := r.commit(day2, "Bob <bob@example.com>", "B")

	for _, tc := range []struct {
		name string
		prep func()
		base string
	}{
		{"on the base branch", func() {}, "main"},
		{"detached at the base", func() { r.git(day2, "", "checkout", "-q", "--detach", "main") }, "main"},
		{"no base given", func() {}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prep()
			got, err := FromGit(context.Background(), r.dir, tc.base, seen)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Commits) != 1 || got.Commits[0].SHA != second || got.Lines != 1 || got.Files != 1 || got.Author != "bob@example.com" {
				t.Errorf("FromGit = %+v, want the head commit alone against its parent", got)
			}
		})
	}
}

func TestFromGitNoRepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	_, err := FromGit(context.Background(), dir, "main", seen)
	if gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("err = %v (%s), want an invalid-input error", err, gantry.ErrorKind(err))
	}
	r := newRepo(t)
	if _, err := FromGit(context.Background(), r.dir, "main", seen); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("without commits: err = %v (%s), want an invalid-input error", err, gantry.ErrorKind(err))
	}
}

func TestID(t *testing.T) {
	for _, tc := range []struct {
		t    gantry.Trigger
		want string
	}{
		{gantry.Trigger{PullRequest: 42, Commit: "0123456789abcdef0123"}, "pr-42"},
		{gantry.Trigger{Commit: "0123456789ABCDEF0123456789abcdef01234567"}, "0123456789ab"},
		{gantry.Trigger{Commit: "abc"}, "abc"},
		{gantry.Trigger{}, ""},
	} {
		if got := ID(tc.t); got != tc.want {
			t.Errorf("ID(%+v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestFromWorkTree(t *testing.T) {
	r := newRepo(t)
	r.write("app.go", "package app\n")
	r.commit(day1, "Alice Liddell <alice@example.com>", "Start")
	r.write("feature.go", "package app\n")
	sha := r.commit(day2, "Alice Liddell <alice@example.com>", "Add a feature")
	// Uncommitted: an edit to a tracked file and a new, added one; an
	// untracked file does not count until it is added.
	r.write("app.go", "package app\n\nfunc Login() {}\n")
	r.write("internal/auth/token.go", "package auth\n")
	r.git(day3, "", "add", "internal/auth/token.go")
	r.write("scratch.txt", "notes\n")

	if !Dirty(context.Background(), r.dir) {
		t.Error("Dirty: false with uncommitted changes")
	}
	got, err := FromWorkTree(context.Background(), r.dir, "main", seen)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != sha[:12] || got.Title != "Add a feature (with uncommitted changes)" {
		t.Errorf("change %s %q", got.ID, got.Title)
	}
	if want := []string{"app.go", "feature.go", "internal/auth/token.go"}; !slices.Equal(got.Paths, want) || got.Lines != 4 {
		t.Errorf("paths %v, %d lines; want %v, 4 lines", got.Paths, got.Lines, want)
	}
	committed, err := FromGit(context.Background(), r.dir, "main", seen)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"feature.go"}; !slices.Equal(committed.Paths, want) {
		t.Errorf("FromGit paths %v, want %v: it measures HEAD", committed.Paths, want)
	}
	r.commit(day3, "Alice Liddell <alice@example.com>", "Log in")
	if Dirty(context.Background(), r.dir) {
		t.Error("Dirty: true with everything committed (untracked files do not count)")
	}
}
