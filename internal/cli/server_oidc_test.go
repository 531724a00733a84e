package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/internal/auth/oidctest"
)

func TestServerOIDCFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	secret := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	open := secret("open", "s3cret\n", 0o644)
	group := secret("group", "s3cret\n", 0o640)
	empty := secret("empty", " \n", 0o600)
	ok := secret("ok", "s3cret\n", 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--oidc-client-id", "gantry"}, "--oidc-client-id needs --oidc-issuer"},
		{[]string{"--oidc-auto-provision"}, "--oidc-auto-provision needs --oidc-issuer"},
		{[]string{"--oidc-issuer", "https://id.example"}, "--oidc-issuer needs --oidc-client-id"},
		{[]string{"--oidc-issuer", "id.example", "--oidc-client-id", "gantry"}, "expected an http:// or https:// URL"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "gantry", "--oidc-redirect-url", "/login/oidc/callback"}, "--oidc-redirect-url"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "gantry", "--oidc-username-claim", "name"}, "expected email or preferred_username"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "gantry", "--oidc-client-secret-file", open}, "mode 0644 lets group or others at it: chmod 600"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "gantry", "--oidc-client-secret-file", group}, "mode 0640"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "gantry", "--oidc-client-secret-file", empty}, "is empty"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "gantry", "--oidc-client-secret-file", filepath.Join(dir, "none")}, "no such file"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "gantry", "--oidc-client-secret-file", dir}, "not a regular file"},
		// Discovery fails: nothing answers there.
		{[]string{"--oidc-issuer", "http://127.0.0.1:1", "--oidc-client-id", "gantry", "--oidc-client-secret-file", ok}, "--oidc-issuer: oidc: discover"},
	} {
		args := append([]string{"server", "--addr", "127.0.0.1:0", "--no-agent", "--data-dir", filepath.Join(t.TempDir(), "data")}, tc.args...)
		code, _, stderr := gantryIn(t, args...)
		if code == ExitOK || !strings.Contains(stderr, tc.want) {
			t.Errorf("gantry %s: exit %d, stderr %q; want it to say %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

func TestCallbackHost(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}
	for addr, want := range map[string]string{
		"127.0.0.1:8080":    "127.0.0.1:8080",
		"gantry.lan:8080":   "gantry.lan:8080",
		":8080":             "localhost:8080",
		"0.0.0.0:8080":      "localhost:8080",
		"[::]:8080":         "localhost:8080",
		"[::1]:8080":        "[::1]:8080",
		"127.0.0.1:0":       "127.0.0.1:41234",
		"not an address":    "127.0.0.1:41234",
		"gantry.lan:http":   "gantry.lan:http",
		"localhost:0":       "localhost:41234",
		"[fe80::1%eth0]:80": "[fe80::1%eth0]:80",
	} {
		if got := callbackHost(addr, bound); got != want {
			t.Errorf("callbackHost(%q) = %q, want %q", addr, got, want)
		}
	}
}

// lockedBuffer is a stderr the server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServerOIDCSignIn runs gantry server with single sign-on against the
// fake provider: a browser signs in, is provisioned, and its session
// cookie works on the API.
func TestServerOIDCSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	op := oidctest.NewProvider(t, time.Now)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(op.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"server", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--no-agent", "--insecure-cookies",
			"--oidc-issuer", op.URL, "--oidc-client-id", op.ClientID, "--oidc-client-secret-file", secretFile,
			"--oidc-username-claim", "preferred_username", "--oidc-auto-provision"},
			&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, environ: os.Environ(), getwd: os.Getwd, isTerminal: func(io.Writer) bool { return false }})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("gantry server exited %d:\n%s", code, stderr.String())
		}
	})
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", stderr.String())
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("gantry server exited %d:\n%s", code, stderr.String())
		default:
		}
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if _, body := get("/login"); !strings.Contains(body, "Sign in with single sign-on") {
		t.Errorf("the login page does not offer single sign-on:\n%s", body)
	}
	resp, body := get("/login/oidc")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != base+"/" || !strings.Contains(body, "dana") {
		t.Fatalf("single sign-on ended at %s: %s\n%s", resp.Request.URL, resp.Status, body)
	}
	if resp, body := get("/api/v1/projects"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/projects after single sign-on: %s %s", resp.Status, body)
	}
}
