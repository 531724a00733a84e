package web_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/store/sqlite"
	"gantry.dev/gantry/internal/web"
)

var _ gantry.ServerStore = (*sqlite.Store)(nil)

// t0 is the tests' now.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// testSessions is a simple Sessions: passwords and TOTP codes in maps,
// sessions in memory, roles from the store's grants.
type testSessions struct {
	store     gantry.ServerStore
	passwords map[string]string
	codes     map[string]string // users with two-factor: the code they must give
	limited   bool              // refuse every login as too many

	mu       sync.Mutex
	sessions map[string]web.Session // by cookie value
	logins   []string               // who signed in, in order
}

const sessionCookie = "test_session"

func newTestSessions(st gantry.ServerStore) *testSessions {
	return &testSessions{store: st, passwords: map[string]string{}, codes: map[string]string{}, sessions: map[string]web.Session{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *testSessions) Current(r *http.Request) (web.Session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return web.Session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[c.Value]
	return sess, ok
}

func (s *testSessions) Login(w http.ResponseWriter, r *http.Request, user, password, code string) error {
	if s.limited {
		return gantry.Errorf(gantry.EUnavailable, "too many login attempts from your address: wait a minute and try again")
	}
	want, ok := s.passwords[user]
	if !ok || password != want || (s.codes[user] != "" && code != s.codes[user]) {
		return gantry.Errorf(gantry.EUnauthorized, "user %s: wrong password or code", user) // the page must not show this
	}
	u, err := s.store.User(r.Context(), user)
	if err != nil {
		return err
	}
	id := randomHex(16)
	s.mu.Lock()
	s.sessions[id] = web.Session{User: user, ServerAdmin: u.ServerAdmin, CSRF: randomHex(16)}
	s.logins = append(s.logins, user)
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *testSessions) Logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
}

func (s *testSessions) CheckCSRF(r *http.Request) error {
	sess, ok := s.Current(r)
	got := r.PostFormValue(web.CSRFField)
	if got == "" {
		got = r.Header.Get(web.CSRFHeader)
	}
	if !ok || got == "" || got != sess.CSRF {
		return gantry.Errorf(gantry.EForbidden, "bad CSRF token")
	}
	return nil
}

// minRole is the least role of each project action; the other actions
// are for server admins, except tokens, which are anyone's own.
var minRole = map[string]gantry.Role{
	web.ActProjectRead:   gantry.RoleViewer,
	web.ActRunRead:       gantry.RoleViewer,
	web.ActRunTrigger:    gantry.RoleDeveloper,
	web.ActSecretList:    gantry.RoleDeveloper,
	web.ActSecretWrite:   gantry.RoleDeveloper,
	web.ActMemberManage:  gantry.RoleAdmin,
	web.ActChangeApprove: gantry.RoleApprover,
}

var roleOrder = []gantry.Role{gantry.RoleViewer, gantry.RoleDeveloper, gantry.RoleApprover, gantry.RoleAdmin}

func (s *testSessions) Authorize(ctx context.Context, user, project, action string) error {
	u, err := s.store.User(ctx, user)
	if err != nil {
		return gantry.Errorf(gantry.EUnauthorized, "no user %s", user)
	}
	if action == web.ActTokenCreate || action == web.ActTokenDelete || u.ServerAdmin {
		return nil
	}
	need, ok := minRole[action]
	if !ok || project == "" {
		return gantry.Errorf(gantry.EForbidden, "%s may not %s", user, action)
	}
	grants, err := s.store.Grants(ctx, user, "")
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.Project == project && slices.Index(roleOrder, g.Role) >= slices.Index(roleOrder, need) {
			return nil
		}
	}
	return gantry.Errorf(gantry.EForbidden, "%s may not %s in %s", user, action, project)
}

// testService carries out changes on the store as the server would, with
// no checks of its own beyond the store's.
type testService struct {
	store gantry.ServerStore
	now   func() time.Time
	// onTrigger, when set, is called with each run triggered.
	onTrigger func(*gantry.Run)

	mu      sync.Mutex
	secrets map[string]string // "project/env/name" → value
	calls   []string
}

