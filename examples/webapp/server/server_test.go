package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/webapp"
	"example.com/webapp/auth"
	"example.com/webapp/sqlite"
)

const password = "correct horse battery"

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	srv   *Server
	db    *sqlite.DB
	clock *clock
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var hasher = auth.Hasher{Iterations: 1000} // fast for tests

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "webapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db, clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, logs: &syncBuffer{}}
	e.srv = e.newServer(db)
	for _, name := range []string{"alice", "bob"} {
		hash, err := hasher.Hash(password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateUser(t.Context(), webapp.User{Username: name, PasswordHash: hash, CreatedAt: e.clock.now()}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) newServer(store Store) *Server {
	e.t.Helper()
	srv, err := New(store, Config{
		Logger:         slog.New(slog.NewJSONHandler(e.logs, nil)),
		Now:            e.clock.now,
		Hasher:         hasher,
		SessionTTL:     time.Hour,
		LoginBurst:     3,
		LoginPerMinute: 6,
		MaxBodyBytes:   1024,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return srv
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request; body, if not nil, is sent as JSON.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var r io.Reader
	if s, ok := body.(string); ok {
		r = strings.NewReader(s)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	req.RemoteAddr = "192.0.2.1:4321"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q: %v", method, path, rec.Body, err)
		}
	}
	return res
}

func (e *env) login(user string) string {
	e.t.Helper()
	res := e.do("POST", "/api/login", "", map[string]string{"username": user, "password": password})
	if res.status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", user, res.status, res.raw)
	}
	return res.body["token"].(string)
}

func wantStatus(t *testing.T, res response, status int, errContains string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d; body %s", res.status, status, res.raw)
	}
	if errContains != "" {
		msg, _ := res.body["error"].(string)
		if !strings.Contains(msg, errContains) {
			t.Errorf("error %q, want it to contain %q", msg, errContains)
		}
		if res.body["request_id"] == "" {
			t.Error("error response has no request_id")
		}
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	res := e.do("GET", "/healthz", "", nil)
	wantStatus(t, res, http.StatusOK, "")
	if res.body["status"] != "ok" {
		t.Errorf("body %v", res.body)
	}
	e.db.Close()
	wantStatus(t, e.do("GET", "/healthz", "", nil), http.StatusServiceUnavailable, "")
}

func TestSecurityHeadersAndAccessLog(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/nope"} {
		res := e.do("GET", path, "", nil)
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Cache-Control":           "no-store",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := res.header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, h, got, want)
			}
		}
		if len(res.header.Get("X-Request-Id")) != 16 {
			t.Errorf("GET %s: X-Request-Id = %q", path, res.header.Get("X-Request-Id"))
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(e.logs.String(), "\n", 2)[0]), &line); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"msg": "request", "method": "GET", "path": "/healthz", "status": 200.0, "remote": "192.0.2.1"} {
		if line[k] != want {
			t.Errorf("access log %s = %v, want %v (line %v)", k, line[k], want, line)
		}
	}
	for _, k := range []string{"duration_ms", "request_id", "bytes"} {
		if _, ok := line[k]; !ok {
			t.Errorf("access log has no %s: %v", k, line)
		}
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	res := e.do("POST", "/api/login", "", map[string]string{"username": "alice", "password": password})
	wantStatus(t, res, http.StatusOK, "")
	token, _ := res.body["token"].(string)
	if len(token) < 26 {
		t.Errorf("token %q too short", token)
	}
	if exp := res.body["expires_at"]; exp != "2026-01-02T04:04:05Z" {
		t.Errorf("expires_at = %v, want an hour from now", exp)
	}
	if strings.Contains(e.logs.String(), token) {
		t.Error("the token appears in the log")
	}
	// The token is stored hashed, never in clear.
	if _, err := e.db.SessionUser(t.Context(), token, e.clock.now()); !errors.Is(err, webapp.ErrNotFound) {
		t.Error("session is stored under the clear token")
	}
	if _, err := e.db.SessionUser(t.Context(), auth.HashToken(token), e.clock.now()); err != nil {
		t.Errorf("session not stored under the token's hash: %v", err)
	}
}

func TestLoginFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   any
		ctype  string
		status int
		err    string
	}{
		{"wrong password", map[string]string{"username": "alice", "password": "wrong password!"}, "", 401, "invalid username or password"},
		{"unknown user", map[string]string{"username": "mallory", "password": password}, "", 401, "invalid username or password"},
		{"missing password", map[string]string{"username": "alice"}, "", 400, "required"},
		{"long username", map[string]string{"username": strings.Repeat("a", 33), "password": password}, "", 400, "too long"},
		{"unknown field", map[string]string{"username": "alice", "password": password, "admin": "true"}, "", 400, `unknown field "admin"`},
		{"not JSON", "username=alice", "", 400, "JSON object"},
		{"wrong type", `{"username": 1, "password": "x"}`, "", 400, "username: must be a string"},
		{"two objects", `{"username":"alice","password":"x"}{}`, "", 400, "single JSON object"},
		{"empty body", "", "", 400, "JSON object"},
		{"too large", `{"username":"` + strings.Repeat("a", 2000) + `"}`, "", 413, "at most 1024 bytes"},
		{"form content type", map[string]string{"username": "alice", "password": password}, "application/x-www-form-urlencoded", 415, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.ctype == "" {
				wantStatus(t, e.do("POST", "/api/login", "", tc.body), tc.status, tc.err)
				return
			}
			b, _ := json.Marshal(tc.body)
			req := httptest.NewRequest("POST", "/api/login", bytes.NewReader(b))
			req.Header.Set("Content-Type", tc.ctype)
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.err) {
				t.Errorf("got %d %s, want %d %q", rec.Code, rec.Body, tc.status, tc.err)
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	bad := map[string]string{"username": "alice", "password": "wrong password!"}
	for range 3 {
		wantStatus(t, e.do("POST", "/api/login", "", bad), http.StatusUnauthorized, "")
	}
	res := e.do("POST", "/api/login", "", bad)
	wantStatus(t, res, http.StatusTooManyRequests, "too many login attempts")
	if got := res.header.Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After = %q, want 10", got)
	}
	// Even the right password is refused while limited.
	wantStatus(t, e.do("POST", "/api/login", "", map[string]string{"username": "alice", "password": password}), http.StatusTooManyRequests, "")
	if !strings.Contains(e.logs.String(), `"msg":"login rate limited"`) {
		t.Error("rate limiting is not logged")
	}

	e.clock.advance(10 * time.Second)
	e.login("alice")
}

func TestLoginRateLimitPerUserAcrossIPs(t *testing.T) {
	e := newEnv(t)
	body := `{"username":"bob","password":"wrong password!"}`
	try := func(ip string) int {
		req := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = ip + ":1000"
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range 3 {
		if code := try("198.51.100." + strconv.Itoa(i+1)); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, code)
		}
	}
	if code := try("198.51.100.9"); code != http.StatusTooManyRequests {
		t.Errorf("4th attempt from a fresh IP: %d, want 429", code)
	}
}

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	token := e.login("alice")
	for _, tc := range []struct{ name, header string }{
		{"none", ""},
		{"basic", "Basic YWxpY2U6cHc="},
		{"empty bearer", "Bearer "},
		{"unknown token", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"too long", "Bearer " + strings.Repeat("A", 200)},
		{"token without scheme", token},
	} {
		for _, ep := range []struct{ method, path string }{{"GET", "/api/items"}, {"POST", "/api/items"}, {"GET", "/api/items/1"}, {"POST", "/api/logout"}} {
			req := httptest.NewRequest(ep.method, ep.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: %s %s = %d, want 401 with WWW-Authenticate", tc.name, ep.method, ep.path, rec.Code)
			}
		}
	}
	// The scheme is case-insensitive.
	req := httptest.NewRequest("GET", "/api/items", nil)
	req.Header.Set("Authorization", "bearer "+token)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("lowercase bearer: %d", rec.Code)
	}
}

func TestSessionExpiryAndLogout(t *testing.T) {
	e := newEnv(t)
	token := e.login("alice")
	wantStatus(t, e.do("GET", "/api/items", token, nil), http.StatusOK, "")
	e.clock.advance(time.Hour)
	wantStatus(t, e.do("GET", "/api/items", token, nil), http.StatusUnauthorized, "expired")

	token = e.login("alice")
	res := e.do("POST", "/api/logout", token, nil)
	if res.status != http.StatusNoContent {
		t.Fatalf("logout: %d", res.status)
	}
	wantStatus(t, e.do("GET", "/api/items", token, nil), http.StatusUnauthorized, "")
}

