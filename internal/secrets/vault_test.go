package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gantry.dev/gantry"
	"github.com/google/go-cmp/cmp"
)

// fakeVault is a Vault server that implements just what the client uses
// of a KV v2 engine mounted at mount: read and write of data, list, read,
// write and delete of metadata. It checks the token and the namespace,
// and can play sealed or hang.
type fakeVault struct {
	token, namespace, mount string
	now                     func() time.Time

	mu       sync.Mutex
	secrets  map[string]*fakeSecret // by path under the mount
	sealed   bool
	hang     bool
	requests []string // "METHOD /path"
}

type fakeSecret struct {
	data             map[string]any // nil: metadata only
	version          int
	created, updated time.Time
	custom           map[string]string
}

func newFakeVault(t *testing.T) (*fakeVault, *httptest.Server) {
	f := &fakeVault{token: "s.good", mount: "kv", secrets: map[string]*fakeSecret{}, now: func() time.Time { return t0 }}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func vaultReply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func vaultFail(w http.ResponseWriter, code int, msgs ...string) {
	vaultReply(w, code, map[string]any{"errors": append([]string{}, msgs...)})
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	sealed, hang := f.sealed, f.hang
	f.mu.Unlock()
	switch {
	case hang:
		<-r.Context().Done()
		return
	case sealed:
		vaultFail(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	case r.Header.Get("X-Vault-Token") != f.token:
		vaultFail(w, http.StatusForbidden, "permission denied")
		return
	case r.Header.Get("X-Vault-Namespace") != f.namespace:
		vaultFail(w, http.StatusForbidden, "permission denied")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/"+f.mount+"/")
	if !ok {
		vaultFail(w, http.StatusNotFound, "no handler for route")
		return
	}
	kind, path, _ := strings.Cut(rest, "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secrets[path]
	meta := func(s *fakeSecret) map[string]any {
		return map[string]any{
			"current_version": s.version,
			"created_time":    s.created.Format(time.RFC3339Nano),
			"updated_time":    s.updated.Format(time.RFC3339Nano),
			"custom_metadata": s.custom,
		}
	}
	switch {
	case kind == "data" && r.Method == http.MethodGet:
		if s == nil || s.data == nil {
			vaultFail(w, http.StatusNotFound)
			return
		}
		vaultReply(w, http.StatusOK, map[string]any{"data": map[string]any{"data": s.data, "metadata": map[string]any{"version": s.version}}})
	case kind == "data" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		var body struct {
			Data map[string]any `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Data == nil {
			vaultFail(w, http.StatusBadRequest, "no data provided")
			return
		}
		if s == nil {
			s = &fakeSecret{created: f.now()}
			f.secrets[path] = s
		}
		s.data, s.updated = body.Data, f.now()
		s.version++
		vaultReply(w, http.StatusOK, map[string]any{"data": map[string]any{"version": s.version}})
	case kind == "metadata" && (r.Method == "LIST" || r.Method == http.MethodGet && r.URL.Query().Get("list") == "true"):
		var keys []string
		for p := range f.secrets {
			sub, ok := strings.CutPrefix(p, path+"/")
			if !ok {
				continue
			}
			if first, _, deeper := strings.Cut(sub, "/"); deeper {
				sub = first + "/"
			}
			if !slices.Contains(keys, sub) {
				keys = append(keys, sub)
			}
		}
		if len(keys) == 0 {
			vaultFail(w, http.StatusNotFound)
			return
		}
		slices.Sort(keys)
		vaultReply(w, http.StatusOK, map[string]any{"data": map[string]any{"keys": keys}})
	case kind == "metadata" && r.Method == http.MethodGet:
		if s == nil {
			vaultFail(w, http.StatusNotFound)
			return
		}
		vaultReply(w, http.StatusOK, map[string]any{"data": meta(s)})
	case kind == "metadata" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		var body struct {
			Custom map[string]string `json:"custom_metadata"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			vaultFail(w, http.StatusBadRequest, err.Error())
			return
		}
		if s == nil {
			s = &fakeSecret{created: f.now(), updated: f.now()}
			f.secrets[path] = s
		}
		s.custom = body.Custom
		w.WriteHeader(http.StatusNoContent)
	case kind == "metadata" && r.Method == http.MethodDelete:
		delete(f.secrets, path)
		w.WriteHeader(http.StatusNoContent)
	default:
		vaultFail(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}

// get returns the secret at path; the lock orders it after the handler's
// writes for the race detector.
func (f *fakeVault) get(path string) *fakeSecret {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secrets[path]
}

func (f *fakeVault) reqs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeVault) set(fn func(f *fakeVault)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func newTestVault(t *testing.T, srv *httptest.Server, cfg VaultConfig) *Vault {
	t.Helper()
	cfg.Addr = srv.URL
	if cfg.Token == "" {
		cfg.Token = "s.good"
	}
	if cfg.Mount == "" {
		cfg.Mount = "kv"
	}
	v, err := NewVault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVaultServiceHappyPath(t *testing.T) {
	ctx := context.Background()
	fake, srv := newFakeVault(t)
	fake.namespace = "team-a"
	s, err := NewVaultService(newTestVault(t, srv, VaultConfig{Namespace: "team-a"}), "")
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "web", "", "DB_PASSWORD", "all-pw")
	mustPut(t, s, "web", "prod", "DB_PASSWORD", "prod-pw")
	mustPut(t, s, "web", "", "TOKEN", "tok")
	mustPut(t, s, "api", "", "OTHER", "x")

	if got := fake.get("gantry/web/_all/DB_PASSWORD").data["value"]; got != "all-pw" {
		t.Errorf("stored at gantry/web/_all/DB_PASSWORD: %v", got)
	}
	if got := fake.get("gantry/web/prod/DB_PASSWORD").custom["updated_by"]; got != "alice" {
		t.Errorf("updated_by = %q", got)
	}

	list, err := s.List(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []Info{
		{Project: "web", Env: "", Name: "DB_PASSWORD", UpdatedAt: t0, UpdatedBy: "alice"},
		{Project: "web", Env: "", Name: "TOKEN", UpdatedAt: t0, UpdatedBy: "alice"},
		{Project: "web", Env: "prod", Name: "DB_PASSWORD", UpdatedAt: t0, UpdatedBy: "alice"},
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	// List reads metadata only, never a value.
	for _, r := range fake.reqs() {
		if strings.HasPrefix(r, "GET /v1/kv/data/") {
			t.Errorf("listing read a value: %s", r)
		}
	}

	got, err := s.Resolve(ctx, "web", "prod", []string{"DB_PASSWORD", "TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"DB_PASSWORD": "prod-pw", "TOKEN": "tok"}, got); diff != "" {
		t.Errorf("Resolve prod (-want +got):\n%s", diff)
	}
	got, _ = s.Resolve(ctx, "web", "staging", []string{"DB_PASSWORD"})
	if got["DB_PASSWORD"] != "all-pw" {
		t.Errorf("Resolve staging = %v", got)
	}
	_, err = s.Resolve(ctx, "web", "prod", []string{"OTHER"})
	if gantry.ErrorKind(err) != gantry.ENotFound || !strings.Contains(err.Error(), "secret OTHER of project web not set") {
		t.Errorf("missing: error = %v", err)
	}

	if err := s.Delete(ctx, "web", "prod", "DB_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	if fake.get("gantry/web/prod/DB_PASSWORD") != nil {
		t.Errorf("delete left the secret")
	}
	if err := s.Delete(ctx, "web", "prod", "DB_PASSWORD"); gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("delete twice: error = %v", err)
	}
	got, _ = s.Resolve(ctx, "web", "prod", []string{"DB_PASSWORD"})
	if got["DB_PASSWORD"] != "all-pw" {
		t.Errorf("after delete, Resolve prod = %v", got)
	}
	if list, err := s.List(ctx, "nothing"); err != nil || len(list) != 0 {
		t.Errorf("List of a project with no secrets = %v, %v", list, err)
	}
	if _, err := s.Rotate(ctx, "k1"); gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), "Vault") {
		t.Errorf("Rotate on Vault: error = %v", err)
	}
	if err := s.Put(ctx, "web", "", "1X", "v", "alice"); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("bad name: error = %v", err)
	}
}

func TestVaultServiceSkipsForeignEntries(t *testing.T) {
	ctx := context.Background()
	fake, srv := newFakeVault(t)
	s, err := NewVaultService(newTestVault(t, srv, VaultConfig{}), "/ci/gantry/")
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "web", "", "A", "a")
	fake.set(func(f *fakeVault) {
		for p, v := range map[string]any{
			"ci/gantry/web/stray":           "x",
			"ci/gantry/web/_all/not-a-name": "x",
			"ci/gantry/web/Bad Env/A":       "x",
			"ci/gantry/web/_all/NUMBER":     42.0,
		} {
			f.secrets[p] = &fakeSecret{data: map[string]any{"value": v}, created: t0, updated: t0}
		}
	})
	list, err := s.List(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, i.Env+"/"+i.Name)
	}
	if diff := cmp.Diff([]string{"/A", "/NUMBER"}, names); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	_, err = s.Resolve(ctx, "web", "", []string{"NUMBER"})
	if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), `secret web/*/NUMBER in Vault has no string field "value"`) {
		t.Errorf("a non-string value: error = %v", err)
	}
}

func TestVaultFailures(t *testing.T) {
	ctx := context.Background()
	fake, srv := newFakeVault(t)
	good := newTestVault(t, srv, VaultConfig{})
	if err := good.Write(ctx, "p/x", map[string]any{"value": "v"}); err != nil {
		t.Fatal(err)
	}

	bad := newTestVault(t, srv, VaultConfig{Token: "s.wrong"})
	_, err := bad.Read(ctx, "p/x")
	if gantry.ErrorKind(err) != gantry.EUnavailable || !strings.Contains(err.Error(), "vault read kv/data/p/x at "+srv.URL+": permission denied (403): check the token and its policy: permission denied") {
		t.Errorf("bad token: error = %v", err)
	}
	if strings.Contains(err.Error(), "s.wrong") {
		t.Errorf("the error shows the token: %v", err)
	}
	ns := newTestVault(t, srv, VaultConfig{Namespace: "other"})
	if _, err := ns.List(ctx, "p"); err == nil || !strings.Contains(err.Error(), "(403)") {
		t.Errorf("wrong namespace: error = %v", err)
	}

	_, err = good.Read(ctx, "p/missing")
	if !errors.Is(err, gantry.ErrNotFound) || !strings.Contains(err.Error(), "vault read kv/data/p/missing: not found") {
		t.Errorf("missing: error = %v", err)
	}
	if keys, err := good.List(ctx, "nothing/here"); err != nil || keys != nil {
		t.Errorf("list of nothing = %v, %v", keys, err)
	}

	fake.set(func(f *fakeVault) { f.sealed = true })
	s, _ := NewVaultService(good, "")
	_, err = s.Resolve(ctx, "web", "", []string{"A"})
	if gantry.ErrorKind(err) != gantry.EUnavailable || !strings.Contains(err.Error(), "Vault is sealed or in maintenance (503): unseal it: Vault is sealed") {
		t.Errorf("sealed: error = %v", err)
	}
	if err := s.Put(ctx, "web", "", "A", "v", "alice"); err == nil || !strings.Contains(err.Error(), "(503)") {
		t.Errorf("sealed put: error = %v", err)
	}
	fake.set(func(f *fakeVault) { f.sealed = false; f.hang = true })

	quick := newTestVault(t, srv, VaultConfig{Timeout: 20 * time.Millisecond})
	_, err = quick.Read(ctx, "p/x")
	if gantry.ErrorKind(err) != gantry.EUnavailable || !strings.Contains(err.Error(), "no answer within 20ms") {
		t.Errorf("hanging Vault: error = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := good.Read(cctx, "p/x"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error = %v", err)
	}
	fake.set(func(f *fakeVault) { f.hang = false })

	// A Vault that answers but is not a KV v2 engine.
	if _, err := good.Read(ctx, "p/x"); err != nil {
		t.Fatal(err)
	}
	odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":{"value":"v1 layout"}}`))
	}))
	defer odd.Close()
	kv1 := newTestVault(t, odd, VaultConfig{})
	if _, err := kv1.Read(ctx, "p/x"); err == nil || !strings.Contains(err.Error(), "is the mount a KV version 2 engine?") {
		t.Errorf("KV v1 answer: error = %v", err)
	}
	teapot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vaultFail(w, http.StatusTeapot, strings.Repeat("e", 300))
	}))
	defer teapot.Close()
	_, err = newTestVault(t, teapot, VaultConfig{}).Read(ctx, "p/x")
	if err == nil || !strings.Contains(err.Error(), "status 418: eee") || len(err.Error()) > 400 {
		t.Errorf("other status: error = %v", err)
	}

	// Bad input is refused before any request.
	n := len(fake.reqs())
	for _, p := range []string{"", "a//b", "../etc", "a/./b", "a b", "a/%2e%2e", "a?list=true"} {
		if _, err := good.Read(ctx, p); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("path %q: error = %v", p, err)
		}
	}
	if r := fake.reqs(); len(r) != n {
		t.Errorf("bad paths reached Vault: %v", r[n:])
	}
}

