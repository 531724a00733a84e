package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/forge"
	"gantry.dev/gantry/internal/forge/forgetest"
)

// TestCheckoutWithReadOnlyToken clones a private repository the way a job
// does: the token goes to git as a header for that clone only, so the
// checkout a step sees holds no trace of it.
func TestCheckoutWithReadOnlyToken(t *testing.T) {
	const token = "ghs_made-up-read-only-token-0123456789"
	srv := forgetest.NewGitServer(t, "x-access-token", token)
	repo, commit := srv.AddRepo(t, "acme/shop.git", map[string]string{".gantry.yml": "version: 1\n"})
	dir := filepath.Join(t.TempDir(), "job")

	if _, err := checkout(context.Background(), repo, nil, "main", commit, dir); err == nil {
		t.Fatal("a clone without the token succeeded")
	}
	cu, err := forge.NewCloneURL(forge.TypeGitHub, repo, token)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	got, err := checkout(context.Background(), cu.Plain(), cu.GitEnv(), "main", commit, dir)
	if err != nil {
		t.Fatalf("checkout with the token: %v", err)
	}
	if got != commit {
		t.Errorf("checked out %s, want %s", got, commit)
	}
	err = filepath.Walk(filepath.Join(dir, ".git"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s holds the token", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
