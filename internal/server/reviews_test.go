package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/forge"
)

func TestMergeReviews(t *testing.T) {
	t1 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	bobOK := gantry.Review{Reviewer: "bob", State: gantry.ReviewApproved, At: t2}
	bobNo := gantry.Review{Reviewer: "bob", State: gantry.ReviewChangesRequested, At: t1}
	carol := gantry.Review{Reviewer: "carol", State: gantry.ReviewCommented, At: t1}
	dave := gantry.Review{Reviewer: "dave@example.com", State: gantry.ReviewApproved, At: t1}
	tests := []struct {
		name              string
		fromForge, trails []gantry.Review
		want              []gantry.Review
	}{
		{"nothing", nil, nil, nil},
		{"forge only", []gantry.Review{bobOK, carol}, nil, []gantry.Review{bobOK, carol}},
		{"trailers only", nil, []gantry.Review{dave}, []gantry.Review{dave}},
		{"both, forge first", []gantry.Review{bobOK}, []gantry.Review{dave}, []gantry.Review{bobOK, dave}},
		{"the forge's verdict wins over a trailer", []gantry.Review{bobNo}, []gantry.Review{bobOK, dave}, []gantry.Review{bobNo, dave}},
		{"logins without case", []gantry.Review{bobNo}, []gantry.Review{{Reviewer: "BOB", State: gantry.ReviewApproved}}, []gantry.Review{bobNo}},
		{"trailer e-mail without case", nil, []gantry.Review{dave, {Reviewer: "Dave@Example.com", State: gantry.ReviewApproved}}, []gantry.Review{dave}},
		{"no reviewer", []gantry.Review{{State: gantry.ReviewApproved}}, []gantry.Review{{State: gantry.ReviewApproved}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, mergeReviews(tt.fromForge, tt.trails)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestPullRequestReviewsFromTheForge checks that a pull request's change
// has its reviews from the forge when it is triggered and again when the
// agent reports it, merged with its commits' trailers, and that a forge
// that cannot be asked leaves the recorded reviews as they were.
func TestPullRequestReviewsFromTheForge(t *testing.T) {
	s := newStack(t)
	dir, _ := repo(t, pipeline)
	// The commit's trailers: dave approves by e-mail; carol's trailer is
	// overruled once the forge has her verdict.
	msg := "first\n\nReviewed-by: Dave <dave@example.com>\nApproved-by: carol\n"
	if out, err := exec.Command("git", "-C", dir, "-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-q", "--amend", "-m", msg).CombinedOutput(); err != nil {
		t.Fatalf("amend: %s", out)
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(out))
	if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: "shop", RepoURL: dir}); code != 200 {
		t.Fatalf("create project: %d %s", code, body)
	}
	if err := s.secrets.Put(context.Background(), "shop", "", ForgeTokenName, "forge-token", "test"); err != nil {
		t.Fatal(err)
	}

	// A fake GitHub Enterprise: it takes commit statuses and lists the
	// reviews of pull request 42 as told.
	var mu sync.Mutex
	reviews := `[{"id":1,"user":{"login":"bob"},"state":"APPROVED","submitted_at":"2025-03-02T10:00:00Z"}]`
	status := http.StatusOK
	var asked int
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer forge-token" {
			t.Errorf("forge got %s %s with auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/v3/repos/acme/shop/statuses/"+commit:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{}`)
		case r.Method == "GET" && r.URL.Path == "/api/v3/repos/acme/shop/pulls/42/reviews":
			mu.Lock()
			defer mu.Unlock()
			asked++
			w.WriteHeader(status)
			fmt.Fprint(w, reviews)
		default:
			t.Errorf("forge got %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	}))
	defer fake.Close()
	answer := func(code int, body string) {
		mu.Lock()
		defer mu.Unlock()
		status, reviews = code, body
	}

	hook := func(action, delivery string) gantry.RunID {
		t.Helper()
		repoJSON := fmt.Sprintf(`{"full_name":"acme/shop","clone_url":"%s/acme/shop.git","html_url":"%s/acme/shop"}`, fake.URL, fake.URL)
		payload := fmt.Sprintf(`{"action":%q,"number":42,"pull_request":{"number":42,"html_url":"%s/acme/shop/pull/42","user":{"login":"dev"},`+
			`"head":{"ref":"feature","sha":"%s","repo":%s},"base":{"ref":"main","sha":"%s","repo":%s}},"repository":%s,"sender":{"login":"dev"}}`,
			action, fake.URL, commit, repoJSON, commit, repoJSON, repoJSON)
		req, _ := http.NewRequest("POST", s.http.URL+"/api/v1/hooks/shop", strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", "sha256="+forge.Sign(s.hookSecret, []byte(payload)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var run gantry.Run
		if err := json.NewDecoder(resp.Body).Decode(&run); err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("pull_request webhook: %d %v", resp.StatusCode, err)
		}
		return run.ID
	}
	stored := func() []gantry.Review {
		t.Helper()
		c, err := s.store.Change(context.Background(), "shop", "pr-42")
		if err != nil {
			t.Fatal(err)
		}
		return c.Reviews
	}
	at := time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)
	bob := gantry.Review{Reviewer: "bob", State: gantry.ReviewApproved, At: at, Source: gantry.ReviewFromForge}

	// Triggered: the forge's review, before any agent has the run.
	first := hook("opened", "d-1")
	if d := cmp.Diff([]gantry.Review{bob}, stored()); d != "" {
		t.Fatalf("reviews when triggered (-want +got):\n%s", d)
	}

	// carol asks for changes after the push: the agent's report of the
	// change brings her verdict. Trailers in the commits (carol's
	// Approved-by, dave's Reviewed-by) are the author's words, and do not
	// count beside the forge's reviews.
	answer(http.StatusOK, `[{"id":1,"user":{"login":"bob"},"state":"APPROVED","submitted_at":"2025-03-02T10:00:00Z"},`+
		`{"id":2,"user":{"login":"carol"},"state":"CHANGES_REQUESTED","submitted_at":"2025-03-02T11:00:00Z"}]`)
	s.startAgent("reviews")
	if run := s.waitRun(first); run.Status != gantry.StatusSucceeded {
		t.Fatalf("run %s: %s %q", run.ID, run.Status, run.Reason)
	}
	carol := gantry.Review{Reviewer: "carol", State: gantry.ReviewChangesRequested, At: at.Add(time.Hour), Source: gantry.ReviewFromForge}
	withTrailers := stored()
	if d := cmp.Diff([]gantry.Review{bob, carol}, withTrailers); d != "" {
		t.Errorf("reviews after the agent's report (-want +got):\n%s", d)
	}

	// The forge fails: the next run is triggered and reported all the
	// same, and the reviews recorded stay.
	answer(http.StatusInternalServerError, `{"message":"Server Error"}`)
	second := hook("synchronize", "d-2")
	if d := cmp.Diff(withTrailers, stored()); d != "" {
		t.Errorf("reviews when the forge failed at trigger (-want +got):\n%s", d)
	}
	if run := s.waitRun(second); run.Status != gantry.StatusSucceeded {
		t.Fatalf("run %s: %s %q", run.ID, run.Status, run.Reason)
	}
	if d := cmp.Diff(withTrailers, stored()); d != "" {
		t.Errorf("reviews when the forge failed at the agent's report (-want +got):\n%s", d)
	}
	mu.Lock()
	defer mu.Unlock()
	// Each trigger asks, and each report of the change: from the
	// checkout, and with its classification.
	if asked < 4 {
		t.Errorf("the forge was asked for reviews %d times, want at least 4 (two triggers, two runs' reports)", asked)
	}
}

// An agent reports reviews from its checkout: only trailers are its to
// report, and a "forge" review it sends is dropped.
func TestFromSource(t *testing.T) {
	forged := gantry.Review{Reviewer: "mallory", State: gantry.ReviewApproved, Source: gantry.ReviewFromForge}
	trailer := gantry.Review{Reviewer: "dave@example.com", State: gantry.ReviewApproved, Source: gantry.ReviewFromTrailer}
	unmarked := gantry.Review{Reviewer: "erin", State: gantry.ReviewApproved}
	got := fromSource([]gantry.Review{forged, trailer, unmarked}, gantry.ReviewFromTrailer)
	if d := cmp.Diff([]gantry.Review{trailer}, got); d != "" {
		t.Errorf("trailers (-want +got):\n%s", d)
	}
}