// TestVaultRedirectKeepsToken checks that a redirect is not followed: Go
// would send X-Vault-Token along to wherever it points.
func TestVaultRedirectKeepsToken(t *testing.T) {
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("X-Vault-Token") != "")
		w.Write([]byte(`{"data":{"data":{"value":"x"}}}`))
	}))
	defer elsewhere.Close()
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer standby.Close()
	_, err := newTestVault(t, standby, VaultConfig{}).Read(context.Background(), "p/x")
	if err == nil || !strings.Contains(err.Error(), "redirected (307)") {
		t.Errorf("error = %v", err)
	}
	if leaked.Load() {
		t.Errorf("the token was sent to the redirect's target")
	}
}

func TestNewVault(t *testing.T) {
	for _, tc := range []struct {
		cfg  VaultConfig
		want string
	}{
		{VaultConfig{Addr: "vault:8200", Token: "t"}, "must be an http or https URL"},
		{VaultConfig{Addr: "ftp://vault", Token: "t"}, "must be an http or https URL"},
		{VaultConfig{Addr: "https://", Token: "t"}, "must be an http or https URL"},
		{VaultConfig{Addr: "https://vault"}, "no token"},
		{VaultConfig{Addr: "https://vault", Token: "t", Mount: "a/../b"}, "vault mount"},
	} {
		if _, err := NewVault(tc.cfg); gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewVault(%+v) error = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	v, err := NewVault(VaultConfig{Addr: "https://vault:8200/", Token: "t"})
	if err != nil || v.mount != "secret" || v.timeout != 10*time.Second {
		t.Errorf("defaults: %+v, %v", v, err)
	}
	if _, err := NewVaultService(v, "a/../b"); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("bad prefix: error = %v", err)
	}
}