func (s *testService) record(format string, args ...any) {
	s.mu.Lock()
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *testService) Trigger(ctx context.Context, a web.Actor, project, branch string) (*gantry.Run, error) {
	p, err := s.store.Project(ctx, project)
	if err != nil {
		return nil, err
	}
	if branch == "" {
		branch = p.DefaultBranch
	}
	now := s.now()
	run := &gantry.Run{
		ID: gantry.NewRunID(now), Project: project, Pipeline: p.PipelinePath,
		Trigger: gantry.Trigger{Event: "manual", Branch: branch, Commit: "4f2a9c1e7b3d5a6f8e0c2b4d6f8a0c2e4b6d8f0a"},
		Status:  gantry.StatusPending, CreatedAt: now,
	}
	if err := s.store.CreateRun(ctx, run); err != nil {
		return nil, err
	}
	s.record("trigger %s %s by %s", project, branch, a.User)
	if s.onTrigger != nil {
		s.onTrigger(run)
	}
	return run, nil
}

func (s *testService) CreateUser(ctx context.Context, a web.Actor, u web.NewUser) error {
	if _, err := s.store.User(ctx, u.Name); err == nil {
		return gantry.Errorf(gantry.EConflict, "user %s exists already", u.Name)
	}
	s.record("create user %s by %s", u.Name, a.User)
	return s.store.PutUser(ctx, &gantry.User{Name: u.Name, Email: u.Email, ServerAdmin: u.ServerAdmin, CreatedAt: s.now()})
}

func (s *testService) Grant(ctx context.Context, a web.Actor, g gantry.Grant) error {
	s.record("grant %s %s %s by %s", g.User, g.Project, g.Role, a.User)
	return s.store.PutGrant(ctx, g)
}

func (s *testService) CreateToken(ctx context.Context, a web.Actor, t web.NewToken) (string, error) {
	secret := "gty_" + randomHex(20)
	sum := sha256.Sum256([]byte(secret))
	tok := &gantry.Token{
		ID: "tok-" + randomHex(4), Hash: hex.EncodeToString(sum[:]), User: a.User, Name: t.Name,
		Scopes: t.Scopes, Project: t.Project, CreatedAt: s.now(), ExpiresAt: s.now().Add(t.TTL),
	}
	s.record("create token %s %v %s %v by %s", t.Name, t.Scopes, t.Project, t.TTL, a.User)
	return secret, s.store.PutToken(ctx, tok)
}

func (s *testService) DeleteToken(ctx context.Context, a web.Actor, id string) error {
	s.record("delete token %s by %s", id, a.User)
	return s.store.DeleteToken(ctx, id)
}

func (s *testService) PutSecret(ctx context.Context, a web.Actor, project, env, name, value string) error {
	s.mu.Lock()
	if s.secrets == nil {
		s.secrets = map[string]string{}
	}
	s.secrets[project+"/"+env+"/"+name] = value
	s.mu.Unlock()
	s.record("put secret %s/%s/%s by %s", project, env, name, a.User)
	// The ciphertext stands in for the server's sealing: never the value.
	return s.store.PutSecret(ctx, &gantry.SecretRecord{Project: project, Env: env, Name: name, Ciphertext: []byte("sealed"), KeyID: "k1", UpdatedAt: s.now(), UpdatedBy: a.User})
}

// ApproveChange approves as the server does: the project's rules, the
// approver's role from their grants, never the author unless the rules
// document a single-maintainer exception.
func (s *testService) ApproveChange(ctx context.Context, a web.Actor, project, id string, req web.ApproveRequest) (*gantry.Approval, error) {
	p, err := s.store.Project(ctx, project)
	if err != nil {
		return nil, err
	}
	cfg := change.DefaultConfig()
	if p.Changes != "" {
		if cfg, err = change.ParseConfig("changes", []byte(p.Changes)); err != nil {
			return nil, err
		}
	}
	c, err := s.store.Change(ctx, project, id)
	if err != nil {
		return nil, err
	}
	u, err := s.store.User(ctx, a.User)
	if err != nil {
		return nil, err
	}
	by := change.Approver{Name: u.Name, Email: u.Email}
	if u.ServerAdmin {
		by.Role = gantry.RoleAdmin
	}
	grants, err := s.store.Grants(ctx, a.User, project)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		if g.Project == project && slices.Index(roleOrder, g.Role) > slices.Index(roleOrder, by.Role) {
			by.Role = g.Role
		}
	}
	ap, err := change.Approve(cfg, c, req.Environment, req.Kind, by, s.now(), req.Comment)
	if err != nil {
		return nil, err
	}
	if err := s.store.PutApproval(ctx, ap); err != nil {
		return nil, err
	}
	s.record("approve %s/%s %s %s by %s", project, id, req.Environment, req.Kind, a.User)
	return ap, nil
}

