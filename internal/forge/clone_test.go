package forge

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/forge/forgetest"
)

const cloneToken = "glpat-Zx9cV8bN7mQ6wE5rT4yU"

func TestNewCloneURL(t *testing.T) {
	tests := []struct {
		forge    Type
		repoURL  string
		reveal   string
		redacted string
	}{
		{TypeGitHub, "https://github.com/acme/orders.git",
			"https://x-access-token:" + cloneToken + "@github.com/acme/orders.git", "https://x-access-token:xxxxx@github.com/acme/orders.git"},
		{TypeGitLab, "https://gitlab.acme.example/shop/backend/orders.git",
			"https://oauth2:" + cloneToken + "@gitlab.acme.example/shop/backend/orders.git", "https://oauth2:xxxxx@gitlab.acme.example/shop/backend/orders.git"},
		{TypeGitea, "http://127.0.0.1:3000/acme/orders.git",
			"http://oauth2:" + cloneToken + "@127.0.0.1:3000/acme/orders.git", "http://oauth2:xxxxx@127.0.0.1:3000/acme/orders.git"},
		// Credentials already in the URL are replaced, a fragment dropped.
		{TypeGitHub, "https://old:stale@github.com/acme/orders.git#main",
			"https://x-access-token:" + cloneToken + "@github.com/acme/orders.git", "https://x-access-token:xxxxx@github.com/acme/orders.git"},
	}
	for _, tt := range tests {
		c, err := NewCloneURL(tt.forge, tt.repoURL, cloneToken)
		if err != nil {
			t.Fatalf("%s: %v", tt.repoURL, err)
		}
		if got := c.Reveal(); got != tt.reveal {
			t.Errorf("Reveal() = %s, want %s", got, tt.reveal)
		}
		if got := c.Redacted(); got != tt.redacted {
			t.Errorf("Redacted() = %s, want %s", got, tt.redacted)
		}
		if got := c.Token(); got != cloneToken {
			t.Errorf("Token() = %s", got)
		}
		if strings.Contains(c.Plain(), "@") {
			t.Errorf("Plain() = %s has credentials", c.Plain())
		}
	}
}

func TestCloneURLPrintsNoToken(t *testing.T) {
	c, err := NewCloneURL(TypeGitHub, "https://github.com/acme/orders.git", cloneToken)
	if err != nil {
		t.Fatal(err)
	}
	holder := struct {
		Job   string
		Clone CloneURL
	}{"j-1", c}
	var printed []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		printed = append(printed, fmt.Sprintf(verb, c), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &holder))
	}
	printed = append(printed, fmt.Sprint(c), fmt.Sprintln(c), c.String())
	b, _ := json.Marshal(holder)
	printed = append(printed, string(b))
	var log strings.Builder
	slog.New(slog.NewTextHandler(&log, nil)).Info("clone", "url", c, "holder", holder)
	slog.New(slog.NewJSONHandler(&log, nil)).Info("clone", "url", c)
	printed = append(printed, log.String())
	for _, s := range printed {
		if strings.Contains(s, cloneToken) {
			t.Errorf("printed form shows the token: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(c), "x-access-token:xxxxx@github.com") {
		t.Errorf("printed form %q is not the redacted URL", fmt.Sprint(c))
	}
}

func TestNewCloneURLRefuses(t *testing.T) {
	tests := []struct {
		forge   Type
		repoURL string
		token   string
		msg     string
	}{
		{TypeGitHub, "git@github.com:acme/orders.git", cloneToken, "not an http(s) URL"},
		{TypeGitHub, "ssh://git@github.com/acme/orders.git", cloneToken, `cannot travel over "ssh"`},
		{TypeGitHub, "https://github.com/acme/orders.git", "", "no token"},
		{TypeGitHub, "https://github.com/acme/orders.git", "abc def", "white space"},
		{TypeGitHub, "https://github.com/acme/orders.git", "abc\n", "white space"},
		{"bitbucket", "https://bitbucket.org/acme/orders.git", cloneToken, "unknown forge"},
		{TypeGitLab, "https://gitlab.acme.example/%zz", cloneToken, "not an http(s) URL"},
	}
	for _, tt := range tests {
		_, err := NewCloneURL(tt.forge, tt.repoURL, tt.token)
		if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("NewCloneURL(%s, %q): %v, want %q", tt.forge, tt.repoURL, err, tt.msg)
		}
		if err != nil && tt.token != "" && strings.Contains(err.Error(), tt.token) {
			t.Errorf("error %q holds the token", err)
		}
	}
	if _, err := NewCloneURLUser("https://gitlab.acme.example/a/b.git", "gitlab-ci:token", cloneToken); err == nil {
		t.Error("a user name with a colon was accepted")
	}
}

// TestCloneWithGit clones through a real git smart-HTTP server (git
// http-backend behind basic auth), with the credentials in the URL and
// with them in the environment only.
func TestCloneWithGit(t *testing.T) {
	srv := forgetest.NewGitServer(t, "x-access-token", cloneToken)
	repo, _ := srv.AddRepo(t, "acme/orders.git", map[string]string{"README": "orders\n"})
	git, _ := exec.LookPath("git")
	root := t.TempDir()

	c, err := NewCloneURL(TypeGitHub, repo, cloneToken)
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "HOME="+root, "GIT_CONFIG_NOSYSTEM=1")

	// Without credentials the forge refuses.
	cmd := exec.Command(git, "clone", "-q", c.Plain(), filepath.Join(root, "none"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("clone without credentials succeeded: %s", out)
	}

	// With the credentials in the URL.
	cmd = exec.Command(git, "clone", "-q", c.Reveal(), filepath.Join(root, "byurl"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clone with Reveal(): %v: %s", err, strings.ReplaceAll(string(out), cloneToken, "TOKEN"))
	}

	// With the credentials in the environment only: they are not left in
	// the checkout.
	cmd = exec.Command(git, "clone", "-q", c.Plain(), filepath.Join(root, "byenv"))
	cmd.Env = append(env, c.GitEnv()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clone with GitEnv(): %v: %s", err, strings.ReplaceAll(string(out), cloneToken, "TOKEN"))
	}
	if _, err := os.Stat(filepath.Join(root, "byenv", "README")); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "byenv", ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), cloneToken) || strings.Contains(string(cfg), "extraHeader") {
		t.Errorf("the checkout's .git/config holds the credentials:\n%s", cfg)
	}
}

func TestParseRepoURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/orders.git":                          "acme/orders",
		"https://github.com/acme/orders":                              "acme/orders",
		"https://github.com/acme/orders/":                             "acme/orders",
		"https://user:pw@gitlab.acme.example/shop/backend/orders.git": "shop/backend/orders",
		"ssh://git@gitea.acme.example:2222/acme/orders.git":           "acme/orders",
		"git@github.com:acme/orders.git":                              "acme/orders",
	} {
		got, err := ParseRepoURL(in)
		if err != nil || got.FullName != want {
			t.Errorf("ParseRepoURL(%q) = %+v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "orders", "https://github.com/orders", "https://github.com/acme/../orders", "/srv/git/orders", "https://u:hunter2@github.com/x"} {
		_, err := ParseRepoURL(in)
		if gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("ParseRepoURL(%q): %v", in, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q holds a password", err)
		}
	}
}
