package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/agent"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/cas"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/executor/local"
	"gantry.dev/gantry/internal/forge"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/secrets"
	"gantry.dev/gantry/internal/store/sqlite"
)

// stack is a server on SQLite with real authentication, served over
// HTTP, and an admin's token.
type stack struct {
	t          testing.TB
	srv        *Server
	http       *httptest.Server
	store      *sqlite.Store
	authSvc    *auth.Service
	adminToken string
	dir        string
	ledgerKeys *evidence.PublicKeys
	hookSecret []byte
	heartbeat  time.Duration // of the agents started; default 200ms
	// actions are the built-in actions of the agents started; nil: the
	// agent's default.
	actions func(workspace string) *action.Registry
	secrets *secrets.Service
	// concurrency is the jobs at once of the agents started; default 1.
	concurrency int
}

// newStack starts a stack. Each configure edits the server's options
// before the server is made; s.http is listening already (not serving),
// so that they may use its address.
func newStack(t testing.TB, configure ...func(s *stack, o *Options)) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := cas.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := evidence.GenerateKeys(filepath.Join(dir, "keys"), evidence.GenerateOptions{LedgerName: "test.example/server"})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := evidence.LoadLedgerSigner(filepath.Join(dir, "keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	log, err := ledger.Open(ctx, st, ls, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, store: st, dir: dir, ledgerKeys: keys, hookSecret: []byte("webhook secret of the shop")}
	svc, err := auth.New(auth.Config{Identity: st, Audit: st, Password: auth.PasswordParams{Time: 1, Memory: 8 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32},
		OnAudit: func(ctx context.Context, e *gantry.AuditEvent) {
			if err := LedgerAudit(ctx, log, st, e); err != nil {
				t.Errorf("audit to ledger: %v", err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.authSvc = svc
	sessions, err := auth.NewSessions(auth.SessionConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Bootstrap(ctx, "admin", "correct horse battery staple", "test"); err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Principal(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.CreateToken(ctx, admin, auth.TokenRequest{Name: "test", Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin}, TTL: time.Hour}, "test")
	if err != nil {
		t.Fatal(err)
	}
	s.adminToken = tok
	key, err := secrets.NewKey("k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	s.secrets = secrets.NewService(st, secrets.NewSealer(ring, nil))
	s.http = httptest.NewUnstartedServer(nil)
	t.Cleanup(s.http.Close)
	opts := Options{
		Store: st, Blobs: blobs, Ledger: log, Auth: &Authn{Service: svc, Sessions: sessions, Admin: admin},
		WebhookSecret: func(context.Context, string) ([]byte, error) { return s.hookSecret, nil },
		Secrets:       s.secrets,
		LeaseWait:     2 * time.Second,
		BaseURL:       "https://gantry.example",
	}
	for _, c := range configure {
		c(s, &opts)
	}
	s.srv = New(opts)
	s.http.Config.Handler = s.srv.Handler()
	s.http.Start()
	return s
}

// call makes an API request with a token and returns the status and body.
func (s *stack) call(method, path, token string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.http.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// repo makes a git repository with a pipeline and returns its path and
// head commit.
func repo(t testing.TB, pipeline string) (string, string) {
	t.Helper()
	return repoFiles(t, map[string]string{".gantry.yml": pipeline})
}

// repoFiles makes a git repository of files and returns its path and
// head commit.
func repoFiles(t testing.TB, files map[string]string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-q", "-m", "first"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %s", args, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return dir, strings.TrimSpace(string(out))
}

// startAgent enrolls an agent and runs it until the test ends.
func (s *stack) startAgent(name string) crypto.PublicKey {
	s.t.Helper()
	keyDir := filepath.Join(s.dir, "agent-"+name)
	pub, err := evidence.GenerateKeys(keyDir, evidence.GenerateOptions{LedgerName: "unused.example/" + name})
	if err != nil {
		s.t.Fatal(err)
	}
	pem, _ := evidence.MarshalPublicKey(pub.Signing)
	code, body := s.call("POST", "/api/v1/agents", s.adminToken, agentproto.EnrollRequest{Name: name, Labels: []string{"linux"}, PublicKey: string(pem)})
	if code != http.StatusCreated {
		s.t.Fatalf("enroll: %d %s", code, body)
	}
	var enrolled agentproto.EnrollResponse
	if err := json.Unmarshal(body, &enrolled); err != nil {
		s.t.Fatal(err)
	}
	signer, err := evidence.LoadSigner(keyDir, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	ex, err := local.New(local.Options{Mode: local.Auto})
	if err != nil {
		s.t.Fatal(err)
	}
	a := agent.New(agent.Options{Server: s.http.URL, Token: enrolled.Token, Name: name, Labels: []string{"linux"},
		WorkDir: filepath.Join(s.dir, "work-"+name), Signer: signer, Executors: map[string]gantry.Executor{"local": ex},
		LeaseWait: 500 * time.Millisecond, Heartbeat: cmp.Or(s.heartbeat, 200*time.Millisecond), Actions: s.actions,
		Concurrency: s.concurrency})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	s.t.Cleanup(func() {
		cancel()
		<-done
	})
	return pub.Signing
}

// waitRun waits for a run to end and returns it.
func (s *stack) waitRun(id gantry.RunID) *gantry.Run {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r, err := s.store.Run(context.Background(), id)
		if err != nil {
			s.t.Fatal(err)
		}
		// The agent finishes the job just after it records the run's
		// end.
		job, err := s.store.Job(context.Background(), gantry.JobID("job-"+string(id)))
		if r.Status.Terminal() && err == nil && job.Status == gantry.JobFinished {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("run %s did not finish within 60s", id)
	return nil
}

const pipeline = `version: 1
stages:
  - name: commit
    steps:
      - name: build
        run: mkdir -p bin && echo 'the app' > bin/app && echo built
        outputs: [bin/app]
      - name: test
        run: echo "testing $(cat bin/app)"
        needs: [build]
`

func TestServerRunsAPipelineOnAnAgent(t *testing.T) {
	s := newStack(t)
	dir, commit := repo(t, pipeline)
	agentKey := s.startAgent("builder")
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: dir}); code != 200 {
		t.Fatalf("create project: %d %s", code, body)
	}
	code, body := s.call("POST", "/api/v1/projects/shop/runs", s.adminToken, map[string]string{"branch": "main"})
	if code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, body)
	}
	var queued gantry.Run
	json.Unmarshal(body, &queued)
	run := s.waitRun(queued.ID)
	if run.Status != gantry.StatusSucceeded {
		t.Fatalf("run %s: %s", run.Status, run.Reason)
	}
	if run.Trigger.Commit != commit {
		t.Errorf("the run checked out %q, want %s", run.Trigger.Commit, commit)
	}
	code, body = s.call("GET", "/api/v1/runs/"+string(run.ID)+"/logs?step=test", s.adminToken, nil)
	if code != 200 || !strings.Contains(string(body), "testing the app") {
		t.Errorf("logs: %d %s", code, body)
	}
	// The attestations were signed on the agent and kept in the server's
	// ledger.
	ctx := context.Background()
	ch, err := evidence.VerifyArtifact(ctx, evidence.StoreSource{Store: s.store}, "bin/app", gantry.DigestBytes([]byte("the app\n")),
		evidence.VerifyOptions{Keys: []crypto.PublicKey{agentKey}, Ledger: s.ledgerKeys.Ledger})
	if err != nil {
		t.Fatalf("verify bin/app: %v", err)
	}
	if ch.Steps[0].Step != "build" || ch.Steps[0].Commit != commit {
		t.Errorf("chain: %+v", ch.Steps[0])
	}
	job, err := s.store.Job(ctx, gantry.JobID("job-"+string(run.ID)))
	if err != nil || job.Status != gantry.JobFinished || job.Agent != "builder" {
		t.Errorf("job: %+v, %v", job, err)
	}
}

func TestAnonymousCallsAre401AndEveryAnswerHasSecurityHeaders(t *testing.T) {
	s := newStack(t)
	for _, path := range []string{"/api/v1/projects", "/api/v1/runs/x", "/api/v1/audit", "/healthz", "/nosuch"} {
		resp, err := http.Get(s.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if strings.HasPrefix(path, "/api/") && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s anonymously: %d, want 401", path, resp.StatusCode)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s header", path, h)
			}
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q lacks frame-ancestors", path, resp.Header.Get("Content-Security-Policy"))
		}
	}
}

func TestWebhookTriggersARun(t *testing.T) {
	s := newStack(t)
	dir, commit := repo(t, pipeline)
	s.startAgent("hooks")
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: dir}); code != 200 {
		t.Fatalf("create project: %d %s", code, body)
	}
	// A fake GitHub Enterprise that records the commit statuses it is
	// sent.
	var mu sync.Mutex
	var states []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var st struct {
			State     string `json:"state"`
			Context   string `json:"context"`
			TargetURL string `json:"target_url"`
		}
		json.NewDecoder(r.Body).Decode(&st)
		if r.Method != "POST" || r.URL.Path != "/api/v3/repos/acme/shop/statuses/"+commit || r.Header.Get("Authorization") != "Bearer forge-token" {
			t.Errorf("forge got %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		mu.Lock()
		states = append(states, st.State+" "+st.Context+" "+st.TargetURL)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{}`))
	}))
	defer fake.Close()
	if err := s.secrets.Put(context.Background(), "shop", "", ForgeTokenName, "forge-token", "test"); err != nil {
		t.Fatal(err)
	}
	payload := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"full_name":"acme/shop","clone_url":"%s/acme/shop.git","html_url":"%s/acme/shop"},"pusher":{"name":"dev","email":"dev@example.com"},"sender":{"login":"dev"},"head_commit":{"id":"%s","added":[],"removed":[],"modified":[".gantry.yml"]}}`,
		strings.Repeat("0", 40), commit, fake.URL, fake.URL, commit)
	send := func(sig string) (int, []byte) {
		req, _ := http.NewRequest("POST", s.http.URL+"/api/v1/hooks/shop", strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "d-1")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// Unsigned and wrongly signed webhooks are refused, start nothing and
	// are recorded as security events.
	for _, sig := range []string{"", "sha256=" + strings.Repeat("ab", 32)} {
		if code, body := send(sig); code != http.StatusUnauthorized {
			t.Errorf("webhook signed %q: %d %s, want 401", sig, code, body)
		}
	}
	if runs, _ := s.store.Runs(context.Background(), gantry.RunFilter{Project: "shop"}); len(runs) != 0 {
		t.Fatalf("refused webhooks made %d runs", len(runs))
	}
	evs, err := s.store.AuditEvents(context.Background(), gantry.AuditFilter{Action: "webhook.refused"})
	if err != nil || len(evs) != 2 {
		t.Errorf("audit of refused webhooks: %d events, %v", len(evs), err)
	}
	code, body := send("sha256=" + forge.Sign(s.hookSecret, []byte(payload)))
	if code != http.StatusAccepted {
		t.Fatalf("signed webhook: %d %s", code, body)
	}
	var queued gantry.Run
	json.Unmarshal(body, &queued)
	run := s.waitRun(queued.ID)
	if run.Status != gantry.StatusSucceeded || run.Trigger.Event != "push" || run.Trigger.Commit != commit {
		t.Errorf("run from webhook: %s %q, trigger %+v", run.Status, run.Reason, run.Trigger)
	}
	// The forge was told: queued, running, passed.
	link := "https://gantry.example/runs/" + string(run.ID)
	want := []string{"pending gantry/pipeline " + link, "pending gantry/pipeline " + link, "success gantry/pipeline " + link}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(states, "\n") != strings.Join(want, "\n") {
		t.Errorf("commit statuses sent:\n%s\nwant:\n%s", strings.Join(states, "\n"), strings.Join(want, "\n"))
	}
}