func TestItems(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.login("alice"), e.login("bob")

	res := e.do("GET", "/api/items", alice, nil)
	wantStatus(t, res, http.StatusOK, "")
	if items, ok := res.body["items"].([]any); !ok || len(items) != 0 {
		t.Errorf("empty list = %s, want items: []", res.raw)
	}

	var ids []string
	for i, name := range []string{"bolts", "  nuts  ", "Schraube M4 × 20"} {
		res := e.do("POST", "/api/items", alice, map[string]any{"name": name, "quantity": i * 10})
		wantStatus(t, res, http.StatusCreated, "")
		id := strconv.Itoa(int(res.body["id"].(float64)))
		if loc := res.header.Get("Location"); loc != "/api/items/"+id {
			t.Errorf("Location = %q, want /api/items/%s", loc, id)
		}
		if want := strings.TrimSpace(name); res.body["name"] != want {
			t.Errorf("name = %q, want %q", res.body["name"], want)
		}
		if res.body["created_at"] != "2026-01-02T03:04:05Z" {
			t.Errorf("created_at = %v", res.body["created_at"])
		}
		if _, ok := res.body["OwnerID"]; ok {
			t.Error("owner ID leaks into the response")
		}
		ids = append(ids, id)
	}

	res = e.do("GET", "/api/items/"+ids[1], alice, nil)
	wantStatus(t, res, http.StatusOK, "")
	if res.body["name"] != "nuts" || res.body["quantity"] != 10.0 {
		t.Errorf("item = %v", res.body)
	}

	res = e.do("GET", "/api/items?limit=2", alice, nil)
	wantStatus(t, res, http.StatusOK, "")
	page := res.body["items"].([]any)
	if len(page) != 2 {
		t.Fatalf("limit=2 gave %d items", len(page))
	}
	last := strconv.Itoa(int(page[1].(map[string]any)["id"].(float64)))
	res = e.do("GET", "/api/items?limit=2&after="+last, alice, nil)
	if page := res.body["items"].([]any); len(page) != 1 || page[0].(map[string]any)["name"] != "Schraube M4 × 20" {
		t.Errorf("second page = %s", res.raw)
	}

	// Bob sees none of Alice's items, not even whether an ID exists.
	res = e.do("GET", "/api/items", bob, nil)
	if items := res.body["items"].([]any); len(items) != 0 {
		t.Errorf("bob lists %d of alice's items", len(items))
	}
	wantStatus(t, e.do("GET", "/api/items/"+ids[0], bob, nil), http.StatusNotFound, "not found")
	wantStatus(t, e.do("GET", "/api/items/999", alice, nil), http.StatusNotFound, "not found")
}

func TestItemValidation(t *testing.T) {
	e := newEnv(t)
	token := e.login("alice")
	for _, tc := range []struct {
		name string
		body any
		err  string
	}{
		{"no name", map[string]any{"quantity": 1}, "name: is required"},
		{"blank name", map[string]any{"name": "   ", "quantity": 1}, "name: is required"},
		{"long name", map[string]any{"name": strings.Repeat("x", 101), "quantity": 1}, "name: must be at most 100"},
		{"control char", map[string]any{"name": "a\x1b[31mb", "quantity": 1}, "control characters"},
		{"no quantity", map[string]any{"name": "bolts"}, "quantity: is required"},
		{"negative", map[string]any{"name": "bolts", "quantity": -1}, "quantity: must be between"},
		{"too many", map[string]any{"name": "bolts", "quantity": 1_000_001}, "quantity: must be between"},
		{"fractional", `{"name":"bolts","quantity":1.5}`, "quantity: must be an integer"},
		{"quantity as string", `{"name":"bolts","quantity":"1"}`, "quantity: must be an integer"},
		{"extra field", map[string]any{"name": "bolts", "quantity": 1, "owner_id": 2}, `unknown field "owner_id"`},
		{"array", `[]`, "JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, e.do("POST", "/api/items", token, tc.body), http.StatusBadRequest, tc.err)
		})
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "after=-1", "after=1e3"} {
		wantStatus(t, e.do("GET", "/api/items?"+q, token, nil), http.StatusBadRequest, "must be an integer")
	}
	for _, id := range []string{"0", "-1", "abc", "1.5", "99999999999999999999"} {
		wantStatus(t, e.do("GET", "/api/items/"+id, token, nil), http.StatusBadRequest, "id: must be a positive integer")
	}
	res := e.do("GET", "/api/items", token, nil)
	if items := res.body["items"].([]any); len(items) != 0 {
		t.Errorf("invalid requests stored %d items", len(items))
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	res := e.do("DELETE", "/api/items", "", nil)
	if res.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /api/items = %d, want 405", res.status)
	}
}

// failingStore fails every call after login with err.
type failingStore struct {
	*sqlite.DB
	err error
}

func (f failingStore) UserByName(context.Context, string) (webapp.User, error) {
	return webapp.User{}, f.err
}

func (f failingStore) Items(context.Context, int64, int64, int) ([]webapp.Item, error) {
	return nil, f.err
}

func (f failingStore) CreateItem(context.Context, webapp.Item) (webapp.Item, error) {
	return webapp.Item{}, f.err
}

func (f failingStore) DeleteSession(context.Context, string) error { return f.err }

func TestInternalErrorsAreHidden(t *testing.T) {
	e := newEnv(t)
	token := e.login("alice")
	e.srv = e.newServer(failingStore{DB: e.db, err: errors.New("disk on fire at /var/secret")})

	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/login", map[string]string{"username": "alice", "password": password}},
		{"GET", "/api/items", nil},
		{"POST", "/api/items", map[string]any{"name": "bolts", "quantity": 1}},
		{"POST", "/api/logout", nil},
	} {
		res := e.do(tc.method, tc.path, token, tc.body)
		wantStatus(t, res, http.StatusInternalServerError, "internal error")
		if strings.Contains(res.raw, "disk on fire") {
			t.Errorf("%s %s leaks the cause: %s", tc.method, tc.path, res.raw)
		}
	}
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Error("the cause is not logged")
	}
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t)
	h := e.srv.accessLog(e.srv.recoverPanic(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal error") {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(e.logs.String(), `"msg":"panic"`) {
		t.Error("panic not logged")
	}
}
