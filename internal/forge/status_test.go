package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

const testToken = "ghp_s3cr3tT0kenValue0123456789"

// fakeForge is a forge's status API on loopback: it checks each request
// the way the forge would, records it, and answers as told.
type fakeForge struct {
	t     *testing.T
	forge Type
	token string

	mu     sync.Mutex
	calls  []fakeCall
	answer func(w http.ResponseWriter, r *http.Request) bool // true when it answered
}

type fakeCall struct {
	Path string         // as sent, escaped
	Body map[string]any // the JSON body
}

func newFakeForge(t *testing.T, ft Type) (*fakeForge, *httptest.Server) {
	f := &fakeForge{t: t, forge: ft, token: testToken}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeForge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, `{"message":"Method Not Allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	var prefix string
	authOK := false
	switch f.forge {
	case TypeGitHub:
		prefix = "/repos/"
		authOK = r.Header.Get("Authorization") == "Bearer "+f.token
	case TypeGitLab:
		prefix = "/api/v4/projects/"
		authOK = r.Header.Get("PRIVATE-TOKEN") == f.token && r.Header.Get("Authorization") == ""
	case TypeGitea:
		prefix = "/api/v1/repos/"
		authOK = r.Header.Get("Authorization") == "token "+f.token
	}
	if !authOK {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials"}`)
		return
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, prefix) || !strings.Contains(path, "/statuses/") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found"}`)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("Content-Type %q", ct)
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"message":"Problems parsing JSON"}`)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Path: path, Body: body})
	answer := f.answer
	f.mu.Unlock()
	if answer != nil && answer(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":1,"state":%q,"context":%q}`, body["state"], body["context"])
}

func (f *fakeForge) lastCall() fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		f.t.Fatal("the fake forge got no status")
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeForge) failWith(code int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(code)
		io.WriteString(w, body)
		return true
	}
}