func TestVaultAddressWithPath(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.Path
		w.Write([]byte(`{"data":{"keys":["a"]}}`))
	}))
	defer srv.Close()
	v, err := NewVault(VaultConfig{Addr: srv.URL + "/proxy/", Token: "t", Mount: "/team/kv/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.List(context.Background(), "x/y"); err != nil {
		t.Fatal(err)
	}
	if got != "LIST /proxy/v1/team/kv/metadata/x/y" {
		t.Errorf("request = %q", got)
	}
}

// FuzzVaultAnswers checks that any answer body is decoded or refused
// without a panic.
func FuzzVaultAnswers(f *testing.F) {
	f.Add([]byte(`{"data":{"data":{"value":"v"},"metadata":{"version":1}}}`))
	f.Add([]byte(`{"data":{"keys":["a","b/"]}}`))
	f.Add([]byte(`{"data":{"current_version":2,"updated_time":"2026-05-01T12:00:00Z","custom_metadata":{"updated_by":"a"}}}`))
	f.Add([]byte(`{"errors":["permission denied"]}`))
	f.Add([]byte(`{"data":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if d, err := decodeVaultRead(body); err == nil && d == nil {
			t.Fatal("read: no data and no error")
		}
		decodeVaultList(body)
		if md, err := decodeVaultMetadata(body); err == nil && md == nil {
			t.Fatal("metadata: no data and no error")
		}
		if s := vaultErrors(body); len(s) > 2+200+len("…") {
			t.Fatalf("vaultErrors is %d bytes long", len(s))
		}
	})
}
