package agent

import (
	"context"
	"encoding/json"
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
	"gantry.dev/gantry/internal/agentproto"
)

// fakeChanges is a server's change routes for one run: the change the
// server recorded at trigger time, if any, and what the agent puts.
type fakeChanges struct {
	mu     sync.Mutex
	known  *gantry.Change
	put    []*gantry.Change
	refuse bool // answer every put with 503
}

func (f *fakeChanges) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.HasSuffix(r.URL.Path, "/change") {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case "GET":
		if f.known == nil {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"run r-1 belongs to no change"}`))
			return
		}
		json.NewEncoder(w).Encode(agentproto.ChangeState{Change: f.known, Approvals: []*gantry.Approval{}})
	case "PUT":
		if f.refuse {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"store unavailable"}`))
			return
		}
		var c gantry.Change
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.put = append(f.put, &c)
		w.WriteHeader(http.StatusNoContent)
	}
}

// gitRepo makes a repository with one commit by dev@example.com on main.
func gitRepo(t *testing.T) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.go"), []byte("package app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-q", "-m", "Add the app"}} {
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

// TestRecordChange: the agent records the change from its checkout, with
// what the server knows better: the change's ID, its pull request and the
// forge login that opened it.
func TestRecordChange(t *testing.T) {
	dir, commit := gitRepo(t)
	pr := &gantry.PullRequest{Number: 7, URL: "https://git.example/acme/shop/pull/7", Base: "main", Head: "feature"}
	fake := &fakeChanges{known: &gantry.Change{ID: "pr-7", Project: "shop", Title: "Add the app, properly", PullRequest: pr}}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	a := New(Options{Server: srv.URL})
	rem := &remote{c: &client{base: srv.URL, token: "job", http: srv.Client()}, run: "r-1"}
	l := &agentproto.Lease{Job: &gantry.Job{ID: "job-r-1"}, Project: &gantry.Project{Name: "shop", DefaultBranch: "main"}}
	run := &gantry.Run{ID: "r-1", Project: "shop", Trigger: gantry.Trigger{Event: "pull_request", Branch: "feature", Commit: commit,
		Change: "pr-7", PullRequest: 7, Forge: "github", Actor: "grace"}}
	changes := a.recordChange(context.Background(), rem, l, run, dir)
	if changes != rem {
		t.Fatalf("the change was not recorded: %T", changes)
	}
	if len(fake.put) != 1 {
		t.Fatalf("%d changes put, want 1", len(fake.put))
	}
	c := fake.put[0]
	if c.ID != "pr-7" || c.Project != "shop" || c.Author != "grace" || c.Branch != "feature" || c.Title != "Add the app, properly" ||
		c.PullRequest == nil || *c.PullRequest != *pr {
		t.Errorf("change put: %+v, pull request %+v", c, c.PullRequest)
	}
	if len(c.Commits) != 1 || c.Commits[0].SHA != commit || c.Commits[0].AuthorEmail != "dev@example.com" || c.Files != 1 {
		t.Errorf("the change's commits and size come from the checkout: %+v, %d files", c.Commits, c.Files)
	}
}

// TestRecordChangeOfABranch: a run triggered by its branch takes the
// change of the commit checked out; its author is git's, for no forge
// said otherwise.
func TestRecordChangeOfABranch(t *testing.T) {
	dir, commit := gitRepo(t)
	fake := &fakeChanges{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	a := New(Options{Server: srv.URL})
	rem := &remote{c: &client{base: srv.URL, token: "job", http: srv.Client()}, run: "r-1"}
	l := &agentproto.Lease{Job: &gantry.Job{ID: "job-r-1"}, Project: &gantry.Project{Name: "shop", DefaultBranch: "main"}}
	run := &gantry.Run{ID: "r-1", Project: "shop", Trigger: gantry.Trigger{Event: "manual", Branch: "main", Commit: commit, Actor: "alice"}}
	if changes := a.recordChange(context.Background(), rem, l, run, dir); changes != rem {
		t.Fatalf("the change was not recorded: %T", changes)
	}
	if run.Trigger.Change != commit[:12] {
		t.Errorf("the run's change is %q, want %s", run.Trigger.Change, commit[:12])
	}
	if c := fake.put[0]; c.ID != commit[:12] || c.Author != "dev@example.com" || c.Title != "Add the app" || c.PullRequest != nil {
		t.Errorf("change put: %+v", c)
	}
}

// TestUnrecordedChangeFailsClosed: when the server cannot record the
// change, the gates are given a change management that refuses, with why.
func TestUnrecordedChangeFailsClosed(t *testing.T) {
	dir, commit := gitRepo(t)
	srv := httptest.NewServer(&fakeChanges{refuse: true})
	defer srv.Close()
	a := New(Options{Server: srv.URL})
	rem := &remote{c: &client{base: srv.URL, token: "job", http: srv.Client()}, run: "r-1"}
	l := &agentproto.Lease{Job: &gantry.Job{ID: "job-r-1"}, Project: &gantry.Project{Name: "shop", DefaultBranch: "main"}}
	run := &gantry.Run{ID: "r-1", Project: "shop", Trigger: gantry.Trigger{Branch: "main", Commit: commit}}
	changes := a.recordChange(context.Background(), rem, l, run, dir)
	if changes == rem {
		t.Fatal("a change the server refused counts as recorded")
	}
	_, err := changes.ChangeState(context.Background(), "shop", run.Trigger.Change, time.Time{})
	if gantry.ErrorKind(err) != gantry.EUnavailable || !strings.Contains(gantry.ErrorMessageOrText(err), "store unavailable") {
		t.Errorf("change state of an unrecorded change: %v", err)
	}
}
