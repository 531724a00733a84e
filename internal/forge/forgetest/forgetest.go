// Package forgetest serves git repositories over smart HTTP behind basic
// authentication, as a forge does, for tests of cloning with credentials.
package forgetest

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GitServer is a forge's git endpoint in a test.
type GitServer struct {
	URL  string // where repositories are: URL + "/owner/name.git"
	Root string // the directory the bare repositories are in
}

// NewGitServer serves the bare repositories under a new directory with
// git http-backend, to requests with basic authentication user:token
// only. It skips the test when git or its http-backend is missing.
func NewGitServer(t testing.TB, user, token string) *GitServer {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed: apt-get install git to run this test")
	}
	out, err := exec.Command(git, "--exec-path").Output()
	if err != nil {
		t.Skipf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git-http-backend not found at %s", backend)
	}
	root := t.TempDir()
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="forge"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &GitServer{URL: srv.URL, Root: root}
}

// AddRepo makes the bare repository path ("owner/name.git") with one
// commit holding files, and returns its URL and the commit.
func (s *GitServer) AddRepo(t testing.TB, path string, files map[string]string) (url, commit string) {
	t.Helper()
	work := t.TempDir()
	run := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(work, "init", "-q", "-b", "main")
	for name, content := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(work, "add", "-A")
	run(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
	run(work, "clone", "-q", "--bare", ".", filepath.Join(s.Root, filepath.FromSlash(path)))
	return s.URL + "/" + path, run(work, "rev-parse", "HEAD")
}