// hub stands in for the server's event streams: it relays what the test
// publishes to the pages, in the server's format.
type hub struct {
	store gantry.ServerStore
	mu    sync.Mutex
	subs  map[chan sse]gantry.RunID // "" for every run
}

type sse struct {
	Type  string              `json:"type"`
	Run   *gantry.Run         `json:"run,omitempty"`
	Stage *gantry.StageResult `json:"stage,omitempty"`
	Step  *gantry.StepResult  `json:"step,omitempty"`
	Lines []gantry.LogLine    `json:"lines,omitempty"`
	RunID gantry.RunID        `json:"run_id"`
}

func (h *hub) publish(ev sse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, run := range h.subs {
		if run == "" || run == ev.RunID {
			ch <- ev
		}
	}
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	run := gantry.RunID(r.PathValue("run"))
	ch := make(chan sse, 1024)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan sse]gantry.RunID{}
	}
	h.subs[ch] = run
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(ev sse) {
		b, _ := json.Marshal(ev)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, b)
		w.(http.Flusher).Flush()
	}
	if run != "" {
		// As the server does: the run as it is, then its changes.
		if cur, err := h.store.Run(r.Context(), run); err == nil {
			send(sse{Type: "run.updated", Run: cur, RunID: run})
		}
	} else {
		fmt.Fprint(w, ": connected\n\n")
		w.(http.Flusher).Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-ch:
			send(ev)
		}
	}
}

// env is a web UI on a real SQLite store, served over HTTP.
type env struct {
	store    *sqlite.Store
	sessions *testSessions
	service  *testService
	hub      *hub
	srv      *httptest.Server
}

