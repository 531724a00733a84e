package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/evidence"
)

func TestHealthReadinessAndMetrics(t *testing.T) {
	s := newStack(t)
	for path, want := range map[string]string{
		"/healthz": `"ok"`,
		"/readyz":  `"ready"`,
		"/metrics": "gantry_http_requests_total",
	} {
		if path == "/metrics" { // after a request, so that a series exists
			http.Get(s.http.URL + "/api/v1/projects")
		}
		resp, err := http.Get(s.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, want 200 and %q in:\n%.500s", path, resp.StatusCode, want, b)
		}
	}
	resp, _ := http.Get(s.http.URL + "/metrics")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "# HELP ") {
			name := strings.Fields(line)[2]
			if !strings.HasPrefix(name, "gantry_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("metric %s is not prefixed gantry_", name)
			}
		}
	}
}

// leased enrolls an agent and leases a job of a new run of shop, and
// returns the lease.
func (s *stack) leased(t *testing.T) agentproto.Lease {
	t.Helper()
	ctx := context.Background()
	pr := &gantry.Project{Name: "shop", RepoURL: "/nowhere", DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: s.srv.opts.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		t.Fatal(err)
	}
	keys, err := evidence.GenerateKeys(t.TempDir(), evidence.GenerateOptions{LedgerName: "test.example/agent"})
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := evidence.MarshalPublicKey(keys.Signing)
	code, body := s.call("POST", "/api/v1/agents", s.adminToken, agentproto.EnrollRequest{Name: "uploader", Labels: []string{"linux"}, PublicKey: string(pem)})
	if code != http.StatusCreated {
		t.Fatalf("enroll: %d %s", code, body)
	}
	var enrolled agentproto.EnrollResponse
	json.Unmarshal(body, &enrolled)
	if _, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual"}, nil); err != nil {
		t.Fatal(err)
	}
	code, body = s.call("POST", "/api/v1/agent/lease", enrolled.Token, agentproto.LeaseRequest{Labels: []string{"linux"}, WaitMS: 100})
	if code != http.StatusOK {
		t.Fatalf("lease: %d %s", code, body)
	}
	var l agentproto.Lease
	json.Unmarshal(body, &l)
	return l
}

func TestArtifactUploadsAreDigestCheckedAndSizeLimited(t *testing.T) {
	s := newStack(t)
	s.srv.opts.MaxArtifact = 16
	l := s.leased(t)
	put := func(digest gantry.Digest, body string) (int, string) {
		req, _ := http.NewRequest("PUT", s.http.URL+"/api/v1/agent/blobs/"+string(digest), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+l.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := put(gantry.DigestBytes([]byte("the app")), "the app"); code != http.StatusCreated {
		t.Errorf("upload: %d %s", code, body)
	}
	if code, body := put(gantry.DigestBytes([]byte("something else")), "the app!"); code != http.StatusBadRequest || !strings.Contains(body, "digest is") {
		t.Errorf("upload under another digest: %d %s", code, body)
	}
	big := strings.Repeat("x", 17)
	if code, body := put(gantry.DigestBytes([]byte(big)), big); code != http.StatusBadRequest || !strings.Contains(body, "limit") {
		t.Errorf("upload over the limit: %d %s", code, body)
	}
	if code, body := put("sha256:nothex", "x"); code != http.StatusBadRequest {
		t.Errorf("upload under a malformed digest: %d %s", code, body)
	}
	// Only a job token uploads.
	req, _ := http.NewRequest("PUT", s.http.URL+"/api/v1/agent/blobs/"+string(gantry.DigestBytes([]byte("x"))), strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("upload with a user's token: %d, want 403", resp.StatusCode)
	}
}

func TestAuditEventsAreInTheLedger(t *testing.T) {
	s := newStack(t)
	// A refused login, a created project: both audited.
	s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: "/nowhere"})
	evs, err := s.store.AuditEvents(context.Background(), gantry.AuditFilter{})
	if err != nil || len(evs) < 3 { // user.create and token.create at bootstrap, project.put
		t.Fatalf("audit events: %d, %v", len(evs), err)
	}
	for _, e := range evs {
		if e.LedgerIndex < 0 {
			t.Errorf("audit event %d (%s) has no ledger entry", e.ID, e.Action)
		}
	}
}

// TestLabelsRouteJobs: a job that needs a label goes only to an agent
// enrolled with it; an agent cannot claim a label it was not enrolled
// with.
func TestLabelsRouteJobs(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	pr := &gantry.Project{Name: "shop", RepoURL: "/nowhere", DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: s.srv.opts.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		t.Fatal(err)
	}
	enroll := func(name string, labels ...string) string {
		keys, err := evidence.GenerateKeys(t.TempDir(), evidence.GenerateOptions{LedgerName: "test.example/" + name})
		if err != nil {
			t.Fatal(err)
		}
		pem, _ := evidence.MarshalPublicKey(keys.Signing)
		code, body := s.call("POST", "/api/v1/agents", s.adminToken, agentproto.EnrollRequest{Name: name, Labels: labels, PublicKey: string(pem)})
		if code != http.StatusCreated {
			t.Fatalf("enroll %s: %d %s", name, code, body)
		}
		var e agentproto.EnrollResponse
		json.Unmarshal(body, &e)
		return e.Token
	}
	plain, docker := enroll("plain", "linux"), enroll("dockerized", "linux", "docker")
	run, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual"}, []string{"docker"})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := s.call("POST", "/api/v1/agent/lease", plain, agentproto.LeaseRequest{Labels: []string{"linux", "docker"}, WaitMS: 200}); code != http.StatusNoContent {
		t.Errorf("an agent without docker claiming it: %d %s, want 204 (no job)", code, body)
	}
	code, body := s.call("POST", "/api/v1/agent/lease", docker, agentproto.LeaseRequest{Labels: []string{"linux", "docker"}, WaitMS: 200})
	var l agentproto.Lease
	json.Unmarshal(body, &l)
	if code != http.StatusOK || l.Run == nil || l.Run.ID != run.ID {
		t.Errorf("the docker agent's lease: %d %s", code, body)
	}
}

