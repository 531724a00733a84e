package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// reviewFake is a forge's review API on loopback: it checks the token the
// way the forge would and serves pages of reviews from pages, by path.
type reviewFake struct {
	t     *testing.T
	forge Type
	url   string

	mu    sync.Mutex
	paths []string // every request, path and query as sent
	// serve answers a request that passed authentication.
	serve func(w http.ResponseWriter, r *http.Request)
}

func newReviewFake(t *testing.T, ft Type, serve func(f *reviewFake, w http.ResponseWriter, r *http.Request)) *reviewFake {
	f := &reviewFake{t: t, forge: ft}
	f.serve = func(w http.ResponseWriter, r *http.Request) { serve(f, w, r) }
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *reviewFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.RequestURI())
	f.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, `{"message":"Method Not Allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	var ok bool
	switch f.forge {
	case TypeGitHub:
		ok = r.Header.Get("Authorization") == "Bearer "+testToken && r.Header.Get("X-GitHub-Api-Version") != ""
	case TypeGitLab:
		ok = r.Header.Get("PRIVATE-TOKEN") == testToken && r.Header.Get("Authorization") == ""
	case TypeGitea:
		ok = r.Header.Get("Authorization") == "token "+testToken
	}
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	f.serve(w, r)
}

func (f *reviewFake) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

func reviewClient(t *testing.T, ft Type, base string) ReviewLister {
	t.Helper()
	c, err := NewReviewLister(Config{Type: ft, BaseURL: base, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGitHubReviews(t *testing.T) {
	pages := map[string]string{
		"1": `[
			{"id":1,"user":{"login":"bob"},"state":"CHANGES_REQUESTED","submitted_at":"2025-03-01T10:00:00Z","body":"no"},
			{"id":2,"user":{"login":"alice"},"state":"COMMENTED","submitted_at":"2025-03-01T11:00:00Z"},
			{"id":3,"user":{"login":"carol"},"state":"PENDING"},
			{"id":4,"user":{"login":"dave"},"state":"DISMISSED","submitted_at":"2025-03-01T11:30:00Z"}
		]`,
		"2": `[
			{"id":5,"user":{"login":"bob"},"state":"APPROVED","submitted_at":"2025-03-02T09:00:00+02:00"},
			{"id":6,"user":{"login":"alice"},"state":"APPROVED","submitted_at":"2025-03-02T12:00:00Z"},
			{"id":7,"user":{"login":"Bob"},"state":"COMMENTED","submitted_at":"2025-03-02T13:00:00Z"},
			{"id":8,"user":null,"state":"APPROVED","submitted_at":"2025-03-02T13:00:00Z"},
			{"id":9,"user":{"login":"erin"},"state":"COMMENTED","submitted_at":"2025-03-02T14:00:00Z"},
			{"id":10,"user":{"login":"bad login"},"state":"APPROVED","submitted_at":"2025-03-02T14:00:00Z"}
		]`,
	}
	f := newReviewFake(t, TypeGitHub, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v3/repos/acme/orders/pulls/42/reviews" {
			http.NotFound(w, r)
			return
		}
		page := r.URL.Query().Get("page")
		if page == "" {
			page = "1"
		}
		if page == "1" {
			w.Header().Add("Link", fmt.Sprintf(`<%s/api/v3/repositories/7/pulls/42/reviews?per_page=100&page=2>; rel="next", <%s/api/v3/repositories/7/pulls/42/reviews?per_page=100&page=2>; rel="last"`, f.url, f.url))
		}
		fmt.Fprint(w, pages[page])
	})
	// The fake answers the repository-ID form of the next page too.
	inner := f.serve
	f.serve = func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v3/repositories/7/") {
			r.URL.Path = "/api/v3/repos/acme/orders/pulls/42/reviews"
		}
		inner(w, r)
	}
	got, err := reviewClient(t, TypeGitHub, f.url+"/api/v3").Reviews(context.Background(), RepoRef{FullName: "acme/orders"}, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := []gantry.Review{
		{Reviewer: "bob", State: gantry.ReviewApproved, At: at("2025-03-02T07:00:00Z")},
		{Reviewer: "alice", State: gantry.ReviewApproved, At: at("2025-03-02T12:00:00Z")},
		{Reviewer: "erin", State: gantry.ReviewCommented, At: at("2025-03-02T14:00:00Z")},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("reviews (-want +got):\n%s", d)
	}
	wantReqs := []string{"/api/v3/repos/acme/orders/pulls/42/reviews?per_page=100", "/api/v3/repositories/7/pulls/42/reviews?per_page=100&page=2"}
	if d := cmp.Diff(wantReqs, f.requests()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

func TestGiteaReviews(t *testing.T) {
	// Gitea's server limit is 2 a page here, below what the client asks:
	// pages end by X-Total-Count, not by being short.
	all := []string{
		`{"id":1,"user":{"login":"bob"},"state":"REQUEST_CHANGES","submitted_at":"2025-03-01T10:00:00Z"}`,
		`{"id":2,"user":{"username":"alice"},"state":"COMMENT","submitted_at":"2025-03-01T11:00:00Z"}`,
		`{"id":3,"user":{"login":"carol"},"state":"APPROVED","dismissed":true,"submitted_at":"2025-03-01T12:00:00Z"}`,
		`{"id":4,"user":null,"state":"REQUEST_REVIEW","submitted_at":"2025-03-01T12:00:00Z"}`,
		`{"id":5,"user":{"login":"bob"},"state":"APPROVED","submitted_at":"2025-03-02T10:00:00Z","stale":true}`,
		`{"id":6,"user":{"login":"dave"},"state":"PENDING"}`,
	}
	f := newReviewFake(t, TypeGitea, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/repos/acme/orders/pulls/7/reviews" {
			http.NotFound(w, r)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		lo, hi := min((page-1)*2, len(all)), min(page*2, len(all))
		w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
		fmt.Fprint(w, "["+strings.Join(all[lo:hi], ",")+"]")
	})
	got, err := reviewClient(t, TypeGitea, f.url).Reviews(context.Background(), RepoRef{FullName: "acme/orders"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []gantry.Review{
		{Reviewer: "bob", State: gantry.ReviewApproved, At: at("2025-03-02T10:00:00Z")},
		{Reviewer: "alice", State: gantry.ReviewCommented, At: at("2025-03-01T11:00:00Z")},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("reviews (-want +got):\n%s", d)
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("%d requests, want 3: %v", n, f.requests())
	}
}

// TestGiteaReviewsNoTotal checks that without X-Total-Count the pages end
// at the first empty one.
func TestGiteaReviewsNoTotal(t *testing.T) {
	f := newReviewFake(t, TypeGitea, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "1" {
			fmt.Fprint(w, `[{"user":{"login":"bob"},"state":"APPROVED","submitted_at":"2025-03-02T10:00:00Z"}]`)
			return
		}
		fmt.Fprint(w, `[]`)
	})
	got, err := reviewClient(t, TypeGitea, f.url).Reviews(context.Background(), RepoRef{FullName: "acme/orders"}, 7)
	if err != nil || len(got) != 1 || got[0].Reviewer != "bob" {
		t.Fatalf("reviews %v, %v", got, err)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestGitLabReviews(t *testing.T) {
	f := newReviewFake(t, TypeGitLab, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
		switch r.URL.EscapedPath() {
		case "/api/v4/projects/group%2Fsub%2Forders/merge_requests/5/approvals", "/api/v4/projects/15/merge_requests/5/approvals":
			fmt.Fprint(w, `{"id":1,"iid":5,"approved":true,"approvals_required":2,"approved_by":[
				{"user":{"id":1,"username":"bob","name":"Bob"}},
				{"user":{"id":2,"username":"alice","name":"Alice"}},
				{"user":{"id":1,"username":"bob","name":"Bob"}},
				{"user":null}
			]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"404 Not found"}`)
		}
	})
	want := []gantry.Review{
		{Reviewer: "bob", State: gantry.ReviewApproved},
		{Reviewer: "alice", State: gantry.ReviewApproved},
	}
	for _, repo := range []RepoRef{{FullName: "group/sub/orders"}, {ID: "15"}} {
		got, err := reviewClient(t, TypeGitLab, f.url).Reviews(context.Background(), repo, 5)
		if err != nil {
			t.Fatalf("%v: %v", repo, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%v: reviews (-want +got):\n%s", repo, d)
		}
	}
}

func TestReviewsNone(t *testing.T) {
	for ft, body := range map[Type]string{TypeGitHub: `[]`, TypeGitea: `[]`, TypeGitLab: `{"approved_by":[]}`} {
		f := newReviewFake(t, ft, func(f *reviewFake, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
		repo := RepoRef{FullName: "acme/orders"}
		got, err := reviewClient(t, ft, f.url).Reviews(context.Background(), repo, 1)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("%s: %#v, %v; want an empty list", ft, got, err)
		}
	}
}

func TestReviewsErrors(t *testing.T) {
	big := "[" + strings.Repeat(`{"user":{"login":"bob"},"state":"COMMENTED","body":"`+strings.Repeat("x", 1<<16)+`"},`, maxReviewPage>>16) + "{}]"
	tests := []struct {
		name  string
		forge Type
		serve func(f *reviewFake, w http.ResponseWriter, r *http.Request)
		kind  string
		msg   string
	}{
		{"github not found", TypeGitHub, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
		}, gantry.ENotFound, "github answered 404: Not Found"},
		{"gitea server error", TypeGitea, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<h1>502</h1>")
		}, gantry.EUnavailable, "gitea answered 502"},
		{"gitlab token echoed", TypeGitLab, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"token `+testToken+` is odd"}`)
		}, gantry.EInvalid, "token [REDACTED] is odd"},
		{"github not json", TypeGitHub, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"message":"an object, not a list"}`)
		}, gantry.EUnavailable, "decode reviews"},
		{"gitlab not json", TypeGitLab, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `[`)
		}, gantry.EUnavailable, "decode approvals"},
		{"page too big", TypeGitHub, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, big)
		}, gantry.EUnavailable, "answer is over"},
		{"github pages without end", TypeGitHub, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "<"+f.url+r.URL.Path+"?page=n>; rel=\"next\"")
			fmt.Fprint(w, `[]`)
		}, gantry.EUnavailable, "more than 20 pages"},
		{"gitea pages without end", TypeGitea, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `[{"user":{"login":"bob"},"state":"COMMENT"}]`)
		}, gantry.EUnavailable, "more than 20 pages"},
		{"next page elsewhere", TypeGitHub, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", `<https://evil.example/repos/acme/orders/pulls/1/reviews?page=2>; rel="next"`)
			fmt.Fprint(w, `[]`)
		}, gantry.EUnavailable, "is not on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newReviewFake(t, tt.forge, tt.serve)
			_, err := reviewClient(t, tt.forge, f.url).Reviews(context.Background(), RepoRef{FullName: "acme/orders"}, 1)
			if err == nil {
				t.Fatal("Reviews succeeded")
			}
			if k := gantry.ErrorKind(err); k != tt.kind {
				t.Errorf("kind %q, want %q (%v)", k, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
}

func TestReviewsWrongToken(t *testing.T) {
	for _, ft := range []Type{TypeGitHub, TypeGitLab, TypeGitea} {
		f := newReviewFake(t, ft, func(f *reviewFake, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
		c, err := NewReviewLister(Config{Type: ft, BaseURL: f.url, Token: "wrong-token-value"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Reviews(context.Background(), RepoRef{FullName: "acme/orders"}, 1)
		if gantry.ErrorKind(err) != gantry.EForbidden || !strings.Contains(err.Error(), "401: Bad credentials") {
			t.Errorf("%s: %v", ft, err)
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v is not an *APIError 401", ft, err)
		}
		if strings.Contains(err.Error(), "wrong-token-value") {
			t.Errorf("%s: error %q holds the token", ft, err)
		}
	}
}

func TestReviewsTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newReviewFake(t, TypeGitHub, func(f *reviewFake, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c, err := NewGitHub(Config{BaseURL: f.url, Token: testToken, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Reviews(context.Background(), RepoRef{FullName: "acme/orders"}, 1)
	if gantry.ErrorKind(err) != gantry.EUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung forge: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Reviews(ctx, RepoRef{FullName: "acme/orders"}, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}

func TestReviewsRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		forge  Type
		repo   RepoRef
		number int
	}{
		{TypeGitHub, RepoRef{FullName: "acme/orders"}, 0},
		{TypeGitHub, RepoRef{FullName: "acme"}, 1},
		{TypeGitea, RepoRef{FullName: "../x"}, 1},
		{TypeGitea, RepoRef{FullName: "acme/orders"}, -1},
		{TypeGitLab, RepoRef{ID: "15; x"}, 1},
		{TypeGitLab, RepoRef{FullName: "orders"}, 1},
	}
	for _, tt := range tests {
		f := newReviewFake(t, tt.forge, func(f *reviewFake, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
		_, err := reviewClient(t, tt.forge, f.url).Reviews(context.Background(), tt.repo, tt.number)
		if gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("%s %v #%d: %v, want EInvalid", tt.forge, tt.repo, tt.number, err)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("%s %v #%d: %d requests sent", tt.forge, tt.repo, tt.number, n)
		}
	}
}

func TestLatestReviews(t *testing.T) {
	t1, t2, t3 := at("2025-01-01T00:00:00Z"), at("2025-01-02T00:00:00Z"), at("2025-01-03T00:00:00Z")
	tests := []struct {
		name string
		in   []forgeReview
		want []gantry.Review
	}{
		{"none", nil, []gantry.Review{}},
		{"latest verdict wins", []forgeReview{{"bob", gantry.ReviewApproved, t1}, {"bob", gantry.ReviewChangesRequested, t2}},
			[]gantry.Review{{Reviewer: "bob", State: gantry.ReviewChangesRequested, At: t2}}},
		{"comment keeps a verdict", []forgeReview{{"bob", gantry.ReviewApproved, t1}, {"bob", gantry.ReviewCommented, t2}},
			[]gantry.Review{{Reviewer: "bob", State: gantry.ReviewApproved, At: t1}}},
		{"comments only", []forgeReview{{"bob", gantry.ReviewCommented, t1}, {"bob", gantry.ReviewCommented, t2}},
			[]gantry.Review{{Reviewer: "bob", State: gantry.ReviewCommented, At: t2}}},
		{"verdict after comment", []forgeReview{{"bob", gantry.ReviewCommented, t1}, {"bob", gantry.ReviewApproved, t2}},
			[]gantry.Review{{Reviewer: "bob", State: gantry.ReviewApproved, At: t2}}},
		{"time order over list order", []forgeReview{{"bob", gantry.ReviewCommented, t3}, {"bob", gantry.ReviewApproved, t2}, {"bob", gantry.ReviewChangesRequested, t1}},
			[]gantry.Review{{Reviewer: "bob", State: gantry.ReviewApproved, At: t2}}},
		{"list order without times", []forgeReview{{"bob", gantry.ReviewApproved, t2}, {"bob", gantry.ReviewChangesRequested, time.Time{}}},
			[]gantry.Review{{Reviewer: "bob", State: gantry.ReviewChangesRequested}}},
		{"logins without case", []forgeReview{{"Bob", gantry.ReviewChangesRequested, t1}, {"bob", gantry.ReviewApproved, t2}},
			[]gantry.Review{{Reviewer: "bob", State: gantry.ReviewApproved, At: t2}}},
		{"ignored and invalid", []forgeReview{{"bob", "", t1}, {"", gantry.ReviewApproved, t1}, {"a\x00b", gantry.ReviewApproved, t1}, {"a b", gantry.ReviewApproved, t1}, {strings.Repeat("a", 256), gantry.ReviewApproved, t1}},
			[]gantry.Review{}},
		{"first seen first", []forgeReview{{"carol", gantry.ReviewApproved, t1}, {"bob", gantry.ReviewApproved, t2}, {"carol", gantry.ReviewChangesRequested, t3}},
			[]gantry.Review{{Reviewer: "carol", State: gantry.ReviewChangesRequested, At: t3}, {Reviewer: "bob", State: gantry.ReviewApproved, At: t2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, latestReviews(tt.in)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{`<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"`}, "https://api.github.com/x?page=2"},
		{[]string{`<https://a/x?page=1>; rel="prev"`, `<https://a/x?page=3>; rel=next`}, "https://a/x?page=3"},
		{[]string{`<https://a/x?page=3>; title="t"; rel="last next"`}, "https://a/x?page=3"},
		{[]string{`https://a/x; rel="next"`}, ""},
		{[]string{`<https://a/x>; rel="nextish"`}, ""},
		{[]string{`<>; rel="next"`}, ""},
	}
	for _, tt := range tests {
		if got := nextLink(tt.in); got != tt.want {
			t.Errorf("nextLink(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNextPageStaysOnTheAPI(t *testing.T) {
	c, err := NewGitHub(Config{BaseURL: "https://ghe.example/api/v3", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	for link, ok := range map[string]bool{
		`<https://ghe.example/api/v3/repositories/1/pulls/2/reviews?page=2>; rel="next"`: true,
		`<https://GHE.example/api/v3/x?page=2>; rel="next"`:                              true,
		`<http://ghe.example/api/v3/x?page=2>; rel="next"`:                               false,
		`<https://ghe.example.evil/api/v3/x>; rel="next"`:                                false,
		`<https://ghe.example/api/v3x/x>; rel="next"`:                                    false,
		`<https://ghe.example/other>; rel="next"`:                                        false,
		`<https://user:pw@ghe.example/api/v3/x>; rel="next"`:                             false,
		`<//evil.example/api/v3/x>; rel="next"`:                                          false,
		`<https://ghe.example/api/v3/../../x>; rel="next"`:                               false,
	} {
		_, err := c.api.nextPage([]string{link})
		if (err == nil) != ok {
			t.Errorf("%s: %v, want accepted %v", link, err, ok)
		}
	}
}