func newEnv(t *testing.T, now func() time.Time) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, sessions: newTestSessions(st), service: &testService{store: st, now: now}, hub: &hub{store: st}}
	h, err := web.New(web.Options{Store: st, Sessions: e.sessions, Service: e.service, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", e.hub.serve)
	mux.HandleFunc("GET /api/v1/runs/{run}/events", e.hub.serve)
	mux.Handle("/", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// addUser makes a user who signs in with password, with roles in
// projects ("project=role").
func (e *env) addUser(t *testing.T, name, password string, admin bool, roles ...string) {
	t.Helper()
	ctx := context.Background()
	if err := e.store.PutUser(ctx, &gantry.User{Name: name, ServerAdmin: admin, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	e.sessions.passwords[name] = password
	for _, r := range roles {
		p, role, _ := strings.Cut(r, "=")
		if err := e.store.PutGrant(ctx, gantry.Grant{User: name, Project: p, Role: gantry.Role(role)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) addProject(t *testing.T, name string) {
	t.Helper()
	p := &gantry.Project{Name: name, RepoURL: "https://git.example/" + name + ".git", DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: t0}
	if err := e.store.PutProject(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// client is a browser without JavaScript: it keeps cookies and does not
// follow redirects, so that tests see them.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return response{res.StatusCode, res.Header, b.String()}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.e.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of the forms of a page.
func (c *client) csrf(path string) string {
	c.t.Helper()
	m := csrfRE.FindStringSubmatch(c.get(path).body)
	if m == nil {
		c.t.Fatalf("no CSRF token in %s", path)
	}
	return m[1]
}

// login signs in through the form.
func (c *client) login(user, password string) response {
	c.t.Helper()
	tok := c.csrf("/login")
	return c.post("/login", url.Values{"csrf_token": {tok}, "user": {user}, "password": {password}})
}

func (c *client) mustLogin(user, password string) *client {
	c.t.Helper()
	if res := c.login(user, password); res.status != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d: %s", user, res.status, res.body)
	}
	return c
}

// seedRun stores a finished run of project with two stages, logs,
// artifacts, findings and attestations.
func seedRun(t *testing.T, st gantry.ServerStore, project string, status gantry.Status) *gantry.Run {
	t.Helper()
	ctx := context.Background()
	created := t0.Add(-10 * time.Minute)
	run := &gantry.Run{
		ID: gantry.NewRunID(created), Project: project, Pipeline: ".gantry.yml",
		Trigger: gantry.Trigger{Event: "push", Branch: "main", Commit: "9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"},
		Status:  status, CreatedAt: created, StartedAt: created.Add(time.Second), FinishedAt: created.Add(95 * time.Second),
	}
	if status != gantry.StatusSucceeded {
		run.Reason = "stage acceptance: step dast failed"
	}
	must(t, st.CreateRun(ctx, run))
	must(t, st.PutStage(ctx, &gantry.StageResult{RunID: run.ID, Index: 0, Name: "commit", Status: gantry.StatusSucceeded,
		Gate: gantry.Gate{Allowed: true, Decider: "steps"}, StartedAt: run.StartedAt, FinishedAt: run.StartedAt.Add(40 * time.Second)}))
	must(t, st.PutStage(ctx, &gantry.StageResult{RunID: run.ID, Index: 1, Name: "acceptance", Status: status,
		Gate:      gantry.Gate{Allowed: status == gantry.StatusSucceeded, Decider: "policy", Reasons: reasonsFor(status)},
		StartedAt: run.StartedAt.Add(40 * time.Second), FinishedAt: run.FinishedAt}))
	bin := gantry.DigestBytes([]byte("binary"))
	must(t, st.PutStep(ctx, &gantry.StepResult{RunID: run.ID, Stage: "commit", Name: "build", Executor: "local", Status: gantry.StatusSucceeded,
		StartedAt: run.StartedAt, FinishedAt: run.StartedAt.Add(12 * time.Second), Attempts: 1,
		Outputs: []gantry.Artifact{{Path: "bin/app", Digest: bin, Size: 2 << 20, Step: "build"}}}))
	must(t, st.PutStep(ctx, &gantry.StepResult{RunID: run.ID, Stage: "commit", Name: "sast", Uses: "gantry/sast", Executor: "local", Status: gantry.StatusSucceeded,
		StartedAt: run.StartedAt.Add(12 * time.Second), FinishedAt: run.StartedAt.Add(20 * time.Second), Attempts: 1}))
	must(t, st.PutStep(ctx, &gantry.StepResult{RunID: run.ID, Stage: "acceptance", Name: "dast", Executor: "local", Status: status, ExitCode: 1,
		StartedAt: run.StartedAt.Add(40 * time.Second), FinishedAt: run.FinishedAt, Attempts: 1}))
	must(t, st.AppendLogs(ctx, run.ID, []gantry.LogLine{
		{Step: "build", Seq: 1, Time: run.StartedAt, Stream: gantry.Stdout, Text: "go build ./..."},
		{Step: "build", Seq: 2, Time: run.StartedAt, Stream: gantry.Stderr, Text: "warning: <b>not bold</b>"},
		{Step: "dast", Seq: 1, Time: run.StartedAt, Stream: gantry.System, Text: "scanning http://localhost:8080"},
	}))
	must(t, st.PutFindings(ctx, run.ID, "sast", []gantry.Finding{
		{Tool: "sast", RuleID: "G101", Severity: gantry.SeverityHigh, Confidence: "high", Location: gantry.Location{Path: "internal/db/query.go", Line: 42, Column: 7},
			Message: "SQL string built from <input>", CWE: []string{"CWE-89"}, Fingerprint: "fp-sql-1", New: true, Help: "Use query parameters."},
		{Tool: "secrets", RuleID: "aws-key", Severity: gantry.SeverityLow, Location: gantry.Location{Path: "testdata/fake.env", Line: 3},
			Message: "AWS key AKIA…", Fingerprint: "fp-aws-1",
			Waiver: &gantry.Waiver{Fingerprint: "fp-aws-1", Reason: "test fixture, not a real key", Owner: "sec-team", Expires: t0.Add(30 * 24 * time.Hour)}},
	}))
	env := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}` + string(run.ID))
	must(t, st.PutAttestations(ctx, []*gantry.Attestation{{
		Digest: gantry.DigestBytes(env), RunID: run.ID, Stage: "commit", Step: "build", Kind: gantry.KindProvenance,
		PredicateType: "https://slsa.dev/provenance/v1", Subjects: []gantry.Subject{{Name: "bin/app", Digest: bin}},
		Envelope: env, KeyHint: "key-1", LedgerIndex: 7, CreatedAt: run.FinishedAt,
	}}))
	return run
}

func reasonsFor(s gantry.Status) []string {
	if s == gantry.StatusSucceeded {
		return nil
	}
	return []string{"step dast failed"}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