// TestAgentConcurrency: an agent with concurrency 2 runs two jobs at once.
func TestAgentConcurrency(t *testing.T) {
	s := newStack(t)
	dir, _ := repo(t, "version: 1\nstages:\n  - name: s\n    steps:\n      - {name: wait, run: sleep 1}\n")
	ctx := context.Background()
	pr := &gantry.Project{Name: "shop", RepoURL: dir, DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: s.srv.opts.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		t.Fatal(err)
	}
	s.concurrency = 2
	s.startAgent("double")
	a, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ra, rb := s.waitRun(a.ID), s.waitRun(b.ID)
	if ra.Status != gantry.StatusSucceeded || rb.Status != gantry.StatusSucceeded {
		t.Fatalf("runs %s and %s", ra.Status, rb.Status)
	}
	// Each step sleeps a second: one after the other, the second would
	// start when the first ended.
	if rb.StartedAt.After(ra.FinishedAt) || ra.StartedAt.After(rb.FinishedAt) {
		t.Errorf("the runs did not overlap: %s–%s and %s–%s", ra.StartedAt.Format(time.StampMilli), ra.FinishedAt.Format(time.StampMilli),
			rb.StartedAt.Format(time.StampMilli), rb.FinishedAt.Format(time.StampMilli))
	}
}

// TestEventsFromAnotherServer: a page on one server follows a run whose
// agent reports to another server on the same database.
func TestEventsFromAnotherServer(t *testing.T) {
	s := newStack(t)
	dir, _ := repo(t, "version: 1\nstages:\n  - name: s\n    steps:\n      - {name: talk, run: \"sleep 1; echo said elsewhere\"}\n")
	ctx := context.Background()
	pr := &gantry.Project{Name: "shop", RepoURL: dir, DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: s.srv.opts.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		t.Fatal(err)
	}
	other := httptest.NewServer(New(s.srv.opts).Handler())
	defer other.Close()
	s.startAgent("here")
	run, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The dashboard's feed of the other server, too.
	dreq, _ := http.NewRequest("GET", other.URL+"/events", nil)
	dreq.Header.Set("Authorization", "Bearer "+s.adminToken)
	dresp, err := http.DefaultClient.Do(dreq)
	if err != nil {
		t.Fatal(err)
	}
	defer dresp.Body.Close()
	dashboard := make(chan gantry.Status, 16)
	go func() {
		sc := bufio.NewScanner(dresp.Body)
		for sc.Scan() {
			var ev event
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil && ev.Run != nil && ev.Run.ID == run.ID {
				dashboard <- ev.Run.Status
			}
		}
		close(dashboard)
	}()
	req, _ := http.NewRequest("GET", other.URL+"/api/v1/runs/"+string(run.ID)+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var said, ended bool
	deadline := time.AfterFunc(30*time.Second, func() { resp.Body.Close() })
	defer deadline.Stop()
	for sc.Scan() && !(said && ended) {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatal(err)
		}
		for _, l := range ev.Lines {
			said = said || l.Text == "said elsewhere"
		}
		if ev.Run != nil && ev.Run.Status == gantry.StatusSucceeded {
			ended = true
		}
	}
	if !said || !ended {
		t.Errorf("the other server's stream: log line seen %v, run's end seen %v", said, ended)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case st, ok := <-dashboard:
			if !ok {
				t.Fatal("the other server's dashboard feed ended")
			}
			if st == gantry.StatusSucceeded {
				return
			}
		case <-timeout:
			t.Fatal("the other server's dashboard feed never showed the run succeeded")
		}
	}
}

// TestPolicyGateOnAnAgent: a stage's policies decide its gate on an agent
// as in gantry run, from the evidence the server holds.
func TestPolicyGateOnAnAgent(t *testing.T) {
	s := newStack(t)
	dir, _ := repoFiles(t, map[string]string{
		".gantry.yml": "version: 1\nstages:\n  - name: commit\n    steps:\n      - {name: build, run: \"mkdir -p bin && echo app > bin/app\", outputs: [bin/app]}\n    gate:\n      policies: [policies]\n  - name: release\n    steps:\n      - {name: ship, run: echo shipped}\n",
		"policies/commit.rego": `package gantry.gates.commit

deny contains sprintf("%d attestations, want one per step", [count(input.attestations)]) if count(input.attestations) != 2

deny contains "the build's provenance is not signed by a trusted key" if {
	some a in input.attestations
	a.step == "build"
	not a.key_hint in input.config.trusted_keys
}
`,
	})
	ctx := context.Background()
	pr := &gantry.Project{Name: "shop", RepoURL: dir, DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: s.srv.opts.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		t.Fatal(err)
	}
	s.startAgent("gatekeeper")
	run, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.waitRun(run.ID)
	if got.Status != gantry.StatusFailed || !strings.Contains(got.Reason, "policy: 1 attestations, want one per step") {
		t.Fatalf("run %s: %q; want it denied by the policy", got.Status, got.Reason)
	}
	if strings.Contains(got.Reason, "trusted key") {
		t.Errorf("the agent's own key was not trusted: %q", got.Reason)
	}
	stages, _ := s.store.Stages(ctx, run.ID)
	if len(stages) != 2 || !strings.HasPrefix(stages[0].Gate.Decider, "steps+policy sha256:") || stages[1].Status != gantry.StatusSkipped {
		t.Errorf("stages: %+v", stages)
	}
}