func newClient(t *testing.T, ft Type, base string) Forge {
	t.Helper()
	c, err := New(Config{Type: ft, BaseURL: base, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSetStatus(t *testing.T) {
	st := Status{State: StateFailure, Description: "2 of 14 steps failed: sast, deps", TargetURL: "https://gantry.acme.example/runs/r-17", Ref: "main"}
	tests := []struct {
		forge Type
		repo  RepoRef
		path  string
		body  map[string]any
	}{
		{TypeGitHub, RepoRef{FullName: "acme/orders"}, "/repos/acme/orders/statuses/" + shaA, map[string]any{
			"state": "failure", "context": DefaultContext, "description": st.Description, "target_url": st.TargetURL}},
		{TypeGitea, RepoRef{FullName: "acme/orders"}, "/api/v1/repos/acme/orders/statuses/" + shaA, map[string]any{
			"state": "failure", "context": DefaultContext, "description": st.Description, "target_url": st.TargetURL}},
		{TypeGitLab, RepoRef{FullName: "shop/backend/orders"}, "/api/v4/projects/shop%2Fbackend%2Forders/statuses/" + shaA, map[string]any{
			"state": "failed", "name": DefaultContext, "description": st.Description, "target_url": st.TargetURL, "ref": "main"}},
		{TypeGitLab, RepoRef{FullName: "shop/backend/orders", ID: "15"}, "/api/v4/projects/15/statuses/" + shaA, map[string]any{
			"state": "failed", "name": DefaultContext, "description": st.Description, "target_url": st.TargetURL, "ref": "main"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.forge)+"/"+tt.repo.String(), func(t *testing.T) {
			fake, srv := newFakeForge(t, tt.forge)
			c := newClient(t, tt.forge, srv.URL)
			if err := c.SetStatus(context.Background(), tt.repo, shaA, st); err != nil {
				t.Fatalf("SetStatus: %v", err)
			}
			got := fake.lastCall()
			if got.Path != tt.path {
				t.Errorf("path %s, want %s", got.Path, tt.path)
			}
			if d := cmp.Diff(tt.body, got.Body); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
}

func TestSetStatusStates(t *testing.T) {
	want := map[Type]map[State]string{
		TypeGitHub: {StatePending: "pending", StateRunning: "pending", StateSuccess: "success", StateFailure: "failure", StateError: "error", StateCanceled: "error"},
		TypeGitea:  {StatePending: "pending", StateRunning: "pending", StateSuccess: "success", StateFailure: "failure", StateError: "error", StateCanceled: "error"},
		TypeGitLab: {StatePending: "pending", StateRunning: "running", StateSuccess: "success", StateFailure: "failed", StateError: "failed", StateCanceled: "canceled"},
	}
	for ft, states := range want {
		fake, srv := newFakeForge(t, ft)
		c := newClient(t, ft, srv.URL)
		for s, w := range states {
			if err := c.SetStatus(context.Background(), RepoRef{FullName: "acme/orders"}, shaA, Status{State: s, Context: "gantry/security"}); err != nil {
				t.Fatalf("%s %s: %v", ft, s, err)
			}
			call := fake.lastCall()
			if call.Body["state"] != w {
				t.Errorf("%s: %s sent as %v, want %s", ft, s, call.Body["state"], w)
			}
			name := "context"
			if ft == TypeGitLab {
				name = "name"
			}
			if call.Body[name] != "gantry/security" {
				t.Errorf("%s: %s = %v", ft, name, call.Body[name])
			}
		}
	}
}

func TestSetStatusForgeErrors(t *testing.T) {
	tests := []struct {
		name  string
		forge Type
		code  int
		body  string
		kind  string
		msg   string
	}{
		{"github validation", TypeGitHub, 422, `{"message":"Validation Failed","errors":[{"resource":"Status","code":"custom","field":"state","message":"state is not included in the list"}],"documentation_url":"https://docs.github.com/rest"}`,
			gantry.EInvalid, "github answered 422: Validation Failed: state is not included in the list"},
		{"github no access", TypeGitHub, 403, `{"message":"Resource not accessible by integration"}`,
			gantry.EForbidden, "403: Resource not accessible by integration"},
		{"github rate limited", TypeGitHub, 429, `{"message":"API rate limit exceeded"}`,
			gantry.EUnavailable, "429: API rate limit exceeded"},
		{"gitlab not found", TypeGitLab, 404, `{"message":"404 Project Not Found"}`,
			gantry.ENotFound, "gitlab answered 404: 404 Project Not Found"},
		{"gitlab field errors", TypeGitLab, 400, `{"message":{"name":["is too long"]}}`,
			gantry.EInvalid, `{"name":["is too long"]}`},
		{"gitlab error key", TypeGitLab, 400, `{"error":"state does not have a valid value"}`,
			gantry.EInvalid, "state does not have a valid value"},
		{"gitea server error not json", TypeGitea, 502, "<html>\n<h1>502 Bad Gateway</h1>\n</html>",
			gantry.EUnavailable, "gitea answered 502: <html> <h1>502 Bad Gateway</h1> </html>"},
		{"gitea empty body", TypeGitea, 500, "",
			gantry.EUnavailable, "gitea answered 500: Internal Server Error"},
		{"token echoed back", TypeGitHub, 400, `{"message":"token ` + testToken + ` is malformed"}`,
			gantry.EInvalid, "token [REDACTED] is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFakeForge(t, tt.forge)
			fake.failWith(tt.code, tt.body)
			err := newClient(t, tt.forge, srv.URL).SetStatus(context.Background(), RepoRef{FullName: "acme/orders"}, shaA, Status{State: StateSuccess})
			if err == nil {
				t.Fatal("SetStatus succeeded")
			}
			if k := gantry.ErrorKind(err); k != tt.kind {
				t.Errorf("kind %q, want %q (%v)", k, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.code {
				t.Errorf("error %v is not an *APIError with status %d", err, tt.code)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
}

func TestSetStatusWrongToken(t *testing.T) {
	for _, ft := range []Type{TypeGitHub, TypeGitLab, TypeGitea} {
		_, srv := newFakeForge(t, ft)
		c, err := New(Config{Type: ft, BaseURL: srv.URL, Token: "wrong-token-value"})
		if err != nil {
			t.Fatal(err)
		}
		err = c.SetStatus(context.Background(), RepoRef{FullName: "acme/orders"}, shaA, Status{State: StatePending})
		if gantry.ErrorKind(err) != gantry.EForbidden || !strings.Contains(err.Error(), "401: Bad credentials") {
			t.Errorf("%s: %v", ft, err)
		}
		if strings.Contains(err.Error(), "wrong-token-value") {
			t.Errorf("%s: error %q holds the token", ft, err)
		}
	}
}

// TestGitLabSameState checks that reporting the state a GitLab status
// already has, which GitLab refuses, is taken as done.
func TestGitLabSameState(t *testing.T) {
	fake, srv := newFakeForge(t, TypeGitLab)
	fake.failWith(400, `{"message":"Cannot transition status via :run from :running (Reason(s): Status cannot transition via \"run\")"}`)
	err := newClient(t, TypeGitLab, srv.URL).SetStatus(context.Background(), RepoRef{ID: "15"}, shaA, Status{State: StateRunning})
	if err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
}

func TestSetStatusTimeout(t *testing.T) {
	release := make(chan struct{})
	fake, srv := newFakeForge(t, TypeGitHub)
	defer close(release)
	fake.answer = func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	c, err := NewGitHub(Config{BaseURL: srv.URL, Token: testToken, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetStatus(context.Background(), RepoRef{FullName: "acme/orders"}, shaA, Status{State: StatePending})
	if gantry.ErrorKind(err) != gantry.EUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung forge: %v", err)
	}

	// The caller's cancellation ends a call too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = c.SetStatus(ctx, RepoRef{FullName: "acme/orders"}, shaA, Status{State: StatePending})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}

// TestNoRedirect checks that a token header is never sent on to where a
// forge redirects, even with a caller's client that would follow.
func TestNoRedirect(t *testing.T) {
	var leaked bool
	var mu sync.Mutex
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		leaked = true
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c, err := NewGitLab(Config{BaseURL: redirector.URL, Token: testToken, Client: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetStatus(context.Background(), RepoRef{ID: "15"}, shaA, Status{State: StateSuccess})
	if err == nil || !strings.Contains(err.Error(), "307") {
		t.Fatalf("redirect: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if leaked {
		t.Fatal("the request was sent on to the redirect's target")
	}
}

func TestSetStatusRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		forge  Type
		repo   RepoRef
		commit string
		st     Status
		msg    string
	}{
		{TypeGitHub, RepoRef{FullName: "acme/orders"}, "main", Status{State: StateSuccess}, `"main" is not a full commit ID`},
		{TypeGitHub, RepoRef{FullName: "acme/orders"}, shaA[:12], Status{State: StateSuccess}, "is not a full commit ID"},
		{TypeGitHub, RepoRef{FullName: "acme/orders"}, shaA + "/../x", Status{State: StateSuccess}, "is not a full commit ID"},
		{TypeGitHub, RepoRef{FullName: "orders"}, shaA, Status{State: StateSuccess}, `repository "orders" is not owner/name`},
		{TypeGitea, RepoRef{FullName: "acme/orders/extra"}, shaA, Status{State: StateSuccess}, "is not owner/name"},
		{TypeGitea, RepoRef{FullName: "../orders"}, shaA, Status{State: StateSuccess}, "is not owner/name"},
		{TypeGitLab, RepoRef{FullName: "orders"}, shaA, Status{State: StateSuccess}, `repository "orders" is not group/name`},
		{TypeGitLab, RepoRef{ID: "15/../16"}, shaA, Status{State: StateSuccess}, "is not a number"},
		{TypeGitHub, RepoRef{FullName: "acme/orders"}, shaA, Status{State: "skipped"}, `unknown state "skipped"`},
		{TypeGitLab, RepoRef{ID: "15"}, shaA, Status{State: StateSuccess, TargetURL: "javascript:alert(1)"}, "not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		fake, srv := newFakeForge(t, tt.forge)
		err := newClient(t, tt.forge, srv.URL).SetStatus(context.Background(), tt.repo, tt.commit, tt.st)
		if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s %v %q: %v, want %q", tt.forge, tt.repo, tt.commit, err, tt.msg)
		}
		if len(fake.calls) != 0 {
			t.Errorf("%s: a refused status was sent", tt.forge)
		}
	}
}

func TestStatusDescription(t *testing.T) {
	long := strings.Repeat("é", 200)
	st, err := Status{State: StateFailure, Description: "line one\nline\ttwo  " + long}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(st.Description)); n != maxDescription {
		t.Errorf("description has %d characters, want %d", n, maxDescription)
	}
	if !strings.HasPrefix(st.Description, "line one line two é") || !strings.HasSuffix(st.Description, "…") {
		t.Errorf("description %q", st.Description)
	}
}

func TestBaseURLs(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Type: TypeGitHub}, "https://api.github.com/repos/acme/orders/statuses/" + shaA},
		{Config{Type: TypeGitHub, BaseURL: "https://ghe.acme.example/api/v3/"}, "https://ghe.acme.example/api/v3/repos/acme/orders/statuses/" + shaA},
		{Config{Type: TypeGitLab}, "https://gitlab.com/api/v4/projects/acme%2Forders/statuses/" + shaA},
		{Config{Type: TypeGitLab, BaseURL: "https://git.acme.example/gitlab/api/v4"}, "https://git.acme.example/gitlab/api/v4/projects/acme%2Forders/statuses/" + shaA},
		{Config{Type: TypeGitea, BaseURL: "https://gitea.acme.example"}, "https://gitea.acme.example/api/v1/repos/acme/orders/statuses/" + shaA},
	}
	for _, tt := range tests {
		var got string
		tt.cfg.Token = testToken
		tt.cfg.Client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r.URL.String()
			return &http.Response{StatusCode: 201, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
		})}
		c, err := New(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetStatus(context.Background(), RepoRef{FullName: "acme/orders"}, shaA, Status{State: StateSuccess}); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s %q: sent to %s, want %s", tt.cfg.Type, tt.cfg.BaseURL, got, tt.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		cfg Config
		msg string
	}{
		{Config{Type: "bitbucket", Token: testToken}, `unknown type "bitbucket"`},
		{Config{Type: TypeGitHub}, "no token"},
		{Config{Type: TypeGitea, Token: testToken}, "no base URL"},
		{Config{Type: TypeGitea, Token: testToken, BaseURL: "gitea.acme.example"}, "not an absolute http(s) URL"},
		{Config{Type: TypeGitLab, Token: testToken, BaseURL: "https://root:hunter2@gitlab.acme.example"}, "credentials in it"},
		{Config{Type: TypeGitHub, Token: "abc\r\nX-Evil: 1"}, "white space"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("New(%s): %v, want %q", tt.cfg.Type, err, tt.msg)
		}
		if err != nil && (strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "hunter2")) {
			t.Errorf("error %q holds a secret", err)
		}
	}
}

// TestClientPrintsNoToken checks that a client printed by mistake, with
// any verb, shows no token.
func TestClientPrintsNoToken(t *testing.T) {
	for _, ft := range []Type{TypeGitHub, TypeGitLab, TypeGitea} {
		c, err := New(Config{Type: ft, BaseURL: "https://forge.acme.example", Token: testToken})
		if err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			if s := fmt.Sprintf(verb, c); strings.Contains(s, testToken) || strings.Contains(s, fmt.Sprintf("%x", testToken)) {
				t.Errorf("%s printed with %s shows the token: %s", ft, verb, s)
			}
		}
		if b, _ := json.Marshal(c); strings.Contains(string(b), testToken) {
			t.Errorf("%s marshalled shows the token", ft)
		}
	}
}
