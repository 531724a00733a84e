package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/webapp"
	"example.com/webapp/auth"
	"example.com/webapp/sqlite"
)

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	cfg, err := parseConfig(nil, getenv(nil), io.Discard)
	if err != nil || cfg.addr != "127.0.0.1:8080" || cfg.dbPath != "webapp.db" {
		t.Errorf("defaults = %+v, %v", cfg, err)
	}
	env := getenv(map[string]string{"WEBAPP_ADDR": ":9000", "WEBAPP_DB": "/tmp/x.db"})
	if cfg, _ := parseConfig(nil, env, io.Discard); cfg.addr != ":9000" || cfg.dbPath != "/tmp/x.db" {
		t.Errorf("from env = %+v", cfg)
	}
	if cfg, _ := parseConfig([]string{"-addr", ":9001"}, env, io.Discard); cfg.addr != ":9001" {
		t.Errorf("flag does not override env: %+v", cfg)
	}
	if _, err := parseConfig([]string{"extra"}, env, io.Discard); err == nil {
		t.Error("extra argument accepted")
	}
	if _, err := parseConfig([]string{"-h"}, env, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if _, err := parseConfig(nil, getenv(map[string]string{"WEBAPP_ADMIN_USER": "admin"}), io.Discard); err == nil {
		t.Error("admin user without password accepted")
	}
}

func TestSeedAdmin(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "webapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := config{adminUser: "admin", adminPassword: "first password", hasher: auth.Hasher{Iterations: 1000}}
	if err := seedAdmin(ctx, db, cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg.adminPassword = "second password"
	if err := seedAdmin(ctx, db, cfg, time.Now()); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	u, err := db.UserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.Verify(u.PasswordHash, "first password"); !ok {
		t.Error("a restart replaced the existing admin's password")
	}
	for _, bad := range []config{
		{adminUser: "Admin!", adminPassword: "long enough pw"},
		{adminUser: "admin2", adminPassword: "short"},
	} {
		var verr *webapp.ValidationError
		if err := seedAdmin(ctx, db, bad, time.Now()); !errors.As(err, &verr) {
			t.Errorf("seedAdmin(%q): %v, want a validation error", bad.adminUser, err)
		}
	}
}

// pipeListener is an in-memory net.Listener, so that the end-to-end test
// needs no network, not even loopback: pipelines may run without one.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// DialContext connects a client to the listener.
func (l *pipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// TestRun starts the service as main does, logs in as the seeded admin,
// creates an item, and shuts the service down.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ln := newPipeListener()
	var gotAddr string
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, environment{
			args: []string{"-addr", "127.0.0.1:0"},
			getenv: getenv(map[string]string{
				"WEBAPP_DB":             filepath.Join(t.TempDir(), "webapp.db"),
				"WEBAPP_ADMIN_USER":     "admin",
				"WEBAPP_ADMIN_PASSWORD": "a long test password",
			}),
			stdout: pw,
			stderr: io.Discard,
			listen: func(_, addr string) (net.Listener, error) {
				gotAddr = addr
				return ln, nil
			},
		})
		pw.Close()
		done <- err
	}()

	lines := make(chan map[string]any, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"msg": "not JSON", "line": sc.Text()}
			}
			lines <- m
		}
	}()
	started := false
	for m := range lines {
		if m["msg"] == "listening" {
			started = true
			break
		}
	}
	if !started {
		t.Fatalf("service did not start: %v", <-done)
	}
	if gotAddr != "127.0.0.1:0" {
		t.Errorf("listened on %q, want the -addr flag", gotAddr)
	}

	client := &http.Client{Transport: &http.Transport{DialContext: ln.DialContext}}
	res, err := client.Post("http://webapp/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"a long test password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || login.Token == "" {
		t.Fatalf("login: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", "http://webapp/api/items", strings.NewReader(`{"name":"bolts","quantity":3}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+login.Token)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create item: %d", res.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	var sawAccess, sawStopped bool
	for m := range lines {
		if m["msg"] == "not JSON" {
			t.Errorf("log line is not JSON: %q", m["line"])
		}
		sawAccess = sawAccess || m["msg"] == "request" && m["path"] == "/api/items" && m["status"] == 201.0
		sawStopped = sawStopped || m["msg"] == "stopped"
	}
	if !sawAccess || !sawStopped {
		t.Errorf("log lacks the access line (%v) or the stop (%v)", sawAccess, sawStopped)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	failListen := func(string, string) (net.Listener, error) { return nil, errors.New("address in use") }
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad flag", []string{"-bogus"}, nil, "flag provided but not defined"},
		{"bad database", []string{"-db", filepath.Join(dir, "no", "such", "dir.db")}, nil, "open database"},
		{"bad admin", []string{"-db", filepath.Join(dir, "a.db")}, map[string]string{"WEBAPP_ADMIN_USER": "Bad Name", "WEBAPP_ADMIN_PASSWORD": "long enough pw"}, "WEBAPP_ADMIN_USER"},
		{"listen fails", []string{"-db", filepath.Join(dir, "b.db")}, nil, "listen: address in use"},
	} {
		err := run(t.Context(), environment{args: tc.args, getenv: getenv(tc.env), stdout: io.Discard, stderr: io.Discard, listen: failListen})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
